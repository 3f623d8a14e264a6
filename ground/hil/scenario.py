"""Scenario files: what a HIL run simulates, what goes wrong when, and what counts as a pass.

    name = "nominal-iss"
    orbit = "iss500"              # leo550, sso650-dawn-dusk, iss500
    start = "2026-03-20T12:00:00Z"
    duration_h = 24.0
    step_s = 1.0                  # lockstep step: the node runs every tick up to each step
    initial_soc = 0.8
    compute_utilisation = 0.3     # the payload's clock until the compute manager sets it (it draws
                                  # idle until the node hands it work items, whatever the clock)
    upload_orbit = true           # the ground uploads power.SetOrbit (elements + measured nodal period) at the start
    policy = "planned"            # the payload power policy the node flies (compute.PayloadPolicy): planned,
                                  # two-level, orbit-average, sunlight-aware, greedy-best-clock, greedy
    work_scale = 1.0              # one host operation stands for this many board operations: the node's
                                  # host computes each item's real result while the rig's board spends the
                                  # board time of work_scale x that work (1 on real hardware; >= 1)

    [[fault]]                     # at = hours from the start; the kinds are the classes of
    at_h = 6.0                    # ground/hil/faults.py: sensor_stuck, sensor_noisy, sensor_bias,
    kind = "array_string_loss"    # battery_cell_loss, array_string_loss, heater_stuck_on, serial_silent,
    count = 3                     # radio_ber, bus_short (register, value, sigma, bias, count as the kind
                                  # needs; radio_ber: value = bit error rate on the radio line, both ways;
                                  # bus_short: value = W added to the unswitched bus). duration_s ends a
                                  # fault (not battery_cell_loss: lost cells stay lost); without it, it lasts
    [radiation]                   # upset injection on the node from at_h on: the ground arms and sends
    at_h = 0.0                    # compute.SetUpsetRates; rates are mean upsets per chunk (per = "chunk")
    per = "chunk"                 # or per second of node time (per = "second") into chunk inputs,
    inputs = 0.2                  # products and activations, resident model codewords and checkpoint
    intermediates = 0.4           # files; every one must end detected, corrected or flagged, never in a
    weights = 2.0                 # wrong result
    checkpoints = 0.3
    seed = 1

    [board]                       # the rig's payload board (ground/hil/payload.py); defaults are the
    idle_W = 300.0                # node's datasheet figures, so a scenario sets only how its board
    max_W = 6000.0                # differs: draw at clock 0 and at full clock, core voltage at the
    v_floor = 0.6                 # floor (share of full), and the DVFS knee clock below which the
    dvfs_knee = 0.0               # voltage stays at the floor
    rate_scale = 1.0              # every kind's rate times this; per kind, its rate at full clock and its
    matmul_MFLOP_per_s = 40e6     # activity (share of the dynamic power it draws): mlp_MFLOP_per_s = 28e6,
    matmul_activity = 1.0         # tiles_kpx_per_s = 4e6, mlp_activity = 0.85, tiles_activity = 0.45

    [[command]]                   # the ground sends a command at a time and expects an outcome
    at_h = 2.0
    name = "node.SetMode"
    args = { mode = "NOMINAL" }
    expect = "failed"             # completed or failed

    [criteria]
    min_soc = 0.3                 # truth SOC never below
    max_payload_temp_C = 85.0
    max_battery_temp_C = 45.0
    min_battery_temp_C = 0.0
    no_undervoltage = true        # no load ever unserved and no under-voltage event from the node
    max_dod_pct = 30.0            # truth depth of discharge within any one-orbit window
    max_life_used_pct_per_day = 0.01  # truth SOC's rainflow cycles against the LEO Li-ion cycle-life
                                  # curve (protocols/rainflow.py), scaled to 24 h
    max_eclipse_err_s = 2.0       # the node's predicted shadow entry/exit against the truth's edges
    max_uv_to_safe_s = 0.5        # forced under-voltage: truth crossing to the node's SAFE (its event time)
    final_mode = "SAFE"           # optional: the node's mode at the end
    results_verified = true       # each submitted job's result passes the ground's check, or the node
                                  # dropped the job (compute.JobFailed): never a wrong result
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from gridfree.ground.hil.faults import Fault, FaultError, parse as parse_fault
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.payload import PayloadBoard
from gridfree.protocols.compute import PAYLOAD_POLICIES

CRITERIA = {"min_soc": float, "max_payload_temp_C": float, "max_battery_temp_C": float,
            "min_battery_temp_C": float, "no_undervoltage": bool, "final_mode": str, "max_dod_pct": float,
            "max_eclipse_err_s": float, "max_uv_to_safe_s": float, "results_verified": bool,
            "max_life_used_pct_per_day": float}
OUTCOMES = {"completed", "failed"}
UPSET_TARGETS = ("inputs", "intermediates", "weights", "checkpoints")
UPSET_BASES = {"chunk": "CHUNK", "second": "SECOND"}
WORK_SCALE_MAX = 1e12  # as the node's [compute] work_scale allows
BOARD_RANGES = {"idle_W": (0.0, 100_000.0), "max_W": (1.0, 100_000.0), "v_floor": (0.05, 1.0), "dvfs_knee": (0.0, 0.95),
                "rate_scale": (1e-3, 1e3), "matmul_MFLOP_per_s": (1.0, 1e12), "mlp_MFLOP_per_s": (1.0, 1e12),
                "tiles_kpx_per_s": (1.0, 1e12), "matmul_activity": (0.0, 1.0), "mlp_activity": (0.0, 1.0),
                "tiles_activity": (0.0, 1.0)}


class ScenarioError(ValueError):
    def __init__(self, source: str, key: str, problem: str):
        super().__init__(f"{source}: {key}: {problem}")


@dataclass
class ScheduledCommand:
    at_s: float
    name: str
    args: dict
    expect: str


@dataclass
class Scenario:
    name: str
    orbit: str = "iss500"
    start_unix_s: float = 1_774_008_000.0  # 2026-03-20T12:00:00Z
    duration_s: float = 86_400.0
    step_s: float = 1.0
    initial_soc: float = 0.8
    compute_utilisation: float = 0.3
    upload_orbit: bool = True
    policy: str = "planned"  # the payload power policy the node flies (protocols.compute.PAYLOAD_POLICIES)
    faults: list[Fault] = field(default_factory=list)
    commands: list[ScheduledCommand] = field(default_factory=list)
    criteria: dict = field(default_factory=dict)
    radiation: dict = field(default_factory=dict)  # compute.SetUpsetRates arguments, as sent
    board: PayloadBoard = field(default_factory=PayloadBoard)  # the rig's payload board
    work_scale: float = 1.0  # board operations one host operation stands for (the node's [compute] work_scale)

    @classmethod
    def load(cls, path: str | Path) -> "Scenario":
        src = str(path)
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ScenarioError(src, "(file)", f"cannot read the scenario: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ScenarioError(src, "(file)", f"not a scenario TOML file ({exc}); see examples/scenarios/ "
                                               f"for examples") from None
        return cls.from_dict(doc, src)

    @classmethod
    def from_dict(cls, doc: dict, src: str = "<scenario>") -> "Scenario":
        known = {"name", "orbit", "start", "duration_h", "step_s", "initial_soc", "compute_utilisation", "fault",
                 "criteria", "upload_orbit", "command", "radiation", "board", "work_scale", "policy"}
        for key in doc:
            if key not in known:
                raise ScenarioError(src, key, f"unknown key (known: {', '.join(sorted(known))})")

        def num(key, default, lo, hi):
            v = doc.get(key, default)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise ScenarioError(src, key, f"expected a number in {lo}..{hi}, got {v!r}")
            return float(v)

        s = cls(name=str(doc.get("name", Path(src).stem)))
        s.orbit = str(doc.get("orbit", s.orbit))
        try:
            preset(s.orbit, s.start_unix_s)
        except ValueError as exc:
            raise ScenarioError(src, "orbit", str(exc)) from None
        if "start" in doc:
            try:
                s.start_unix_s = datetime.fromisoformat(str(doc["start"]).replace("Z", "+00:00")).timestamp()
            except ValueError as exc:
                raise ScenarioError(src, "start", str(exc)) from None
        s.duration_s = num("duration_h", 24.0, 0.001, 24 * 60) * 3600.0
        s.step_s = num("step_s", 1.0, 0.1, 60.0)
        s.initial_soc = num("initial_soc", 0.8, 0.0, 1.0)
        s.compute_utilisation = num("compute_utilisation", 0.3, 0.0, 1.0)
        s.work_scale = num("work_scale", 1.0, 1.0, WORK_SCALE_MAX)
        for i, f in enumerate(doc.get("fault", [])):
            try:
                s.faults.append(parse_fault(f))
            except FaultError as exc:
                raise ScenarioError(src, f"fault[{i}].{exc.key}", exc.problem) from None
        s.policy = doc.get("policy", s.policy)
        if s.policy not in PAYLOAD_POLICIES:
            raise ScenarioError(src, "policy", f"one of {', '.join(PAYLOAD_POLICIES)}")
        s.upload_orbit = doc.get("upload_orbit", True)
        if not isinstance(s.upload_orbit, bool):
            raise ScenarioError(src, "upload_orbit", "expected true or false")
        for i, c in enumerate(doc.get("command", [])):
            where = f"command[{i}]"
            if not isinstance(c.get("name"), str) or not isinstance(c.get("args", {}), dict):
                raise ScenarioError(src, where, "needs name = \"component.Command\" and args = { ... }")
            if isinstance(c.get("at_h", 0.0), bool) or not isinstance(c.get("at_h", 0.0), (int, float)):
                raise ScenarioError(src, f"{where}.at_h", "expected a number of hours")
            if c.get("expect", "completed") not in OUTCOMES:
                raise ScenarioError(src, f"{where}.expect", f"one of {sorted(OUTCOMES)}")
            s.commands.append(ScheduledCommand(float(c.get("at_h", 0.0)) * 3600.0, c["name"], dict(c.get("args", {})),
                                               c.get("expect", "completed")))
        if "radiation" in doc:
            s.radiation, at_s = _radiation(doc["radiation"], src)
            # SetUpsetRates is hazardous: one arm, one command, sent together.
            s.commands += [ScheduledCommand(at_s, "node.Arm", {"window_s": 60}, "completed"),
                           ScheduledCommand(at_s, "compute.SetUpsetRates", dict(s.radiation), "completed")]
        if "board" in doc:
            s.board = _board(doc["board"], src)
        for key, value in doc.get("criteria", {}).items():
            if key not in CRITERIA or not isinstance(value, CRITERIA[key]) and not (
                    CRITERIA[key] is float and isinstance(value, int) and not isinstance(value, bool)):
                raise ScenarioError(src, f"criteria.{key}", f"unknown criterion or wrong type "
                                                            f"(known: {', '.join(sorted(CRITERIA))})")
            s.criteria[key] = value
        return s


def _radiation(table, src: str) -> tuple[dict, float]:
    """The [radiation] table as compute.SetUpsetRates arguments, and when to send them."""
    if not isinstance(table, dict):
        raise ScenarioError(src, "radiation", "expected a table: [radiation]")
    known = {"at_h", "per", "seed", *UPSET_TARGETS}
    for key in table:
        if key not in known:
            raise ScenarioError(src, f"radiation.{key}", f"unknown key (known: {', '.join(sorted(known))})")
    args = {}
    for key in UPSET_TARGETS:
        v = table.get(key, 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1000.0:
            raise ScenarioError(src, f"radiation.{key}", f"expected mean upsets in 0..1000, got {v!r}")
        args[key] = float(v)
    per = table.get("per", "chunk")
    if per not in UPSET_BASES:
        raise ScenarioError(src, "radiation.per", f"one of {sorted(UPSET_BASES)}, got {per!r}")
    seed = table.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 0xFFFF_FFFF:
        raise ScenarioError(src, "radiation.seed", f"expected an integer 0..2**32-1, got {seed!r}")
    at_h = table.get("at_h", 0.0)
    if isinstance(at_h, bool) or not isinstance(at_h, (int, float)) or at_h < 0:
        raise ScenarioError(src, "radiation.at_h", "expected a number of hours >= 0")
    return {**args, "basis": UPSET_BASES[per], "seed": seed}, float(at_h) * 3600.0


def _board(table, src: str) -> PayloadBoard:
    """The [board] table as the rig's payload board; keys left out keep the datasheet's figures."""
    if not isinstance(table, dict):
        raise ScenarioError(src, "board", "expected a table: [board]")
    ranges = BOARD_RANGES
    values = {}
    for key, v in table.items():
        if key not in ranges:
            raise ScenarioError(src, f"board.{key}", f"unknown key (known: {', '.join(sorted(ranges))})")
        lo, hi = ranges[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise ScenarioError(src, f"board.{key}", f"expected a number in {lo:g}..{hi:g}, got {v!r}")
        values[key] = float(v)
    try:
        return PayloadBoard(**values)
    except ValueError as exc:
        raise ScenarioError(src, "board", str(exc)) from None
