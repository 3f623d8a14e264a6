"""Running a scenario: the rig process owns the truth, the emulated board and the node's clock.

The node is an unmodified `gridfree node` process in lockstep mode, wired as on a bench: its
hardware line is a pty pair to the emulated board, its radio a TCP link to the rig's ground
client, its clock a TCP link the rig steps. Each step the rig moves the truth forward, applies the
faults that fall due, then tells the node the new time and waits until it has caught up, so the
run is repeatable and as fast as node and physics allow.
"""
from __future__ import annotations

import re
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gridfree.ground.hil.board import BoardServer, EmulatedBoard
from gridfree.ground.hil.orbit import orbit_determination, preset
from gridfree.ground.hil.power import Battery, Loads
from gridfree.ground.hil.scenario import Fault, Scenario, ScheduledCommand
from gridfree.ground.hil.truth import Truth
from gridfree.ground.link.client import GroundClient
from gridfree.ground.compute.verify import verify
from gridfree.protocols.compute import RESULT_MAGIC, JobSpec, Kind, unpack_result
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.links import open_link
from gridfree.protocols.links.ptypair import PtyPair

NODE_TOML = """[node]
name = "hil-node"
apid = 100
clock = "lockstep"
state_dir = "state"
[radio]
url = "{radio}"
[clock]
url = "tcp://127.0.0.1:0?listen=1"
[hardware]
driver = "rig"
url = "{hw}"
"""
RECORD_EVERY_S = 30.0


class BitErrors:
    """A pty-pair transform that flips each bit with probability `ber` (0 = a clean line)."""

    def __init__(self, seed: int = 2):
        self.rng = np.random.default_rng(seed)
        self.ber = 0.0
        self.flipped = 0

    def __call__(self, data: bytes) -> bytes:
        if self.ber <= 0.0:
            return data
        n = self.rng.binomial(8 * len(data), self.ber)
        if n == 0:
            return data
        buf = bytearray(data)
        for bit in self.rng.integers(0, 8 * len(data), n):
            buf[bit // 8] ^= 1 << (bit % 8)
        self.flipped += int(n)
        return bytes(buf)


@dataclass
class Record:
    """Time series sampled every RECORD_EVERY_S of simulated time."""

    t_h: list = field(default_factory=list)
    soc: list = field(default_factory=list)
    bus_V: list = field(default_factory=list)
    solar_W: list = field(default_factory=list)
    load_W: list = field(default_factory=list)
    sunlit: list = field(default_factory=list)
    temps_C: dict = field(default_factory=dict)
    node_mode: list = field(default_factory=list)
    node_battery_V: list = field(default_factory=list)
    node_soc: list = field(default_factory=list)  # the node's own estimate, as downlinked (0..1)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {k: np.asarray(v, float) for k, v in vars(self).items() if isinstance(v, list)}
        out.update({f"temp_{k}_C": np.asarray(v, float) for k, v in self.temps_C.items()})
        return out


@dataclass
class Observations:
    """What the rig sees at full step resolution, for the criteria the 30 s record is too coarse for."""

    edges: list = field(default_factory=list)  # (t, entering) where the truth's sunlit fraction crosses 1/2
    predictions: list = field(default_factory=list)  # (t observed, entry, exit) the node downlinked
    uv_crossed_s: float | None = None  # first time the truth battery fell below the node's threshold
    events: list = field(default_factory=list)  # the node's EventRecords as the ground decoded them
    commands: list = field(default_factory=list)  # (ScheduledCommand, CommandHandle)
    downlinked: dict = field(default_factory=dict)  # PUS 13 transfers the ground reassembled, by transaction id

    def eclipse_errors(self) -> list[float]:
        """For each truth edge, the worst prediction of it the node downlinked in the orbit before."""
        out = []
        for t_edge, entering in self.edges:
            preds = [entry if entering else exit_ for t_obs, entry, exit_ in self.predictions
                     if t_obs < t_edge - 60.0 and abs((entry if entering else exit_) - t_edge) < 1800.0]
            if preds:
                out.append(max(abs(p - t_edge) for p in preds))
        return out

    def uv_to_safe_s(self) -> float | None:
        if self.uv_crossed_s is None:
            return None
        trips = [e.time_s for e in self.events if e.event is not None and e.event.name == "power.UnderVoltage"]
        return min(trips) - self.uv_crossed_s if trips else float("inf")


@dataclass
class RunResult:
    scenario: Scenario
    record: Record
    truth: Truth
    wall_s: float
    checks: list[tuple[str, bool, str]]
    observed: Observations
    downlink: dict = field(default_factory=dict)  # the ground decoder's statistics
    bits_flipped: int = 0

    @property
    def downlinked(self) -> dict:
        return self.observed.downlinked

    @property
    def node_events(self) -> list[str]:
        t0 = self.scenario.start_unix_s
        return [f"{e.time_s - t0:9.1f} s {e.text}" for e in self.observed.events]

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.checks)

    @property
    def speedup(self) -> float:
        return self.scenario.duration_s / self.wall_s


