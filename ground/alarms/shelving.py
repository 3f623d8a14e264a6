"""Shelving: the operator silences one alarm on purpose, for a while or until it clears.

ISA-18.2 asks that shelving be deliberate, visible and bounded: a shelved alarm stays in the
table (marked ◷ SHELVED), it is not annunciated nor counted while shelved, and it comes back by
itself. A timed shelf ends at its time (and the alarm is annunciated again if it is still out of
limits); a one-shot shelf ends when the alarm returns to normal, so the next excursion is raised
as usual. Times are ground monotonic seconds: a shelf must not end early or late because the
node's clock or the wall clock jumped.
"""
from __future__ import annotations

from dataclasses import dataclass

#: The longest an operator may shelve an alarm for. An alarm shelved and forgotten is an alarm
#: removed without review; a day covers a shift handover.
MAX_SHELVE_S = 24 * 3600.0


class AlarmActionError(ValueError):
    """An operator action that does not apply to this alarm now; the message says why, in one line."""


@dataclass(frozen=True)
class Shelf:
    """`until_s` is the ground monotonic time a timed shelf ends; None for a one-shot shelf."""

    since_s: float
    until_s: float | None = None

    @property
    def one_shot(self) -> bool:
        return self.until_s is None

    def expired(self, now_s: float) -> bool:
        return self.until_s is not None and now_s >= self.until_s

    def left_s(self, now_s: float) -> float | None:
        """Seconds until a timed shelf ends (never negative); None for a one-shot shelf."""
        return None if self.until_s is None else max(0.0, self.until_s - now_s)

    def describe(self, now_s: float) -> str:
        """The cell text: '◷ SHELVED 14 min' or '◷ SHELVED until normal'."""
        left = self.left_s(now_s)
        if left is None:
            return "◷ SHELVED until normal"
        return f"◷ SHELVED {left / 60:.0f} min" if left >= 60 else f"◷ SHELVED {left:.0f} s"


def timed(now_s: float, duration_s: float) -> Shelf:
    """A shelf ending `duration_s` from now; refuses what is not a positive duration up to a day."""
    if not isinstance(duration_s, (int, float)) or not 0 < duration_s <= MAX_SHELVE_S:
        raise AlarmActionError(f"shelve for more than 0 s and at most {MAX_SHELVE_S / 3600:.0f} h, not {duration_s!r}")
    return Shelf(now_s, now_s + float(duration_s))


def one_shot(now_s: float) -> Shelf:
    return Shelf(now_s, None)
