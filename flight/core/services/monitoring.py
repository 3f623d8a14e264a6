"""PUS services 12 (on-board monitoring) and 19 (event-action).

A parameter monitoring definition (PMON) checks one telemetry channel every fast tick against a
low and a high limit, or against a maximum change per second. With `window_s` the limits apply to
the channel's increase over the last `window_s` seconds instead of its value: a counter (commands
rejected, frames bad) is judged by its rate, since a cumulative count only grows and would trip
once for good on the third garbled uplink of a mission. A check must fail `repetitions` checks
in a row before it raises its event, so one noisy sample cannot trip the node. An event-action
definition binds an event to a telecommand that is executed through the normal dispatcher (with
verification and counters) when the event is raised on board, e.g. under-voltage -> SAFE.

Definitions come from the node's configuration; TC[12,1]/[12,2] and TC[19,4]/[19,5] enable and
disable them in flight. Disabling is hazardous (it needs an ARM): it is how the under-voltage
monitor and its SAFE action would be switched off.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.messages import ONBOARD, CommandPacket
from gridfree.flight.core.ports import OutPort
from gridfree.flight.core.messages import EventOccurred
from gridfree.protocols.dictionary import Channel, Command, Event, Field, Severity, HousekeepingPacket
from gridfree.protocols.services.verification import FailureCode

_ONE_ID = (Field("count", "u8", min=1, max=1), Field("id", "u16"))


@dataclass
class Pmon:
    id: int
    channel: str
    low: float | None = None
    high: float | None = None
    max_delta_per_s: float | None = None
    repetitions: int = 1
    window_s: float | None = None  # judge the increase over this window, not the value
    enabled: bool = True
    failures: int = 0
    tripped: bool = False
    last: tuple[float, float] | None = None  # (time, value) of the previous check
    history: deque = field(default_factory=deque)  # (time, value) back to the window's start

    def judged(self, t: float, value: float) -> float:
        """The value the limits apply to: the raw value, or its increase over the window."""
        if self.window_s is None:
            return value
        h = self.history
        h.append((t, value))
        while len(h) > 1 and h[1][0] <= t - self.window_s:
            h.popleft()
        return value - h[0][1]


@dataclass
class EventAction:
    event: str
    packet: bytes  # the TC to run, built at configuration time
    enabled: bool = True
    match: dict = field(default_factory=dict)  # event arguments that must match, e.g. {"pmon_id": 1}
    fired: int = 0


class MonitoringService(Component):
    channels = (
        Channel(1, "ChecksFailed", "u32", description="Monitoring checks out of limits"),
        Channel(2, "ActionsFired", "u32", description="Event-actions executed"),
    )
    housekeeping = (HousekeepingPacket(1, "Status", ("ChecksFailed", "ActionsFired"), 1.0, "On-board monitoring"),)
    ports = (OutPort("commandOut", CommandPacket, "event-actions' TCs, to the dispatcher", returns=bool),)
    commands = (
        Command("EnablePmon", service=12, subtype=1, arguments=_ONE_ID, description="TC[12,1]"),
        Command("DisablePmon", service=12, subtype=2, arguments=_ONE_ID, hazardous=True, description="TC[12,2]"),
        Command("EnableAction", service=19, subtype=4, arguments=_ONE_ID, description="TC[19,4] (id: event id)"),
        Command("DisableAction", service=19, subtype=5, arguments=_ONE_ID, hazardous=True,
                description="TC[19,5] (id: event id)"),
    )
    events = (
        Event(1, "BelowLow", Severity.WARNING_HI, "PMON {pmon_id}: {value:.3f} below {limit:.3f}",
              (Field("pmon_id", "u16"), Field("value", "f64"), Field("limit", "f64"))),
        Event(2, "AboveHigh", Severity.WARNING_HI, "PMON {pmon_id}: {value:.3f} above {limit:.3f}",
              (Field("pmon_id", "u16"), Field("value", "f64"), Field("limit", "f64"))),
        Event(3, "DeltaExceeded", Severity.WARNING_LO, "PMON {pmon_id}: changing {rate:.3f}/s, limit {limit:.3f}/s",
              (Field("pmon_id", "u16"), Field("rate", "f64"), Field("limit", "f64"))),
        Event(4, "BackInLimits", Severity.ACTIVITY_LO, "PMON {pmon_id}: back within limits", (Field("pmon_id", "u16"),)),
    )

    def __init__(self, name: str, id_base: int, *, pmons: list[Pmon] = (), actions: list[EventAction] = ()):
        super().__init__(name, id_base)
        self.pmons = {p.id: p for p in pmons}
        self.actions = list(actions)
        self.checks_failed = 0
        self.actions_fired = 0

    def attach(self, ctx) -> None:
        super().attach(ctx)
        for p in self.pmons.values():
            if p.channel not in ctx.dictionary.channel_by_name:
                raise ValueError(f"PMON {p.id}: no telemetry channel {p.channel!r}")
        for a in self.actions:
            if a.event not in ctx.dictionary.event_by_name:
                raise ValueError(f"event-action: no event {a.event!r}")
        ctx.bus.subscribe(EventOccurred, self._on_event)

    def schedule(self):
        return {"fast": [self.tick]}

    def tick(self, t: float) -> None:
        for p in self.pmons.values():
            if p.enabled:
                self._check(p, t)
        self.tlm("ChecksFailed", self.checks_failed)
        self.tlm("ActionsFired", self.actions_fired)

    def _check(self, p: Pmon, t: float) -> None:
        value = p.judged(t, float(self.ctx.telemetry.read(p.channel)))
        violation = None
        if p.low is not None and value < p.low:
            violation = ("BelowLow", dict(value=value, limit=p.low))
        elif p.high is not None and value > p.high:
            violation = ("AboveHigh", dict(value=value, limit=p.high))
        elif p.max_delta_per_s is not None and p.last is not None and t > p.last[0]:
            rate = abs(value - p.last[1]) / (t - p.last[0])
            if rate > p.max_delta_per_s:
                violation = ("DeltaExceeded", dict(rate=rate, limit=p.max_delta_per_s))
        p.last = (t, value)
        if violation is None:
            p.failures = 0
            if p.tripped:
                p.tripped = False
                self.log("BackInLimits", pmon_id=p.id)
            return
        self.checks_failed += 1
        p.failures += 1
        if p.failures >= p.repetitions and not p.tripped:
            p.tripped = True
            self.log(violation[0], pmon_id=p.id, **violation[1])

    def _on_event(self, ev: EventOccurred) -> None:
        for a in self.actions:
            if a.enabled and a.event == ev.name and all(ev.args.get(k) == v for k, v in a.match.items()):
                a.fired += 1
                self.actions_fired += 1
                self.out("commandOut", CommandPacket(a.packet, ONBOARD))  # configured, not uplinked

    def _pmon(self, pmon_id: int) -> Pmon:
        if pmon_id not in self.pmons:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, f"no monitoring definition {pmon_id}")
        return self.pmons[pmon_id]

    def _actions(self, event_id: int) -> list[EventAction]:
        ev = self.ctx.dictionary.event_by_id.get(event_id)
        found = [a for a in self.actions if ev is not None and a.event == ev.name]
        if not found:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, f"no event-action for event id {event_id}")
        return found

    def cmd_EnablePmon(self, count: int, id: int) -> None:
        p = self._pmon(id)
        p.enabled, p.failures, p.tripped = True, 0, False
        p.history.clear()

    def cmd_DisablePmon(self, count: int, id: int) -> None:
        self._pmon(id).enabled = False

    def cmd_EnableAction(self, count: int, id: int) -> None:
        for a in self._actions(id):
            a.enabled = True

    def cmd_DisableAction(self, count: int, id: int) -> None:
        for a in self._actions(id):
            a.enabled = False
