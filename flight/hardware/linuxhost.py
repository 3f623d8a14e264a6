"""The driver for a real Linux host acting as the compute payload: CPU temperature from thermal
zones or hwmon, package power from the RAPL energy counter, and a battery if the host has one.
What the host does not have (arrays, radiator, heaters) reads None and switches refuse: absent
sensors are reported absent, never invented.
"""
from __future__ import annotations

import time
from pathlib import Path

from gridfree.flight.hardware.interfaces import DriverHealth, PowerBoard, Quantity, Switch

SYS = Path("/sys")


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class LinuxHostBoard(PowerBoard):
    def __init__(self, sysfs: Path = SYS):
        self.sys = Path(sysfs)
        self.health = DriverHealth()
        self._rapl = next(iter(sorted((self.sys / "class/powercap").glob("intel-rapl:*/energy_uj"))), None)
        self._last_energy: tuple[float, int] | None = None
        batteries = sorted((self.sys / "class/power_supply").glob("BAT*"))
        self._battery = batteries[0] if batteries else None

    def _cpu_temp_C(self) -> float | None:
        temps = []
        for zone in sorted((self.sys / "class/thermal").glob("thermal_zone*")):
            kind = (zone / "type").read_text().strip() if (zone / "type").exists() else ""
            milli = _read_int(zone / "temp")
            if milli is not None and ("pkg" in kind or "cpu" in kind.lower() or "x86" in kind):
                temps.append(milli / 1000.0)
        if not temps:
            for sensor in sorted((self.sys / "class/hwmon").glob("hwmon*/temp*_input")):
                milli = _read_int(sensor)
                if milli is not None:
                    temps.append(milli / 1000.0)
        return max(temps) if temps else None

    def _package_power_W(self) -> float | None:
        if self._rapl is None:
            return None
        energy_uJ = _read_int(self._rapl)
        if energy_uJ is None:
            return None
        now = time.monotonic()
        last, self._last_energy = self._last_energy, (now, energy_uJ)
        if last is None or now <= last[0] or energy_uJ < last[1]:  # first sample, or the counter wrapped
            return None
        return (energy_uJ - last[1]) / 1e6 / (now - last[0])

    def read(self, q: Quantity) -> float | None:
        self.health.requests += 1
        if q is Quantity.PAYLOAD_TEMP_C:
            return self._cpu_temp_C()
        if q is Quantity.PAYLOAD_POWER_W:
            return self._package_power_W()
        if self._battery is not None:
            if q in (Quantity.BATTERY_VOLTAGE_V, Quantity.BUS_VOLTAGE_V):
                uv = _read_int(self._battery / "voltage_now")
                return None if uv is None else uv / 1e6
            if q is Quantity.BATTERY_CURRENT_A:
                ua = _read_int(self._battery / "current_now")
                status = (self._battery / "status").read_text().strip() if (self._battery / "status").exists() else ""
                return None if ua is None else (ua if status == "Charging" else -ua) / 1e6
        return None

    def set_switch(self, s: Switch, on: bool) -> bool:
        return False

    def set_utilisation(self, fraction: float) -> bool:
        return False


def open_board(url: str = "") -> LinuxHostBoard:
    """The "linux" driver: this host's own /sys (the URL is not used)."""
    return LinuxHostBoard()
