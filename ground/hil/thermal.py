"""Thermal truth: lumped nodes joined by conductances, radiating to space, heated by the Sun, the
Earth and their own dissipation.

C dT/dt = Q_internal + Q_sun + Q_earth + sum G (T_other - T) - eps sigma A T^4 (radiating nodes).
Integrated with explicit Euler in sub-steps no longer than a tenth of the smallest time constant.
"""
from __future__ import annotations

from dataclasses import dataclass, field

STEFAN_BOLTZMANN_W_M2K4 = 5.670374419e-8  # CODATA 2018
EARTH_IR_W_M2 = 237.0  # mean outgoing long-wave radiation (NASA Earth energy budget)
EARTH_ALBEDO = 0.30
ZERO_C_K = 273.15


@dataclass
class ThermalNode:
    name: str
    heat_capacity_J_K: float
    temp_K: float = 293.15
    radiating_area_m2: float = 0.0  # area that sees deep space (and the Earth)
    emissivity: float = 0.85
    absorptivity: float = 0.2
    sun_area_m2: float = 0.0  # projected area facing the Sun
    internal_W: float = 0.0

    @property
    def temp_C(self) -> float:
        return self.temp_K - ZERO_C_K


def radiated_W(node: ThermalNode) -> float:
    return node.emissivity * STEFAN_BOLTZMANN_W_M2K4 * node.radiating_area_m2 * node.temp_K ** 4


@dataclass
class ThermalModel:
    nodes: dict[str, ThermalNode]
    conductances_W_K: dict[tuple[str, str], float] = field(default_factory=dict)

    def step(self, dt_s: float, solar_flux_W_m2: float, earth_view_factor: float) -> None:
        tau = min(n.heat_capacity_J_K / (sum(g for (a, b), g in self.conductances_W_K.items() if n.name in (a, b))
                                        + 4 * n.emissivity * STEFAN_BOLTZMANN_W_M2K4 * n.radiating_area_m2
                                        * n.temp_K ** 3 + 1e-9) for n in self.nodes.values())
        sub = max(1, int(dt_s / (0.1 * tau)) + 1)
        h = dt_s / sub
        for _ in range(sub):
            q = {name: n.internal_W + n.absorptivity * n.sun_area_m2 * solar_flux_W_m2
                 + n.radiating_area_m2 * earth_view_factor * (n.emissivity * EARTH_IR_W_M2
                                                              + n.absorptivity * EARTH_ALBEDO * solar_flux_W_m2)
                 - radiated_W(n) for name, n in self.nodes.items()}
            for (a, b), g in self.conductances_W_K.items():
                flow = g * (self.nodes[b].temp_K - self.nodes[a].temp_K)
                q[a] += flow
                q[b] -= flow
            for name, n in self.nodes.items():
                n.temp_K += q[name] * h / n.heat_capacity_J_K


def default_thermal() -> ThermalModel:
    """An AI node: a GPU-class payload (6 kW at full clock, ~3 kW sustained) on a cold plate to an
    8 m^2 radiator (about 400 W/m^2 at 300 K), the battery and the structure. Capacities from
    masses x specific heats (Al 900 J/kg/K, Li-ion ~1000 J/kg/K)."""
    nodes = {
        "payload": ThermalNode("payload", 25.0 * 900, 303.15),
        "battery": ThermalNode("battery", 45.0 * 1000, 293.15, radiating_area_m2=0.1),
        "structure": ThermalNode("structure", 120.0 * 900, 293.15, radiating_area_m2=2.0, sun_area_m2=2.0,
                                 absorptivity=0.3, emissivity=0.8),
        "radiator": ThermalNode("radiator", 30.0 * 900, 293.15, radiating_area_m2=8.0, emissivity=0.88,
                                absorptivity=0.15),
    }
    g = {("payload", "radiator"): 150.0, ("battery", "structure"): 3.0, ("structure", "radiator"): 5.0,
         ("payload", "structure"): 2.0}
    return ThermalModel(nodes, g)
