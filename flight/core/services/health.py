"""Health of the node's active parts: pings answered from each part's own thread.

A part that has not answered within its timeout is reported (event and counters) and restarted
through the hook it registered. The node's own liveness is the software watchdog's job
(`core.health.SoftwareWatchdog`), kicked from the node component's 1 Hz tick.
"""
from __future__ import annotations

from gridfree.flight.core.component import Component
from gridfree.flight.core.health import HealthMonitor, Pong, Watched, WatchRequest
from gridfree.flight.core.ports import InPort
from gridfree.protocols.dictionary import Channel, Event, Field, Severity, HousekeepingPacket


class HealthService(Component):
    channels = (
        Channel(1, "Pings", "u32", description="Health pings sent"),
        Channel(2, "Hangs", "u32", description="Components found hung"),
        Channel(3, "Restarts", "u32", description="Components restarted"),
    )
    housekeeping = (HousekeepingPacket(1, "Status", ("Pings", "Hangs", "Restarts"), 1.0, "Health monitoring"),)
    ports = (
        InPort("watchIn", WatchRequest, "an active part to ping from now on"),
        InPort("pongIn", Pong, "a part's answer to its ping, from the part's own thread"),
    )
    events = (
        Event(1, "ComponentHung", Severity.WARNING_HI, "{component} did not answer for {late_s:.1f} s; restarting it",
              (Field("component", "string[24]"), Field("late_s", "f32", "s"))),
    )

    def __init__(self, name: str, id_base: int):
        super().__init__(name, id_base)
        self.monitor = HealthMonitor(self._hung)

    def watchIn_handler(self, w: WatchRequest) -> None:
        self.monitor.watch(w.name, w.ping, w.restart, timeout_s=w.timeout_s)

    def pongIn_handler(self, pong: Pong) -> None:
        self.monitor.pong(pong.name, pong.key)

    def schedule(self):
        return {"slow": [self.tick]}

    def _hung(self, w: Watched, now: float) -> None:
        self.log("ComponentHung", component=w.name, late_s=w.timeout_s)

    def tick(self, _t: float) -> None:
        self.monitor.check()
        watched = self.monitor.watched()
        self.tlm("Pings", sum(w.pings for w in watched))
        self.tlm("Hangs", sum(w.hangs for w in watched))
        self.tlm("Restarts", sum(w.restarts for w in watched))
