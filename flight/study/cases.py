"""The study's cases: orbits (the rig's presets as the node knows them, three more, and any orbit a
user names) crossed with workloads.

Workloads: "energy" is a standing batch job that takes whatever the board does (plain energy: a
policy is judged on work per orbit); "deadlines" is a job every half hour due three hours on, about
what half an hour's energy buys, and only jobs finished in time count (a policy must also put the
work where the deadlines are); "overload" is the same stream with half as much work again in each
job, more than the energy buys, so a policy must also choose which jobs to finish.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from gridfree.flight.power.eclipse import J2, MU_KM3_S2, RE_KM, OrbitElements, _sun_km
from gridfree.flight.study.schedsim import Case

EQUINOX = 1_774_008_000.0  # 2026-03-20T12:00:00Z, the rig's default start
WORKLOADS = ("energy", "deadlines", "overload")


def sun_synchronous_inclination_deg(altitude_km: float) -> float:
    """The inclination whose J2 nodal drift follows the Sun (360 deg a tropical year)."""
    a = RE_KM + altitude_km
    n = math.sqrt(MU_KM3_S2 / a ** 3)
    return math.degrees(math.acos(-(2 * math.pi / (365.2422 * 86_400.0)) / (1.5 * n * J2 * (RE_KM / a) ** 2)))


def circular(altitude_km: float, inclination_deg: float | None, ltan_h: float, epoch_unix_s: float) -> OrbitElements:
    """A circular orbit whose ascending node crosses at local solar time `ltan_h` at the epoch
    (inclination None: sun-synchronous at that altitude)."""
    x, y, _ = _sun_km(epoch_unix_s)
    raan = (math.degrees(math.atan2(y, x)) + 15.0 * (ltan_h - 12.0)) % 360.0
    inc = sun_synchronous_inclination_deg(altitude_km) if inclination_deg is None else inclination_deg
    return OrbitElements(epoch_unix_s, RE_KM + altitude_km, 0.0, inc, raan, 0.0, 0.0)


# The node's view of the rig's presets: mean elements as orbit determination would upload them.
ISS_BETA_40 = OrbitElements(EQUINOX, 6871.5, 0.0, 51.6, 55.0, 0.0, 0.0, 5642.0)  # equinox, beta ~40 deg
DAWN_DUSK_SEASON = OrbitElements(1_782_000_000.0, 7021.0, 0.0, 97.99, 180.0, 0.0, 0.0, 5855.0)
ORBITS = {
    "nominal": ISS_BETA_40,
    "eclipse-season": DAWN_DUSK_SEASON,
    "sso800-1030": circular(800.0, None, 10.5, EQUINOX),
    "leo400-51.6": circular(400.0, 51.6, 12.0, EQUINOX),
    "leo1200-53": circular(1200.0, 53.0, 12.0, EQUINOX),
}
PRESETS = {  # the rig's orbit presets (ground/hil/orbit.py `preset`): altitude, inclination, ascending node
    "leo550": (550.0, 53.0, "raan 0"),
    "iss500": (500.0, 51.6, "raan 0"),
    "sso650-dawn-dusk": (650.0, None, "ltan 18"),
}


def cases(hours: float = 24.0) -> list[Case]:
    """Every orbit with every workload, plus the degraded-array and hot variants of the nominal one."""
    out = []
    variants = [(name, Case(name, el)) for name, el in ORBITS.items()]
    variants.insert(1, ("degraded-array", Case("degraded-array", ISS_BETA_40, array_sun_W=2150.0)))
    variants.insert(2, ("hot", Case("hot", ISS_BETA_40, sink_C=25.0, conductance_W_K=40.0)))
    for name, case in variants:
        for workload in WORKLOADS:
            out.append(with_workload(replace(case, name=f"{name}/{workload}", hours=hours), workload))
    return out


def with_workload(case: Case, workload: str) -> Case:
    if workload == "energy":
        return replace(case, job_every_s=math.inf, backlog=True)
    if workload == "deadlines":
        return replace(case, backlog=False)
    if workload == "overload":
        return replace(case, backlog=False, job_mflop=1.5 * case.job_mflop)
    raise ValueError(f"unknown workload {workload!r} (known: {', '.join(WORKLOADS)})")


def parse_orbit(text: str) -> OrbitElements:
    """ALT_KM,INC_DEG,LTAN_H (INC_DEG "sso" for sun-synchronous), at the equinox epoch."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise ValueError(f"--orbit {text!r}: expected ALT_KM,INC_DEG,LTAN_H (e.g. 800,sso,10.5 or 1200,53,12)")
    try:
        alt = float(parts[0])
        inc = None if parts[1].lower() == "sso" else float(parts[1])
        ltan = float(parts[2])
    except ValueError:
        raise ValueError(f"--orbit {text!r}: altitude, inclination and local time must be numbers "
                         "(inclination may be 'sso')") from None
    if not (150.0 <= alt <= 3000.0) or (inc is not None and not 0.0 <= inc <= 180.0) or not 0.0 <= ltan < 24.0:
        raise ValueError(f"--orbit {text!r}: altitude 150-3000 km, inclination 0-180 deg, local time 0-24 h")
    return circular(alt, inc, ltan, EQUINOX)


def orbit_of_scenario(path: Path) -> tuple[str, OrbitElements]:
    """The orbit a rig scenario file flies (its `orbit` preset at its `start`)."""
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the scenario: {exc}") from None
    name = str(doc.get("orbit", "iss500"))
    if name not in PRESETS:
        raise ValueError(f"{path}: orbit {name!r} is not a preset the study knows ({', '.join(PRESETS)})")
    start = EQUINOX
    if "start" in doc:
        try:
            start = datetime.fromisoformat(str(doc["start"]).replace("Z", "+00:00")).timestamp()
        except ValueError as exc:
            raise ValueError(f"{path}: start: {exc}") from None
    alt, inc, node = PRESETS[name]
    if node.startswith("ltan"):
        return name, circular(alt, inc, float(node.split()[1]), start)
    return name, OrbitElements(start, RE_KM + alt, 0.0, inc, 0.0, 0.0, 0.0)
