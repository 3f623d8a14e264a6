"""PUS service 5: events with severity, per-event throttling, enable/disable.

Throttling is per event definition: at most ThrottleBurst reports of one event per ThrottleWindowS
(parameters, so the ground can tune them); the rest
are counted, not sent, so a flapping sensor cannot flood the downlink and bury the one event that
matters. Every event, sent or throttled, is also published on the software bus for on-board
consumers (PUS 19 event-actions).
"""
from __future__ import annotations

from collections import deque
from typing import Any

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.messages import EventOccurred
from gridfree.flight.core.downlink import VC_EVENTS
from gridfree.protocols.dictionary import Channel, Command, Field, HousekeepingPacket, Parameter
from gridfree.protocols.services import events as pus5
from gridfree.protocols.services.verification import FailureCode

_ONE_ID = (Field("count", "u8", min=1, max=1, description="N (one id per command)"),
           Field("event_id", "u16", description="Event definition id"))


class EventService(Component):
    channels = (
        Channel(1, "EventsSent", "u32", description="Event reports downlinked"),
        Channel(2, "EventsThrottled", "u32", description="Event reports withheld by throttling"),
        Channel(3, "EventsDisabled", "u32", description="Event reports withheld because disabled"),
    )
    housekeeping = (HousekeepingPacket(1, "Status", ("EventsSent", "EventsThrottled", "EventsDisabled"), 1.0,
                                       "Event reporting"),)
    commands = (
        Command("Enable", service=5, subtype=pus5.Subtype.ENABLE, arguments=_ONE_ID, description="TC[5,5]"),
        Command("Disable", service=5, subtype=pus5.Subtype.DISABLE, arguments=_ONE_ID, description="TC[5,6]"),
    )
    parameters = (
        Parameter(1, "ThrottleBurst", "u16", 5, description="Reports of one event allowed per window", min=1, max=1000),
        Parameter(2, "ThrottleWindowS", "f32", 10.0, "s", "Throttling window", min=0.1, max=3600.0),
    )

    def __init__(self, name: str, id_base: int):
        super().__init__(name, id_base)
        self._recent: dict[int, deque] = {}
        self.disabled: set[int] = set()
        self.sent = self.throttled = self.withheld = 0
        self.log_ring: deque = deque(maxlen=256)

    def emit(self, name: str, **args: Any) -> bool:
        ctx = self.ctx
        event = ctx.dictionary.event_by_name[name]
        now = ctx.clock.now()
        args = event.fit(args)  # a reason longer than the record: as much of it as fits
        aux = event.encode_args(**args)
        burst, window_s = self.param("ThrottleBurst"), self.param("ThrottleWindowS")
        stamps = self._recent.setdefault(event.id, deque())
        while stamps and stamps[0] <= now - window_s:
            stamps.popleft()
        send = False
        if event.id in self.disabled:
            self.withheld += 1
        elif len(stamps) >= burst:
            self.throttled += 1
        else:
            stamps.append(now)
            send = True
        if send:
            ctx.downlink.send(5, event.severity.pus_subtype, pus5.EventReport(event.severity.pus_subtype, event.id, aux).pack(),
                              VC_EVENTS)
            self.sent += 1
        self.log_ring.append((now, name, args, send))
        self.tlm("EventsSent", self.sent)
        self.tlm("EventsThrottled", self.throttled)
        self.tlm("EventsDisabled", self.withheld)
        ctx.bus.publish(EventOccurred(name, event.id, event.severity, args, now, send))
        return send

    def _known(self, event_id: int) -> None:
        if event_id not in self.ctx.dictionary.event_by_id:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, f"no event with id {event_id}")

    def cmd_Enable(self, count: int, event_id: int) -> None:
        self._known(event_id)
        self.disabled.discard(event_id)

    def cmd_Disable(self, count: int, event_id: int) -> None:
        self._known(event_id)
        self.disabled.add(event_id)
