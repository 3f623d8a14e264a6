"""Scenario files: what a HIL run simulates, what goes wrong when, and what counts as a pass.

    name = "nominal-iss"
    orbit = "iss500"              # leo550, sso650-dawn-dusk, iss500
    start = "2026-03-20T12:00:00Z"
    duration_h = 24.0
    step_s = 1.0                  # lockstep step: the node runs every tick up to each step
    initial_soc = 0.8
    compute_utilisation = 0.3     # the payload's load until the compute manager drives it

    [[fault]]                     # at = hours from the start
    at_h = 6.0
    kind = "array_string_loss"    # sensor_stuck, sensor_noisy, sensor_bias, battery_cell_loss,
    count = 3                     # array_string_loss, heater_stuck_on, serial_silent, radio_ber
                                  # (register, value, sigma, bias, count, duration_s as the kind needs;
                                  # radio_ber: value = bit error rate on the radio line, both ways)
    [criteria]
    min_soc = 0.3                 # truth SOC never below
    max_payload_temp_C = 85.0
    max_battery_temp_C = 45.0
    min_battery_temp_C = 0.0
    no_undervoltage = true        # no load ever unserved
    final_mode = "SAFE"           # optional: the node's mode at the end
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from gridfree.protocols.hwbus import Reg

FAULT_KINDS = {"sensor_stuck", "sensor_noisy", "sensor_bias", "battery_cell_loss", "array_string_loss",
               "heater_stuck_on", "serial_silent", "radio_ber"}
CRITERIA = {"min_soc": float, "max_payload_temp_C": float, "max_battery_temp_C": float,
            "min_battery_temp_C": float, "no_undervoltage": bool, "final_mode": str}


class ScenarioError(ValueError):
    def __init__(self, source: str, key: str, problem: str):
        super().__init__(f"{source}: {key}: {problem}")


@dataclass
class Fault:
    at_s: float
    kind: str
    register: int | None = None
    value: float = 0.0
    sigma: float = 0.0
    bias: float = 0.0
    count: int = 1
    duration_s: float = 0.0


@dataclass
class Scenario:
    name: str
    orbit: str = "iss500"
    start_unix_s: float = 1_774_008_000.0  # 2026-03-20T12:00:00Z
    duration_s: float = 86_400.0
    step_s: float = 1.0
    initial_soc: float = 0.8
    compute_utilisation: float = 0.3
    faults: list[Fault] = field(default_factory=list)
    criteria: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> "Scenario":
        src = str(path)
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ScenarioError(src, "(file)", exc.strerror or str(exc)) from None
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(src, "(syntax)", str(exc)) from None
        return cls.from_dict(doc, src)

    @classmethod
    def from_dict(cls, doc: dict, src: str = "<scenario>") -> "Scenario":
        known = {"name", "orbit", "start", "duration_h", "step_s", "initial_soc", "compute_utilisation", "fault",
                 "criteria"}
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
        if "start" in doc:
            try:
                s.start_unix_s = datetime.fromisoformat(str(doc["start"]).replace("Z", "+00:00")).timestamp()
            except ValueError as exc:
                raise ScenarioError(src, "start", str(exc)) from None
        s.duration_s = num("duration_h", 24.0, 0.001, 24 * 60) * 3600.0
        s.step_s = num("step_s", 1.0, 0.1, 60.0)
        s.initial_soc = num("initial_soc", 0.8, 0.0, 1.0)
        s.compute_utilisation = num("compute_utilisation", 0.3, 0.0, 1.0)
        for i, f in enumerate(doc.get("fault", [])):
            where = f"fault[{i}]"
            kind = f.get("kind")
            if kind not in FAULT_KINDS:
                raise ScenarioError(src, f"{where}.kind", f"{kind!r} is not one of {sorted(FAULT_KINDS)}")
            reg = f.get("register")
            if reg is not None:
                try:
                    reg = Reg[reg].value
                except KeyError:
                    raise ScenarioError(src, f"{where}.register", f"{reg!r} is not a register "
                                                                   f"({', '.join(r.name for r in Reg)})") from None
            elif kind.startswith("sensor_"):
                raise ScenarioError(src, f"{where}.register", f"{kind} needs a register")
            s.faults.append(Fault(float(f.get("at_h", 0.0)) * 3600.0, kind, reg, float(f.get("value", 0.0)),
                                  float(f.get("sigma", 0.0)), float(f.get("bias", 0.0)), int(f.get("count", 1)),
                                  float(f.get("duration_s", 0.0))))
        for key, value in doc.get("criteria", {}).items():
            if key not in CRITERIA or not isinstance(value, CRITERIA[key]):
                raise ScenarioError(src, f"criteria.{key}", f"unknown criterion or wrong type "
                                                            f"(known: {', '.join(sorted(CRITERIA))})")
            s.criteria[key] = value
        return s