def _apply(fault: Fault, truth: Truth, board: EmulatedBoard) -> str:
    f = board.faults
    if fault.kind == "sensor_stuck":
        f.stuck[fault.register] = fault.value
    elif fault.kind == "sensor_noisy":
        f.extra_sigma[fault.register] = fault.sigma
    elif fault.kind == "sensor_bias":
        f.bias[fault.register] = fault.bias
    elif fault.kind == "battery_cell_loss":
        truth.battery.cells_lost += fault.count
    elif fault.kind == "array_string_loss":
        truth.array.strings_lost = min(truth.array.strings, truth.array.strings_lost + fault.count)
    elif fault.kind == "heater_stuck_on":
        truth.loads.heaters_on = True
        truth.loads.heater_W = truth.loads.heater_W or Loads().heater_W
    elif fault.kind == "serial_silent":
        f.silent = True
    elif fault.kind == "bus_short":
        truth.loads.bus_W += fault.value
    return fault.kind


def _clear(fault: Fault, truth: Truth, board: EmulatedBoard) -> None:
    """The end of a fault that has a duration."""
    if fault.kind == "serial_silent":
        board.faults.silent = False
    elif fault.kind == "bus_short":
        truth.loads.bus_W -= fault.value
    elif fault.kind == "array_string_loss":  # a shadowing boom, a tripped string that recovers
        truth.array.strings_lost = max(0, truth.array.strings_lost - min(fault.count, truth.array.strings))
    elif fault.kind == "heater_stuck_on":
        truth.loads.heaters_on = False


def _upload_orbit(scenario: Scenario, ground: GroundClient):
    """Orbit determination's product, as operations would uplink it: mean elements at the start."""
    m = orbit_determination(preset(scenario.orbit, scenario.start_unix_s), scenario.start_unix_s)
    return ground.send("power.SetOrbit", epoch_unix_s=m.epoch_unix_s, a_km=m.a_km, e=0.0, i_deg=m.i_deg,
                       raan_deg=m.raan_deg, argp_deg=0.0, mean_anomaly_deg=m.u_deg, nodal_period_s=m.nodal_period_s)


def _dictionary() -> Dictionary:
    out = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "dict"], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return Dictionary.from_json(out)


