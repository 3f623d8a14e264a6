"""The life of one channel's alarm: the ISA-18.2 state machine, with shelving and out-of-service.

Two things are kept apart, as ISA-18.2 keeps them: the process condition (what the latest value
says: NORMAL, LO, HIHI, ..., or INVALID) and the alarm state (what the operator has seen of it):

    NORMAL ──out of limits──▶ UNACK ──acknowledge──▶ ACKED ──back in limits──▶ NORMAL
                              │  ▲                                     (latching: LATCHED_ACKED)
            back in limits    │  └─ out of limits again (or worse than acknowledged)
                              ▼
                          RTN_UNACK ──acknowledge──▶ NORMAL
                        (latching: LATCHED_UNACK ──acknowledge──▶ LATCHED_ACKED ──reset──▶ NORMAL)

A latched alarm stays until the operator has acknowledged it AND reset it, even when the value
came back long ago: for the channels where a brief excursion matters (a battery that dipped under
its red limit for one second has been damaged). INVALID changes no alarm state: a value that is
not a measurement neither raises an alarm nor clears one.

Suppression sits on top. A shelved alarm runs the machine silently (not annunciated, not
counted); an out-of-service channel has no alarm at all until it is returned to service, when
its present condition is annunciated as new.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from gridfree.ground.alarms.condition import SEVERITY_RANK, Condition
from gridfree.ground.alarms.shelving import AlarmActionError, Shelf

OWNER_MAX_CHARS = 40
NOTE_MAX_CHARS = 400


class AlarmState(enum.Enum):
    """ISA-18.2 alarm states; `label` is what the table shows, never colour alone."""

    NORMAL = "NORMAL"
    UNACK = "UNACK"
    ACKED = "ACKED"
    RTN_UNACK = "RTN UNACK"
    LATCHED_UNACK = "LATCHED UNACK"
    LATCHED_ACKED = "LATCHED, RESET?"

    @property
    def label(self) -> str:
        return self.value

    @property
    def unacknowledged(self) -> bool:
        return self in (AlarmState.UNACK, AlarmState.RTN_UNACK, AlarmState.LATCHED_UNACK)


@dataclass(frozen=True)
class Note:
    text: str
    wall_time_s: float  # unix seconds on the ground, when the operator wrote it


def one_line(text: Any, limit: int, what: str) -> str:
    """Operator text as one trimmed line (control characters become spaces), or a clear refusal."""
    if not isinstance(text, str):
        raise AlarmActionError(f"{what} must be text, not {type(text).__name__}")
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(text) > limit:
        raise AlarmActionError(f"{what} is {len(text)} characters; at most {limit}")
    return text


@dataclass
class ChannelAlarm:
    """One limit-checked channel's alarm. Operator actions raise `AlarmActionError` when they do
    not apply; the methods that move the machine return True when they annunciated an alarm (a new
    one, one worse than acknowledged, one back from a shelf or from out of service), which is what
    the flood counter counts."""

    name: str
    latching: bool = False
    condition: Condition = Condition.NORMAL
    state: AlarmState = AlarmState.NORMAL
    worst: str | None = None  # worst severity since raised or last acknowledged
    acked_severity: str | None = None  # the severity the operator acknowledged
    value: Any = None
    value_time_s: float | None = None  # onboard time of the latest value
    raised_s: float | None = None  # onboard time of the latest annunciation
    shelf: Shelf | None = None
    out_of_service: bool = False
    owner: str = ""
    notes: list[Note] = field(default_factory=list)

    # ---- what the table asks -----------------------------------------------------------------------
    @property
    def shown(self) -> bool:
        """In the alarm table: an alarm, an INVALID value, or a suppression the operator must see."""
        return (self.state is not AlarmState.NORMAL or self.condition is Condition.INVALID
                or self.shelf is not None or self.out_of_service)

    @property
    def needs_operator(self) -> bool:
        """Unacknowledged and neither shelved nor out of service: what the status bar counts."""
        return self.state.unacknowledged and self.shelf is None and not self.out_of_service

    # ---- the process ---------------------------------------------------------------------------------
    def observe(self, condition: Condition, value: Any, time_s: float) -> bool:
        """A new value and its condition."""
        self.value, self.value_time_s, self.condition = value, time_s, condition
        if self.out_of_service or condition is Condition.INVALID:
            return False
        before, worst_before = self.state, self.worst
        self.state = self._next(condition)
        if self.state is AlarmState.NORMAL:
            self._clear()
        elif self.state is AlarmState.UNACK and (
                before is not AlarmState.UNACK or SEVERITY_RANK[condition.severity] > SEVERITY_RANK[self.worst]):
            self.worst = condition.severity
        if self.shelf is not None:
            if self.shelf.one_shot and condition is Condition.NORMAL:
                self.shelf = None  # one-shot: ends when the alarm clears; the operator knew of it
                if self.state is AlarmState.RTN_UNACK:
                    self._clear()
            return False
        annunciated = self.state is AlarmState.UNACK and (before is not AlarmState.UNACK or self.worst != worst_before)
        if annunciated:
            self.raised_s = time_s
        return annunciated

    def _next(self, c: Condition) -> AlarmState:
        s = AlarmState
        if c.abnormal:
            if self.state is s.ACKED and SEVERITY_RANK[c.severity] <= SEVERITY_RANK[self.acked_severity or "green"]:
                return s.ACKED
            return s.UNACK
        # back to NORMAL
        if self.state is s.UNACK:
            return s.LATCHED_UNACK if self.latching else s.RTN_UNACK
        if self.state is s.ACKED:
            return s.LATCHED_ACKED if self.latching else s.NORMAL
        return self.state

    def _raise(self) -> None:
        """Annunciate the present condition as a new alarm, raised when its value was measured."""
        self.state, self.worst, self.acked_severity = AlarmState.UNACK, self.condition.severity, None
        self.raised_s = self.value_time_s

    def _clear(self) -> None:
        self.state, self.worst, self.acked_severity = AlarmState.NORMAL, None, None

    # ---- the operator ----------------------------------------------------------------------------------
    def acknowledge(self) -> bool:
        """'Seen': True if there was anything to acknowledge."""
        s = AlarmState
        if self.state is s.UNACK:
            self.state = s.ACKED
            self.worst = self.acked_severity = self.condition.severity if self.condition.abnormal else self.worst
        elif self.state is s.RTN_UNACK:
            self._clear()
        elif self.state is s.LATCHED_UNACK:
            self.state = s.LATCHED_ACKED
        else:
            return False
        return True

    def reset(self) -> None:
        """Release a latched alarm that has been acknowledged and is back in limits."""
        if not self.latching:
            raise AlarmActionError(f"{self.name} does not latch; there is nothing to reset")
        if self.state is AlarmState.LATCHED_ACKED:
            self._clear()
            return
        if self.state.unacknowledged:
            raise AlarmActionError(f"{self.name} is unacknowledged: acknowledge it before resetting it")
        if self.state is AlarmState.ACKED:
            raise AlarmActionError(f"{self.name} is still {self.condition.code}: it can be reset once back in limits")
        raise AlarmActionError(f"{self.name} is not latched")

    def shelve(self, shelf: Shelf) -> None:
        if self.out_of_service:
            raise AlarmActionError(f"{self.name} is out of service; return it to service before shelving it")
        if self.state is AlarmState.NORMAL:
            raise AlarmActionError(f"{self.name} has no alarm to shelve")
        self.shelf = shelf

    def unshelve(self) -> bool:
        """End the shelf (the operator, or its time is over): an alarm still out of limits is
        annunciated again, one that cleared meanwhile goes (a latched one stays latched)."""
        if self.shelf is None:
            raise AlarmActionError(f"{self.name} is not shelved")
        self.shelf = None
        if self.condition.abnormal:
            self._raise()
            return True
        if self.state is AlarmState.RTN_UNACK:
            self._clear()
        return False

    def remove_from_service(self) -> None:
        if self.out_of_service:
            raise AlarmActionError(f"{self.name} is already out of service")
        self.out_of_service, self.shelf = True, None
        self._clear()

    def return_to_service(self) -> bool:
        """Back in service: a value out of limits now is a new alarm."""
        if not self.out_of_service:
            raise AlarmActionError(f"{self.name} is in service")
        self.out_of_service = False
        if self.condition.abnormal:
            self._raise()
            return True
        return False

    def set_owner(self, owner: str) -> None:
        self.owner = one_line(owner, OWNER_MAX_CHARS, "an owner")

    def add_note(self, text: str, wall_time_s: float) -> Note:
        text = one_line(text, NOTE_MAX_CHARS, "a note")
        if not text:
            raise AlarmActionError("a note needs some text")
        note = Note(text, wall_time_s)
        self.notes.append(note)
        return note
