"""The compute manager alone on the component tester: what the power and thermal managers and the
EPS would offer it, as typed values put in through its ports, and its commands sent by name.

The outlook is a plain grant (no orbit picture, so no onboard plan: the grant rules), sunlit and
unshed, the thermal state uncapped: each test changes what it is about."""
from __future__ import annotations

from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gridfree.flight.compute.manager import ComputeManager
from gridfree.flight.core.modes import Mode
from gridfree.flight.core.tester import ComponentTester
from gridfree.flight.power.outlook import PowerLimits, PowerOutlook
from gridfree.flight.thermal.state import ThermalState
from gridfree.protocols.compute import JobSpec, unpack_result

EPOCH = 1_774_018_000.0
KEY = Ed25519PrivateKey.generate()  # the node's ledger signing key
LIMITS = PowerLimits(shed_soc=0.30, dod_limit=0.30, max_discharge_W=6000.0, orbit_period_s=5677.0)
OUTLOOK = PowerOutlook(t=EPOCH, shed=False, grant_W=3000.0, grant_energy_Wh=2000.0, segments=(), eclipses=(),
                       array_sun_W=0.0, essentials_W=400.0, soc=0.8, soc_sigma=0.01, soc_history=(),
                       capacity_Wh=20_000.0, limits=LIMITS, initialised=True)
THERMAL = ThermalState(t=EPOCH, heater_on=False, throttled=False, utilisation_cap=1.0, throttle_C=70.0)


def manager(tmp_path, *, nominal=True, quotas=(), outlook=OUTLOOK, thermal=THERMAL, **kwargs) -> ComponentTester:
    """A compute manager on `tmp_path`'s state, offered `outlook` and `thermal`, with tenants'
    quotas set; `kwargs` go to its constructor (matmul, energy_meter)."""
    t = ComponentTester(ComputeManager("compute", 0x0400, state_dir=tmp_path / "state", signing_key=KEY, **kwargs),
                        t0=EPOCH)
    if outlook is not None:
        t.send("outlookIn", outlook)
    if thermal is not None:
        t.send("thermalIn", thermal)
    if nominal:
        t.enter_mode(Mode.NOMINAL)
    for tenant in quotas:
        assert t.command("SetQuota", tenant=tenant, tokens=10_000_000).ok
    return t


def offer(t: ComponentTester, **changes) -> None:
    """The power manager's outlook, changed as given, as it would publish it."""
    t.send("outlookIn", replace(OUTLOOK, t=t.clock.now(), **changes))


def submit(t: ComponentTester, spec: JobSpec, priority: int = 1, deadline_unix_s: float = 0.0):
    return t.command("Submit", job_id=spec.job_id, tenant=spec.tenant, kind=spec.kind.name, seed=spec.seed,
                     size=spec.size, batch=spec.batch, chunks=spec.chunks, priority=priority,
                     deadline_unix_s=deadline_unix_s, threshold=spec.threshold, input_id=spec.input_id)


def tick(t: ComponentTester, seconds: float = 1.0, each=None) -> None:
    """The 1 Hz decision for `seconds` of node time from now, and the 0.1 Hz scrub on its own beat."""
    for _ in range(int(round(seconds))):
        now = t.clock.now() + 1.0
        t.run("slow", now)
        if int(now - EPOCH) % 10 == 0:
            t.run("background", now)
        if each:
            each()


def run_until_idle(t: ComponentTester, limit_s: float = 400.0) -> None:
    """Tick until nothing is queued or computing (every job done or dropped)."""
    for _ in range(int(limit_s)):
        tick(t)
        if t.tlm("JobsQueued") == 0 and t.tlm("ActiveJob") == 0:
            return
    raise AssertionError(f"jobs still queued after {limit_s} s")


def results(t: ComponentTester) -> dict[int, bytes]:
    """The job results the manager sent down, by job id."""
    return {unpack_result(d.data)[0]: d.data for d in t.sent("downlinkOut") if d.data[:4] == b"GFRS"}


def clocks(t: ComponentTester) -> list[float]:
    """Every clock the manager commanded the payload to, in order."""
    return [c.utilisation for c in t.sent("payloadOut")]