class Session:
    """One scenario's bench: the truth, the emulated board on a pty pair, a lockstep node process
    and the link that steps its clock. The caller brings the radio: `radio_url` is what the node
    is configured with, and `attach` takes the ground client on the other end. `gridfree rig run`
    steps it as fast as it goes; `gridfree demo` paces it for an operator to watch."""

    def __init__(self, scenario: Scenario, workdir: Path, radio_url: str, bit_errors: BitErrors | None = None):
        workdir = Path(workdir).resolve()  # the node runs in it and is told its config's path
        workdir.mkdir(parents=True, exist_ok=True)
        self.scenario, self.workdir, self.radio_url = scenario, workdir, radio_url
        self.truth = Truth.from_elements(preset(scenario.orbit, scenario.start_unix_s), scenario.start_unix_s,
                                         battery=Battery(soc=scenario.initial_soc),
                                         loads=Loads(compute_utilisation=scenario.compute_utilisation, board=scenario.board))
        self.board = EmulatedBoard(self.truth, seed=1)
        self.bit_errors = bit_errors or BitErrors()
        self.record, self.seen = Record(), Observations()
        self.ground: GroundClient | None = None
        self.k = 0
        self.steps = int(round(scenario.duration_s / scenario.step_s))
        self._faults = sorted(scenario.faults, key=lambda f: f.at_s)
        self._commands = sorted(scenario.commands, key=lambda c: c.at_s)
        self._ending: list[tuple[float, Fault]] = []
        self._prev_f = self.truth.sunlit_fraction
        self._pair = PtyPair().start()
        self.server = BoardServer(self.board, open_link(self._pair.paths[0])).start()
        (workdir / "node.toml").write_text(NODE_TOML.format(hw=self._pair.paths[1], radio=radio_url))
        self.node = subprocess.Popen([sys.executable, "-m", "gridfree.flight", "--config", str(workdir / "node.toml"),
                                      "--no-supervise"], stdout=subprocess.PIPE, text=True, cwd=workdir)
        try:
            self.node_radio = re.search(r"radio on (\S+),", self.node.stdout.readline()).group(1)
            self.clock = open_link(re.search(r"lockstep clock on (\S+)", self.node.stdout.readline()).group(1))
        except (AttributeError, OSError):
            self.close()
            raise RuntimeError("the node did not start in lockstep") from None

    def attach(self, ground: GroundClient, threshold_V: float) -> None:
        """The ground client on the node's radio: it records events, uploads the orbit and sends
        the scenario's commands; `threshold_V` is the node's under-voltage setting."""
        self.ground, self.threshold_V = ground, threshold_V
        ground.subscribe(lambda kind, item: self.seen.events.append(item) if kind == "event" else None)
        if self.scenario.upload_orbit:
            self.seen.commands.append((ScheduledCommand(0.0, "power.SetOrbit", {}, "completed"),
                                       _upload_orbit(self.scenario, ground)))

    @property
    def done(self) -> bool:
        return self.k >= self.steps

    def step(self) -> None:
        """One lockstep step: faults and commands that fall due, the truth, then the node."""
        s, truth, board, seen = self.scenario, self.truth, self.board, self.seen
        self.k += 1
        elapsed = self.k * s.step_s
        while self._faults and self._faults[0].at_s <= elapsed:
            fault = self._faults.pop(0)
            if fault.kind == "radio_ber":
                self.bit_errors.ber = fault.value
            else:
                with board.lock:
                    _apply(fault, truth, board)
            if fault.duration_s:
                self._ending.append((elapsed + fault.duration_s, fault))
        for due in [e for e in self._ending if e[0] <= elapsed]:
            self._ending.remove(due)
            if due[1].kind == "radio_ber":
                self.bit_errors.ber = 0.0
            else:
                with board.lock:
                    _clear(due[1], truth, board)
        while self._commands and self._commands[0].at_s <= elapsed:
            c = self._commands.pop(0)
            seen.commands.append((c, self.ground.send(c.name, **c.args)))
        with board.lock:
            truth.step(s.step_s)
        _step_clock(self.clock, truth.time_s, elapsed)
        f, v = truth.sunlit_fraction, truth.bus_V
        if (self._prev_f < 0.5) != (f < 0.5):
            seen.edges.append((truth.time_s - s.step_s * (f - 0.5) / (f - self._prev_f), f < 0.5))
        if seen.uv_crossed_s is None and v < self.threshold_V:
            seen.uv_crossed_s = truth.time_s - s.step_s  # the earliest it can have crossed
        self._prev_f = f
        if self.k % max(1, int(round(RECORD_EVERY_S / s.step_s))) == 0:
            self._sample(elapsed)

    def _sample(self, elapsed: float) -> None:
        truth, ground, record = self.truth, self.ground, self.record
        entry, exit_ = ground.value("power.NextEclipseEntry"), ground.value("power.NextEclipseExit")
        if entry and exit_:
            self.seen.predictions.append((truth.time_s, entry, exit_))
        record.t_h.append(elapsed / 3600)
        record.soc.append(truth.battery.soc)
        record.bus_V.append(truth.bus_V)
        record.solar_W.append(truth.solar_W)
        record.load_W.append(truth.loads.total_W)
        record.sunlit.append(truth.sunlit_fraction)
        for name, node in truth.thermal.nodes.items():
            record.temps_C.setdefault(name, []).append(node.temp_C)
        nan = float("nan")  # not downlinked yet
        record.node_mode.append(ground.value("node.Mode") or 0)
        record.node_battery_V.append(ground.value("eps.BatteryVoltage") or nan)
        record.node_soc.append((ground.value("power.Soc") or nan) / 100.0)

    def result(self, wall_s: float) -> RunResult:
        self.ground.wait_until(lambda: all(h.completed or h.failed for _, h in self.seen.commands), 1.0)
        s = self.scenario
        # What was simulated, for reports of runs stopped early.
        s = Scenario(**{**vars(s), "duration_s": self.k * s.step_s}) if self.k < self.steps else s
        self.seen.downlinked = dict(self.ground.completed_transfers)
        return RunResult(s, self.record, self.truth, wall_s, evaluate(s, self.record, self.truth, self.seen),
                         self.seen, asdict(self.ground.decoder.stats), self.bit_errors.flipped)

    def close(self) -> None:
        if self.node.poll() is None:
            self.node.terminate()
        try:
            self.node.wait(10)
        except subprocess.TimeoutExpired:
            self.node.kill()
            self.node.wait(5)
        self.node.stdout.close()
        if getattr(self, "clock", None) is not None:
            self.clock.close()
        self.server.stop()
        self.server.link.close()
        self._pair.stop()


