"""The node's TOML configuration, checked before anything starts.

A configuration is untrusted input: every key is checked for type and range, unknown keys are
errors (a typo must not silently fall back to a default), and every error names the file and the
key, e.g. ``node.toml: [radio] url: expected a string, got 42``.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridfree.flight.hardware.drivers import DRIVERS


class ConfigError(ValueError):
    def __init__(self, source: str, key: str, problem: str):
        super().__init__(f"{source}: {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem


class Table:
    """A view of one TOML table that hands out checked values and remembers what it handed out."""

    def __init__(self, data: dict, source: str, path: str):
        if not isinstance(data, dict):
            raise ConfigError(source, path, f"expected a table, got {type(data).__name__}")
        self.data, self.source, self.path, self._used = data, source, path, set()

    def _key(self, key: str) -> str:
        return f"[{self.path}] {key}" if self.path else key

    def get(self, key: str, kind: type | tuple, default: Any = ..., *, min=None, max=None, choices=None):
        self._used.add(key)
        if key not in self.data:
            if default is ...:
                raise ConfigError(self.source, self._key(key), "required key is missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise ConfigError(self.source, self._key(key), f"expected {names}, got {value!r}")
        if min is not None and value < min:
            raise ConfigError(self.source, self._key(key), f"{value!r} is below the minimum {min}")
        if max is not None and value > max:
            raise ConfigError(self.source, self._key(key), f"{value!r} is above the maximum {max}")
        if choices is not None and value not in choices:
            raise ConfigError(self.source, self._key(key), f"{value!r} is not one of {sorted(choices)}")
        return value

    def table(self, key: str, required: bool = False) -> "Table":
        self._used.add(key)
        if key not in self.data and not required:
            return Table({}, self.source, f"{self.path}.{key}" if self.path else key)
        if key not in self.data:
            raise ConfigError(self.source, self._key(key), "required table is missing")
        return Table(self.data[key], self.source, f"{self.path}.{key}" if self.path else key)

    def finish(self) -> None:
        """Reject keys nobody asked for: they are typos or options this version does not have."""
        unknown = sorted(set(self.data) - self._used)
        if unknown:
            raise ConfigError(self.source, self._key(unknown[0]),
                              f"unknown key (known here: {', '.join(sorted(self._used)) or 'none'})")


def load_toml(path: str | Path) -> Table:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "(file)", "no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "(syntax)", str(exc)) from None
    return Table(data, str(path), "")


@dataclass
class RateConfig:
    fast_hz: float = 10.0
    slow_hz: float = 1.0
    background_hz: float = 0.1


@dataclass
class NodeConfig:
    name: str = "gridfree-1"
    apid: int = 0x064
    state_dir: Path = Path("state")
    radio_url: str = "tcp://127.0.0.1:0?listen=1"
    clock: str = "real"  # or "lockstep"
    clock_url: str = "tcp://127.0.0.1:0?listen=1"  # lockstep only: where the stepping messages come from
    hardware_driver: str = "none"  # "rig" (serial register protocol), "linux" (this host), "none"
    hardware_url: str = ""
    rates: RateConfig = field(default_factory=RateConfig)
    watchdog_s: float = 5.0
    battery_fitted: bool = True  # False only for a development host: no margins to check
    # The node's key material (`gridfree keys init DIR` makes DIR/node): its keystore of SDLS keys
    # and SAs and its ledger signing key. None: no keys, and the node refuses to start unless it
    # is run with --insecure.
    keys_dir: Path | None = None
    # Board operations one host operation stands for (the HIL rig's scenarios declare it so the
    # host keeps up with the lockstep clock; 1 on real hardware, where the board does the work).
    work_scale: float = 1.0
    raw: Table | None = None  # for component sections read by their own code

    @classmethod
    def from_table(cls, t: Table) -> "NodeConfig":
        node = t.table("node")
        cfg = cls(
            name=node.get("name", str, cls.name),
            apid=node.get("apid", int, cls.apid, min=1, max=0x7FE),
            state_dir=Path(node.get("state_dir", str, str(cls.state_dir))),
            clock=node.get("clock", str, cls.clock, choices={"real", "lockstep"}),
            watchdog_s=node.get("watchdog_s", float, cls.watchdog_s, min=0.5, max=600.0),
        )
        node.finish()
        radio = t.table("radio")
        cfg.radio_url = radio.get("url", str, cls.radio_url)
        radio.finish()
        clock = t.table("clock")
        cfg.clock_url = clock.get("url", str, cls.clock_url)
        clock.finish()
        hw = t.table("hardware")
        cfg.hardware_driver = hw.get("driver", str, cls.hardware_driver, choices=set(DRIVERS))
        cfg.hardware_url = hw.get("url", str, "" if cfg.hardware_driver != "rig" else ...)
        hw.finish()
        rates = t.table("rates")
        cfg.rates = RateConfig(
            fast_hz=rates.get("fast_hz", float, 10.0, min=0.01, max=1000.0),
            slow_hz=rates.get("slow_hz", float, 1.0, min=0.01, max=1000.0),
            background_hz=rates.get("background_hz", float, 0.1, min=0.001, max=1000.0),
        )
        rates.finish()
        power = t.table("power")
        cfg.battery_fitted = power.get("battery", bool, cls.battery_fitted)
        power.finish()
        compute = t.table("compute")
        cfg.work_scale = compute.get("work_scale", float, cls.work_scale, min=1.0, max=1e12)
        compute.finish()
        security = t.table("security")
        keys = security.get("keys", str, None)
        cfg.keys_dir = Path(keys) if keys else None
        security.finish()
        cfg.raw = t
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> "NodeConfig":
        cfg = cls.from_table(load_toml(path))
        here = Path(path).resolve().parent
        if not cfg.state_dir.is_absolute():
            cfg.state_dir = here / cfg.state_dir
        if cfg.keys_dir is not None and not cfg.keys_dir.is_absolute():
            cfg.keys_dir = here / cfg.keys_dir
        return cfg
