"""What a run saw: the 30 s record of the truth and of what the node downlinked (for the report's
plots and the SOC criteria), and the observations at full step resolution that the finer criteria
need (shadow edges, eclipse predictions, the under-voltage crossing, events, commands)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RECORD_EVERY_S = 30.0


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

    def add_truth(self, t_h: float, truth) -> None:
        """One sample of the rig's truth (the node's columns are the caller's: they come from the ground)."""
        self.t_h.append(t_h)
        self.soc.append(truth.battery.soc)
        self.bus_V.append(truth.bus_V)
        self.solar_W.append(truth.solar_W)
        self.load_W.append(truth.loads.total_W)
        self.sunlit.append(truth.sunlit_fraction)
        for name, node in truth.thermal.nodes.items():
            self.temps_C.setdefault(name, []).append(node.temp_C)

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
    challenge_seed: int = 0  # the ground's random seed for this run's proofs (drawn per run)
    challenged: dict = field(default_factory=dict)  # job id -> seed of the compute.ProveBlocks sent for it

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