def run(scenario: Scenario, workdir: Path, progress=None) -> RunResult:
    """As fast as node and physics allow, with the radio on a pty pair that can flip bits."""
    dictionary = _dictionary()
    bit_errors = BitErrors()
    with PtyPair(transform_ab=bit_errors, transform_ba=bit_errors) as radio:
        session = Session(scenario, workdir, radio.paths[1], bit_errors)
        try:
            with GroundClient(radio.paths[0], dictionary) as ground:
                session.attach(ground, dictionary.parameter_by_name["power.UnderVoltageV"].default)
                wall0 = time.perf_counter()
                every = max(1, int(round(RECORD_EVERY_S / scenario.step_s)))
                while not session.done:
                    session.step()
                    if progress and session.k % every == 0:
                        progress(session.k * scenario.step_s, scenario.duration_s)
                return session.result(time.perf_counter() - wall0)
        finally:
            session.close()


def _step_clock(clock, t: float, elapsed: float) -> None:
    clock.write(struct.pack(">d", t))
    got = b""
    while len(got) < 8:
        chunk = clock.read(8 - len(got), timeout=10)
        if not chunk:
            raise RuntimeError(f"the node stopped answering the clock at {elapsed:.0f} s")
        got += chunk


def max_dod(rec: Record, period_s: float) -> float:
    """The deepest discharge from the highest SOC within any one-orbit window of the record."""
    soc, t = np.asarray(rec.soc), np.asarray(rec.t_h) * 3600.0
    worst, start = 0.0, 0
    for i in range(len(soc)):
        while t[start] < t[i] - period_s:
            start += 1
        worst = max(worst, float(soc[start:i + 1].max() - soc[i]))
    return worst


