"""The real node process flying the rig's truth in lockstep, for benchmarks that measure it on the
rig's emulated board.

It is the HIL runner's session (`runner.Session`: truth, emulated board on a pty pair, an
unmodified `gridfree node` process with keys, stepped through its lockstep clock) with the ground
client on the node's radio, driven step by step so a benchmark can act between steps and read the
truth. The ground never imports flight code: the node is a process, commanded as an operator
commands it (hazardous commands armed through the same SA).
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from gridfree.ground.hil.runner import Session, _dictionary
from gridfree.ground.hil.scenario import Scenario
from gridfree.ground.link.client import GroundClient
from gridfree.protocols.compute import JobSpec

EPOCH = 1_774_018_000.0  # iss500 is in sunlight here for well over ten minutes
TENANT = 3
QUOTA_TOKENS = 1_000_000_000
SETUP_S = 1.0  # when the mode and quota go up: once the node has read its battery


class Rig:
    """A session and its ground client; `truth` is the rig's, read between steps. No orbit is
    uploaded: without one the node has no plan and runs compute at the power manager's grant,
    the lever a benchmark can set (the DoD limit) to ask for a clock."""

    def __init__(self, workdir: Path, work_scale: float, soc: float, step_s: float):
        doc = {"name": "bench", "orbit": "iss500", "step_s": step_s, "initial_soc": soc, "compute_utilisation": 0.0,
               "work_scale": work_scale, "duration_h": 24.0, "upload_orbit": False,
               "start": datetime.fromtimestamp(EPOCH, timezone.utc).isoformat(),
               "command": [{"at_h": SETUP_S / 3600, "name": "node.SetMode", "args": {"mode": "NOMINAL"}},
                           {"at_h": SETUP_S / 3600, "name": "compute.SetQuota",
                            "args": {"tenant": TENANT, "tokens": QUOTA_TOKENS}}]}
        self.dictionary = _dictionary()
        self.session = Session(Scenario.from_dict(doc), workdir, "tcp://127.0.0.1:0?listen=1")
        self.ground = None
        try:
            node = self.session.addresses
            self.ground = GroundClient(node.radio, self.dictionary, apid=node.apid,
                                       security=self.session.ground_security()).connect()
            self.session.attach(self.ground, self.dictionary.parameter_by_name["power.UnderVoltageV"].default)
            self.truth = self.session.truth
            setup = self.run(60.0, until=lambda: len(self.session.seen.commands) >= 3 and all(
                h.final for _, h in self.session.seen.commands))
            if not all(h.completed for _, h in self.session.seen.commands):
                raise RuntimeError(f"the node did not take its setup in {setup:.0f} s: "
                                   + "; ".join(h.describe() for _, h in self.session.seen.commands))
        except BaseException:
            self.stop()
            raise

    def run(self, seconds: float, until: Callable[[], bool] | None = None) -> float:
        """Step truth and node in lockstep for up to `seconds`, stopping after the first step at
        which `until()` holds; returns the simulated seconds run."""
        t0 = self.truth.time_s
        for _ in range(int(round(seconds / self.session.scenario.step_s))):
            self.session.step()
            if until is not None and until():
                break
        return self.truth.time_s - t0

    def tlm(self, name: str):
        return self.ground.value(name)

    def parameter_default(self, name: str) -> float:
        return self.dictionary.parameter_by_name[name].default

    def set_param(self, name: str, value: float) -> None:
        """Set a node parameter as the operator does (armed: the power limits are hazardous)."""
        h = self.ground.send("params.Set", arm=True, **{name: value})
        self.run(10.0, until=lambda: h.final)
        if not h.completed:
            raise RuntimeError(f"params.Set {name} = {value}: {h.describe()}")

    def submit(self, spec: JobSpec, priority: int = 1):
        return self.ground.send("compute.Submit", job_id=spec.job_id, tenant=spec.tenant, kind=spec.kind.name,
                                seed=spec.seed, size=spec.size, batch=spec.batch, chunks=spec.chunks,
                                priority=priority, deadline_unix_s=0.0, threshold=spec.threshold,
                                input_id=spec.input_id)

    def events(self, name: str) -> list[dict]:
        """The arguments of every event `name` the ground heard."""
        return [e.args for e in self.ground.events if e.event is not None and e.event.name == name]

    def stop(self) -> None:
        if self.ground is not None:
            self.ground.close()
        self.session.close()


def fly(workdir: Path, work_scale: float = 1.0, soc: float = 0.8, step_s: float = 1.0) -> Rig:
    """The rig's truth (iss500, in sunlight) and the node on it in NOMINAL, handing the board items
    of `work_scale` board operations per host operation, with a tenant (TENANT) allowed to submit."""
    return Rig(Path(workdir), work_scale, soc, step_s)
