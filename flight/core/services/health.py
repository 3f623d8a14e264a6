"""Health of the node's active parts: pings answered from each part's own thread.

A part that has not answered within its timeout is reported (event and counters) and restarted
through the hook it registered. The node's own liveness is the software watchdog's job
(`core.health.SoftwareWatchdog`), kicked from the node component's 1 Hz tick.
"""
from __future__ import annotations

from gridfree.flight.core.component import Component
from gridfree.flight.core.health import HealthMonitor, Watched
from gridfree.protocols.dictionary import Channel, Event, Field, Severity, HousekeepingPacket


class HealthService(Component):
    channels = (
        Channel(1, "Pings", "u32", description="Health pings sent"),
        Channel(2, "Hangs", "u32", description="Components found hung"),
        Channel(3, "Restarts", "u32", description="Components restarted"),
    )
    housekeeping = (HousekeepingPacket(1, "Status", ("Pings", "Hangs", "Restarts"), 1.0, "Health monitoring"),)
    events = (
        Event(1, "ComponentHung", Severity.WARNING_HI, "{component} did not answer for {late_s:.1f} s; restarting it",
              (Field("component", "string[24]"), Field("late_s", "f32", "s"))),
    )

    def __init__(self, name: str = "health", id_base: int = 0x0090):
        super().__init__(name, id_base)
        self.monitor = HealthMonitor(self._hung)

    def schedule(self):
        return {"slow": [self.tick]}

    def _hung(self, w: Watched, now: float) -> None:
        self.log("ComponentHung", component=w.name[:24], late_s=w.timeout_s)

    def tick(self, _t: float) -> None:
        self.monitor.check()
        watched = self.monitor.watched()
        self.tlm("Pings", sum(w.pings for w in watched))
        self.tlm("Hangs", sum(w.hangs for w in watched))
        self.tlm("Restarts", sum(w.restarts for w in watched))
