"""Running a scenario: the rig process owns the truth, the emulated board and the node's clock.

The node is an unmodified `gridfree node` process in lockstep mode, wired as on a bench: its
hardware line is a pty pair to the emulated board, its radio a TCP link to the rig's ground
client, its clock a TCP link the rig steps. Each step the rig applies (and clears) the faults that
fall due (`faults.py`), moves the truth forward, then tells the node the new time and waits until it
has caught up, so the run is repeatable and as fast as node and physics allow. What the run saw is
in `record.py`; whether it passed, `criteria.py`.

The radio is authenticated as a mission's is: the node flies the node half of a key directory
(`gridfree keys init`, made in the work directory unless one is given, kept for a continued run),
the ground client sends through the ground half, and hazardous commands go with their node.Arm.
"""
from __future__ import annotations

import secrets
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from gridfree.ground.hil import children
from gridfree.ground.hil.board import BoardServer, EmulatedBoard
from gridfree.ground.compute.verify import needs_challenge
from gridfree.ground.hil.criteria import evaluate, submitted_specs
from gridfree.ground.hil.faults import BitErrors, Rig
from gridfree.ground.hil.orbit import orbit_determination, preset
from gridfree.ground.hil.power import Battery, Loads
from gridfree.protocols.compute import PAYLOAD_POLICIES
from gridfree.ground.hil.record import RECORD_EVERY_S, Observations, Record
from gridfree.ground.hil.scenario import Fault, Scenario, ScheduledCommand
from gridfree.ground.hil.truth import Truth
from gridfree.ground.hil.work import WORK_CHANNELS, BoardTally, ledger_totals
from gridfree.ground.link.announce import NodeStartError, read_announcement
from gridfree.ground.link.client import GroundClient
from gridfree.protocols.compute import RESULT_MAGIC
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.keystore import PUBLIC_KEY_FILE
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
[security]
keys = "{keys}"
"""



def node_toml(scenario: Scenario, hw: str, radio: str, keys: Path) -> str:
    """The node's configuration for a run: the rig's lines, the run's keys, and the scenario's work
    scale (left out at 1, the node's default)."""
    text = NODE_TOML.format(hw=hw, radio=radio, keys=keys)
    if scenario.work_scale != 1.0:
        text += f"[compute]\nwork_scale = {float(scenario.work_scale)!r}\n"
    return text


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
    tally: BoardTally = field(default_factory=BoardTally)  # what the rig's board ran, per kind
    work_channels: dict = field(default_factory=dict)  # the node's last downlinked board/host work counters
    ledger_Wh: dict = field(default_factory=dict)  # energy billed per tenant in the node's signed ledger
    ledger_problem: str = ""

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
        return self.scenario.duration_s / max(self.wall_s, 1e-9)


def _upload_orbit(scenario: Scenario, ground: GroundClient):
    """Orbit determination's product, as operations would uplink it: mean elements at the start."""
    m = orbit_determination(preset(scenario.orbit, scenario.start_unix_s), scenario.start_unix_s)
    return ground.send("power.SetOrbit", arm=True, epoch_unix_s=m.epoch_unix_s, a_km=m.a_km, e=m.e, i_deg=m.i_deg,
                       raan_deg=m.raan_deg, argp_deg=m.argp_deg, mean_anomaly_deg=m.mean_anomaly_deg,
                       nodal_period_s=m.nodal_period_s)


def _dictionary() -> Dictionary:
    try:
        out = children.run([sys.executable, "-m", "gridfree.protocols.cli", "dict"], timeout=120).stdout
    except subprocess.CalledProcessError as exc:
        last = (exc.stderr or "").strip().splitlines()[-1:] or [f"exit status {exc.returncode}"]
        raise RuntimeError(f"`gridfree dict` failed: {last[0]}") from None
    return Dictionary.from_json(out)


class Session:
    """One scenario's bench: the truth, the emulated board on a pty pair, a lockstep node process
    and the link that steps its clock. The caller brings the radio: `radio_url` is what the node
    is configured with, and `attach` takes the ground client on the other end. `gridfree rig run`
    steps it as fast as it goes; `gridfree demo` paces it for an operator to watch."""

    def __init__(self, scenario: Scenario, workdir: Path, radio_url: str, bit_errors: BitErrors | None = None,
                 keys: Path | None = None):
        workdir = Path(workdir).resolve()  # the node runs in it and is told its config's path
        workdir.mkdir(parents=True, exist_ok=True)
        self.scenario, self.workdir, self.radio_url = scenario, workdir, radio_url
        self.keys = mission_keys(workdir / "keys") if keys is None else Path(keys).resolve()
        self.truth = Truth.from_elements(preset(scenario.orbit, scenario.start_unix_s), scenario.start_unix_s,
                                         battery=Battery(soc=scenario.initial_soc),
                                         loads=Loads(compute_utilisation=scenario.compute_utilisation, board=scenario.board))
        self.board = EmulatedBoard(self.truth, seed=1)
        self.bit_errors = bit_errors or BitErrors()
        self.rig = Rig(self.truth, self.board, self.bit_errors)  # what the scenario's faults act on
        self.record, self.seen = Record(), Observations()
        # The ground's randomness for this run's proofs: the blocks it challenges, Freivalds' vectors
        # and the chunks it computes again. Drawn here, after the node started, never told it before
        # the node has committed to its results.
        self.seen.challenge_seed = secrets.randbits(32)
        self.tally = BoardTally()
        self._specs = submitted_specs(scenario)
        self._transfers_read = 0
        self.ground: GroundClient | None = None
        self.k = 0
        self.steps = int(round(scenario.duration_s / scenario.step_s))
        self._faults = sorted(scenario.faults, key=lambda f: f.at_s)
        self._commands = sorted(scenario.commands, key=lambda c: c.at_s)
        self._ending: list[tuple[float, Fault]] = []
        self._prev_f = self.truth.sunlit_fraction
        self._pair = PtyPair().start()
        self.server = BoardServer(self.board, open_link(self._pair.paths[0])).start()
        (workdir / "node.toml").write_text(node_toml(scenario, self._pair.paths[1], radio_url, self.keys / "node"))
        self.node = children.popen([sys.executable, "-m", "gridfree.flight", "--config", str(workdir / "node.toml"),
                                    "--no-supervise"], stdout=subprocess.PIPE, text=True, cwd=workdir)
        try:
            self.addresses = read_announcement(self.node.stdout)  # its GRIDFREE-NODE line
            if self.addresses.clock is None:
                raise NodeStartError("it runs on its own clock, not in lockstep", [])
            self.node_radio = self.addresses.radio
            self.clock = open_link(self.addresses.clock)
        except (NodeStartError, OSError) as exc:
            self.close()
            raise RuntimeError(f"the node did not start in lockstep: {exc}") from None
        except BaseException:  # Ctrl-C while the node starts: it must not outlive us
            self.close()
            raise

    def ground_security(self):
        """The ground half of the run's keys, for the GroundClient on the node's radio."""
        from gridfree.ground.keys.session import GroundSecurity

        return GroundSecurity.load(self.keys / "ground")

    def attach(self, ground: GroundClient, threshold_V: float) -> None:
        """The ground client on the node's radio: it records events, uploads the orbit and sends
        the scenario's commands; `threshold_V` is the node's under-voltage setting."""
        self.ground, self.threshold_V = ground, threshold_V
        ground.subscribe(lambda kind, item: self.seen.events.append(item) if kind == "event" else None)
        if self.scenario.upload_orbit:
            self.seen.commands.append((ScheduledCommand(0.0, "power.SetOrbit", {}, "completed"),
                                       _upload_orbit(self.scenario, ground)))
        if self.scenario.policy != PAYLOAD_POLICIES[0]:  # the node's default is the planner
            args = {"compute.PayloadPolicy": PAYLOAD_POLICIES.index(self.scenario.policy)}
            self.seen.commands.append((ScheduledCommand(0.0, "params.Set", args, "completed"),
                                       ground.send("params.Set", **args)))

    @property
    def done(self) -> bool:
        return self.k >= self.steps

    def _node_heard(self) -> bool:
        """Commands wait for the node's first battery housekeeping, as an operator commands a node
        they can see: before it, the node has not read its battery and could only refuse NOMINAL."""
        soc = self.ground.value("power.Soc")
        return soc is not None and soc == soc

    def step(self) -> None:
        """One lockstep step: faults and commands that fall due, the truth, then the node."""
        s, truth, board, seen = self.scenario, self.truth, self.board, self.seen
        self.k += 1
        elapsed = self.k * s.step_s
        while self._faults and self._faults[0].at_s <= elapsed:
            fault = self._faults.pop(0)
            with board.lock:
                fault.apply(self.rig)
            if fault.duration_s:
                self._ending.append((elapsed + fault.duration_s, fault))
        for due in [e for e in self._ending if e[0] <= elapsed]:
            self._ending.remove(due)
            with board.lock:
                due[1].clear(self.rig)
        while self._commands and self._commands[0].at_s <= elapsed and self._node_heard():
            c = self._commands.pop(0)
            seen.commands.append((c, self.ground.send(c.name, arm=True, **c.args)))
        with board.lock:
            truth.step(s.step_s)
            self.tally.add(truth.payload, truth.loads.compute_utilisation)
        _step_clock(self.clock, truth.time_s, elapsed)
        self._challenge(elapsed)
        f, v = truth.sunlit_fraction, truth.bus_V
        if (self._prev_f < 0.5) != (f < 0.5):
            seen.edges.append((truth.time_s - s.step_s * (f - 0.5) / (f - self._prev_f), f < 0.5))
        if seen.uv_crossed_s is None and v < self.threshold_V:
            seen.uv_crossed_s = truth.time_s - s.step_s  # the earliest it can have crossed
        self._prev_f = f
        if self.k % max(1, int(round(RECORD_EVERY_S / s.step_s))) == 0:
            self._sample(elapsed)

    def _challenge(self, elapsed: float) -> None:
        """A result whose product stayed on board is challenged as soon as it is down: the ground
        sends compute.ProveBlocks with this run's seed, and the criterion checks the answer."""
        transfers = self.ground.completed_transfers
        if len(transfers) == self._transfers_read:
            return
        fresh = list(transfers.values())[self._transfers_read:]
        self._transfers_read = len(transfers)
        for data in fresh:
            job_id = int.from_bytes(data[4:8], "big") if data[:4] == RESULT_MAGIC else 0
            spec = self._specs.get(job_id)
            if spec is None or job_id in self.seen.challenged or not needs_challenge(spec, data):
                continue
            args = {"job_id": job_id, "seed": self.seen.challenge_seed}
            self.seen.challenged[job_id] = self.seen.challenge_seed
            self.seen.commands.append((ScheduledCommand(elapsed, "compute.ProveBlocks", args, "completed"),
                                       self.ground.send("compute.ProveBlocks", **args)))

    def _sample(self, elapsed: float) -> None:
        truth, ground, record = self.truth, self.ground, self.record
        entry, exit_ = ground.value("power.NextEclipseEntry"), ground.value("power.NextEclipseExit")
        if entry and exit_:
            self.seen.predictions.append((truth.time_s, entry, exit_))
        record.add_truth(elapsed / 3600, truth)
        nan = float("nan")  # not downlinked yet
        record.node_mode.append(ground.value("node.Mode") or 0)
        record.node_battery_V.append(ground.value("eps.BatteryVoltage") or nan)
        record.node_soc.append((ground.value("power.Soc") or nan) / 100.0)

    def checks_so_far(self) -> list[tuple[str, bool, str]]:
        """The criteria on what the run has seen so far, commands still awaiting their answer and
        results still to come left out; call it between steps (from the thread that steps)."""
        s = Scenario(**{**vars(self.scenario), "duration_s": max(self.k, 1) * self.scenario.step_s})
        answered = [(c, h) for c, h in self.seen.commands if h.completed or h.failed]
        return evaluate(s, self.record, self.truth, replace(self.seen, commands=answered), so_far=True)

    def result(self, wall_s: float) -> RunResult:
        self.ground.wait_until(lambda: all(h.completed or h.failed for _, h in self.seen.commands), 1.0)
        s = self.scenario
        # What was simulated, for reports of runs stopped early.
        s = Scenario(**{**vars(s), "duration_s": self.k * s.step_s}) if self.k < self.steps else s
        self.seen.downlinked = dict(self.ground.completed_transfers)
        ledger, problem = ledger_totals(self.workdir / "state", self.keys / PUBLIC_KEY_FILE)
        channels = {c: v for c in WORK_CHANNELS if (v := self.ground.value(c)) is not None}
        return RunResult(s, self.record, self.truth, wall_s, evaluate(s, self.record, self.truth, self.seen),
                         self.seen, asdict(self.ground.decoder.stats), self.bit_errors.flipped, self.tally,
                         channels, ledger, problem)

    def close(self) -> None:
        children.stop(self.node)
        self.node.stdout.close()
        if getattr(self, "clock", None) is not None:
            self.clock.close()
        self.server.stop()
        self.server.link.close()
        self._pair.stop()


def run(scenario: Scenario, workdir: Path, progress=None, keys: Path | None = None) -> RunResult:
    """As fast as node and physics allow, with the radio on a pty pair that can flip bits; `keys`
    a mission key directory (default: one made in `workdir`)."""
    dictionary = _dictionary()
    bit_errors = BitErrors()
    with PtyPair(transform_ab=bit_errors, transform_ba=bit_errors) as radio:
        session = Session(scenario, workdir, radio.paths[1], bit_errors, keys)
        try:
            with GroundClient(radio.paths[0], dictionary, security=session.ground_security()) as ground:
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


def mission_keys(directory: Path) -> Path:
    """A key directory made by `gridfree keys init` (as an operator makes one), or the one already
    there: a continued run keeps its node's keystore and anti-replay state, and its ground's IVs."""
    if not (directory / "node").is_dir():
        try:
            children.run([sys.executable, "-m", "gridfree.protocols.cli", "keys", "init", str(directory)], timeout=120)
        except subprocess.CalledProcessError as exc:
            last = (exc.stderr or "").strip().splitlines()[-1:] or [f"exit status {exc.returncode}"]
            raise RuntimeError(f"`gridfree keys init` failed: {last[0]}") from None
    return directory.resolve()


def _step_clock(clock, t: float, elapsed: float) -> None:
    clock.write(struct.pack(">d", t))
    got = b""
    while len(got) < 8:
        chunk = clock.read(8 - len(got), timeout=10)
        if not chunk:
            raise RuntimeError(f"the node stopped answering the clock at {elapsed:.0f} s")
        got += chunk


