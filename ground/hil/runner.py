"""Running a scenario: the rig process owns the truth, the emulated board and the node's clock.

The node is an unmodified `gridfree node` process in lockstep mode, wired as on a bench: its
hardware line is a pty pair to the emulated board, its radio a TCP link to the rig's ground
client, its clock a TCP link the rig steps. Each step the rig moves the truth forward, applies the
faults that fall due, then tells the node the new time and waits until it has caught up, so the
run is repeatable and as fast as node and physics allow.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gridfree.ground.hil.board import BoardServer, EmulatedBoard
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.power import Battery, Loads
from gridfree.ground.hil.scenario import Fault, Scenario
from gridfree.ground.hil.truth import Truth
from gridfree.ground.link.client import GroundClient
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.links import open_link
from gridfree.protocols.ptypair import PtyPair

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
class RunResult:
    scenario: Scenario
    record: Record
    truth: Truth
    wall_s: float
    checks: list[tuple[str, bool, str]]
    node_events: list[str]
    downlink: dict = field(default_factory=dict)  # the ground decoder's statistics
    bits_flipped: int = 0

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
        truth.loads.heater_W = truth.loads.heater_W or 30.0
    elif fault.kind == "serial_silent":
        f.silent = True
    return fault.kind





def _dictionary() -> Dictionary:
    out = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "dict"], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return Dictionary.from_json(out)


def run(scenario: Scenario, workdir: Path, progress=None) -> RunResult:
    workdir.mkdir(parents=True, exist_ok=True)
    truth = Truth.from_elements(preset(scenario.orbit, scenario.start_unix_s), scenario.start_unix_s,
                                battery=Battery(soc=scenario.initial_soc),
                                loads=Loads(compute_utilisation=scenario.compute_utilisation))
    board = EmulatedBoard(truth, seed=1)
    dictionary = _dictionary()
    record, events = Record(), []
    bit_errors = BitErrors()
    # The radio is a serial line too, so bit errors can be injected into it in both directions.
    with PtyPair() as pair, PtyPair(transform_ab=bit_errors, transform_ba=bit_errors) as radio:
        server = BoardServer(board, open_link(pair.paths[0])).start()
        (workdir / "node.toml").write_text(NODE_TOML.format(hw=pair.paths[1], radio=radio.paths[1]))
        node = subprocess.Popen([sys.executable, "-m", "gridfree.flight", "--config", str(workdir / "node.toml"),
                                 "--no-supervise"], stdout=subprocess.PIPE, text=True, cwd=workdir)
        try:
            node.stdout.readline()  # the radio banner
            clock_url = re.search(r"lockstep clock on (\S+)", node.stdout.readline()).group(1)
            with GroundClient(radio.paths[0], dictionary) as ground, open_link(clock_url) as clock:
                ground.subscribe(lambda kind, item: events.append(f"{item.time_s - scenario.start_unix_s:9.0f} s "
                                                                  f"{item.text}") if kind == "event" else None)
                wall0 = time.perf_counter()
                _loop(scenario, truth, board, bit_errors, clock, ground, record, progress)
                wall = time.perf_counter() - wall0
                ground.wait_until(lambda: False, 0.3)  # let the last reports arrive
                downlink = asdict(ground.decoder.stats)
        finally:
            node.terminate()
            node.wait(10)
            node.stdout.close()
            server.stop()
            server.link.close()
    return RunResult(scenario, record, truth, wall, evaluate(scenario, record, truth), events, downlink,
                     bit_errors.flipped)


def _loop(scenario, truth, board, bit_errors, clock, ground, record, progress) -> None:
    import struct

    faults = sorted(scenario.faults, key=lambda f: f.at_s)
    steps = int(round(scenario.duration_s / scenario.step_s))
    every = max(1, int(round(RECORD_EVERY_S / scenario.step_s)))
    silent_until = ber_until = None
    for k in range(1, steps + 1):
        elapsed = k * scenario.step_s
        while faults and faults[0].at_s <= elapsed:
            fault = faults.pop(0)
            if fault.kind == "radio_ber":
                bit_errors.ber = fault.value
                ber_until = elapsed + fault.duration_s if fault.duration_s else None
                continue
            with board.lock:
                _apply(fault, truth, board)
            if fault.kind == "serial_silent":
                silent_until = elapsed + fault.duration_s
        if silent_until is not None and elapsed >= silent_until:
            board.faults.silent, silent_until = False, None
        if ber_until is not None and elapsed >= ber_until:
            bit_errors.ber, ber_until = 0.0, None
        with board.lock:
            truth.step(scenario.step_s)
        msg = struct.pack(">d", truth.time_s)
        clock.write(msg)
        got = b""
        while len(got) < 8:
            chunk = clock.read(8 - len(got), timeout=10)
            if not chunk:
                raise RuntimeError(f"the node stopped answering the clock at {elapsed:.0f} s")
            got += chunk
        if k % every == 0:
            record.t_h.append(elapsed / 3600)
            record.soc.append(truth.battery.soc)
            record.bus_V.append(truth.bus_V)
            record.solar_W.append(truth.solar_W)
            record.load_W.append(truth.loads.total_W)
            record.sunlit.append(truth.sunlit_fraction)
            for name, node in truth.thermal.nodes.items():
                record.temps_C.setdefault(name, []).append(node.temp_C)
            record.node_mode.append(ground.value("node.Mode") or 0)
            record.node_battery_V.append(ground.value("eps.BatteryVoltage") or 0.0)
            record.node_soc.append((ground.value("power.Soc") or 0.0) / 100.0)
            if progress:
                progress(elapsed, scenario.duration_s)


def evaluate(s: Scenario, rec: Record, truth: Truth) -> list[tuple[str, bool, str]]:
    c, out = s.criteria, []
    if "min_soc" in c:
        low = min(rec.soc) if rec.soc else truth.battery.soc
        out.append(("min_soc", low >= c["min_soc"], f"lowest SOC {low:.3f}, limit {c['min_soc']}"))
    for key, node, sign in (("max_payload_temp_C", "payload", 1), ("max_battery_temp_C", "battery", 1),
                            ("min_battery_temp_C", "battery", -1)):
        if key in c:
            temps = rec.temps_C.get(node, [truth.thermal.nodes[node].temp_C])
            worst = max(temps) if sign > 0 else min(temps)
            ok = worst <= c[key] if sign > 0 else worst >= c[key]
            out.append((key, ok, f"{node} reached {worst:.1f} C, limit {c[key]}"))
    if c.get("no_undervoltage"):
        unserved = truth.ledger.unserved_Wh
        out.append(("no_undervoltage", unserved < 1e-6, f"{unserved:.3f} Wh of load not served"))
    if "final_mode" in c:
        modes = {0: "BOOT", 1: "SAFE", 2: "NOMINAL"}
        final = modes.get(int(rec.node_mode[-1]) if rec.node_mode else -1, "unknown")
        out.append(("final_mode", final == c["final_mode"], f"node ended in {final}"))
    return out