def evaluate(s: Scenario, rec: Record, truth: Truth, seen: Observations) -> list[tuple[str, bool, str]]:
    c, out = s.criteria, []
    if "min_soc" in c:
        low = min(rec.soc) if rec.soc else truth.battery.soc
        out.append(("min_soc", low >= c["min_soc"], f"lowest SOC {low:.3f}, limit {c['min_soc']}"))
    if "max_dod_pct" in c:
        dod = 100 * max_dod(rec, preset(s.orbit, s.start_unix_s).period_s) if rec.soc else 0.0
        out.append(("max_dod_pct", dod <= c["max_dod_pct"], f"deepest discharge within an orbit {dod:.1f} %, "
                                                             f"limit {c['max_dod_pct']} %"))
    for key, node, sign in (("max_payload_temp_C", "payload", 1), ("max_battery_temp_C", "battery", 1),
                            ("min_battery_temp_C", "battery", -1)):
        if key in c:
            temps = rec.temps_C.get(node, [truth.thermal.nodes[node].temp_C])
            worst = max(temps) if sign > 0 else min(temps)
            ok = worst <= c[key] if sign > 0 else worst >= c[key]
            out.append((key, ok, f"{node} reached {worst:.1f} C, limit {c[key]}"))
    if c.get("no_undervoltage"):
        unserved = truth.ledger.unserved_Wh
        trips = sum(1 for e in seen.events if e.event is not None and e.event.name == "power.UnderVoltage")
        out.append(("no_undervoltage", unserved < 1e-6 and trips == 0,
                    f"{unserved:.3f} Wh of load not served, {trips} under-voltage events"))
    if "max_eclipse_err_s" in c:
        errs = seen.eclipse_errors()
        worst = max(errs) if errs else float("inf")
        out.append(("max_eclipse_err_s", worst <= c["max_eclipse_err_s"],
                    f"worst predicted shadow edge {worst:.2f} s off, over {len(errs)} edges"))
    if "max_uv_to_safe_s" in c:
        delay = seen.uv_to_safe_s()
        ok = delay is not None and delay <= c["max_uv_to_safe_s"]
        out.append(("max_uv_to_safe_s", ok, "the battery never crossed the threshold" if delay is None else
                    f"SAFE {1000 * delay:.0f} ms after the crossing" if delay >= 0 else
                    f"SAFE {-1000 * delay:.0f} ms before the truth crossed (the node's noisy reading crossed first)"))
    for cmd, handle in seen.commands:
        got = "completed" if handle.completed else "failed" if handle.failed else "no answer"
        out.append((f"command {cmd.name} at {cmd.at_s / 3600:.2f} h", got == cmd.expect,
                    f"{handle.describe()}; expected {cmd.expect}"))
    if c.get("results_verified"):
        out.append(("results_verified", *_results_verified(s, seen)))
    if "final_mode" in c:
        modes = {0: "BOOT", 1: "SAFE", 2: "NOMINAL"}
        final = modes.get(int(rec.node_mode[-1]) if rec.node_mode else -1, "unknown")
        out.append(("final_mode", final == c["final_mode"], f"node ended in {final}"))
    return out


def _results_verified(s: Scenario, seen: Observations) -> tuple[bool, str]:
    """Every job the scenario submitted came down and passed the ground's check of its contract, or
    was dropped with compute.JobFailed: a campaign may cost work, never a wrong result. Results are
    checked here, on the ground, from the job's seed; the node's word counts for nothing."""
    specs = {}
    for c in s.commands:
        if c.name == "compute.Submit" and c.expect == "completed":
            try:  # a Submit the dictionary would refuse fails as a command criterion instead
                a = {k: c.args[k] for k in ("job_id", "tenant", "seed", "size", "batch", "chunks")}
                specs[a["job_id"]] = JobSpec(kind=Kind[c.args["kind"]], threshold=c.args.get("threshold", 0.3),
                                             input_id=c.args.get("input_id", 0), **a)
            except KeyError:
                continue
    wrong, right = [], set()
    for data in seen.downlinked.values():
        if data[:4] != RESULT_MAGIC:
            continue
        try:
            job_id = unpack_result(data)[0]
        except ValueError as exc:
            wrong.append(str(exc))
            continue
        if job_id not in specs:
            wrong.append(f"job {job_id} came down but was never submitted")
            continue
        problems = verify(specs[job_id], data)
        if problems:
            wrong.append(f"job {job_id}: {problems[0]}")
        else:
            right.add(job_id)
    dropped = {e.args["job"] for e in seen.events if e.event is not None and e.event.name == "compute.JobFailed"}
    missing = sorted(set(specs) - right - dropped)
    detail = (f"{len(right)} of {len(specs)} results verified on the ground, {len(dropped & set(specs))} jobs "
              f"dropped by the node, {len(wrong)} wrong" + (f" ({wrong[0]})" if wrong else "")
              + (f", jobs {missing} neither" if missing else ""))
    return not wrong and not missing, detail
