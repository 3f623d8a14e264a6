"""The host CPU's own energy meter: Linux powercap RAPL counters, so compute run on a real host
can be charged what the host really spent, next to what the payload model says it would.

Each package is a zone `intel-rapl:N` (AMD Zen exposes the same interface under the same name on
newer kernels) with `name` ("package-N"), `energy_uj`, a free-running counter that wraps at
`max_energy_range_uj`, and subzones `intel-rapl:N:M` (core, uncore, dram) that the package already
includes: only packages are summed, or the core would be counted twice. Top-level zones that are
not packages ("psys", the whole platform on some laptops) are left out for the same reason.

The counters are read as untrusted input: a value that is not a plain decimal, or is beyond the
counter's range, is counted in `bad_reads` and the reading dropped, never summed. Since
CVE-2020-8694 most kernels let only root read `energy_uj`; a host that refuses is a host without
RAPL, decided once at discovery.

`Rapl` is an `EnergyMeter` (energy.py): the compute manager sees only that interface, and the node
chooses the meter (`energy.discover_energy_meter`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gridfree.flight.hardware.energy import EnergyMeter

POWERCAP = Path("/sys/class/powercap")
_ZONE = re.compile(r"intel-rapl:\d+")  # packages; subzones are intel-rapl:N:M
_DECIMAL = re.compile(rb"[0-9]{1,20}")
_MAX_OCTETS = 64  # a counter is at most 20 digits; a longer file is not a counter


def _read_uJ(path: Path) -> int:
    """A counter file's value; ValueError if the contents are not a plain decimal."""
    with open(path, "rb") as f:  # builtin open: the only call that touches the file
        text = f.read(_MAX_OCTETS + 1).strip()
    if len(text) > _MAX_OCTETS or not _DECIMAL.fullmatch(text):
        raise ValueError(f"{path}: not a counter: {text[:24]!r}")
    return int(text)


@dataclass(frozen=True)
class Package:
    zone: Path
    name: str
    range_uJ: int  # energy_uj counts 0..range_uJ, then wraps to 0


@dataclass(frozen=True)
class Reading:
    """Every package's counter at one instant, in µJ. Kept apart because each wraps on its own
    range: a sum cannot be unwrapped."""
    uJ: tuple[int, ...]

    @property
    def J(self) -> float:
        return sum(self.uJ) / 1e6


class Rapl(EnergyMeter):
    def __init__(self, packages: list[Package]):
        self.packages = tuple(packages)
        self.bad_reads = 0

    @classmethod
    def discover(cls, root: Path | str = POWERCAP) -> Rapl | None:
        """The host's package counters, or None if it has none we may read (no powercap, no
        package zone, permission denied, a zone whose name or range is garbage). All or nothing:
        a sum that silently missed one package would undercount."""
        try:
            zones = sorted(z for z in Path(root).iterdir() if _ZONE.fullmatch(z.name))
            packages = []
            for zone in zones:
                with open(zone / "name", "rb") as f:
                    name = f.read(_MAX_OCTETS).decode("ascii", "replace").strip()
                if not name.startswith("package"):
                    continue
                range_uJ = _read_uJ(zone / "max_energy_range_uj")
                if range_uJ == 0:
                    raise ValueError(f"{zone}: counter range 0")
                packages.append(Package(zone, name, range_uJ))
            if not packages:
                return None
            rapl = cls(packages)
            return rapl if rapl.read_J() is not None else None
        except (OSError, ValueError):  # PermissionError is an OSError: non-root since CVE-2020-8694
            return None

    def read_J(self) -> Reading | None:
        """All packages now (`.J` is their sum), or None if any counter read badly (counted)."""
        values = []
        for p in self.packages:
            try:
                value = _read_uJ(p.zone / "energy_uj")
            except (OSError, ValueError):
                value = -1
            if not 0 <= value <= p.range_uJ:
                self.bad_reads += 1
                return None
            values.append(value)
        return Reading(tuple(values))

    def delta_J(self, before: Reading, after: Reading) -> float:
        """Energy between two readings, each package unwrapped on its own range. A counter that
        went down wrapped once: the readings must be closer than a wrap period (minutes: a typical
        range of 262 kJ, 2^32 counts of 61 µJ, lasts 44 min at 100 W)."""
        if len(before.uJ) != len(self.packages) or len(after.uJ) != len(self.packages):
            raise ValueError("readings of another set of packages")
        total = 0
        for p, b, a in zip(self.packages, before.uJ, after.uJ):
            total += a - b if a >= b else a + p.range_uJ - b
        return total / 1e6
