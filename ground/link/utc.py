"""Time as the ground shows and reads it: UTC, ISO 8601, milliseconds, a Z at the end."""
from __future__ import annotations

from datetime import datetime, timezone

from gridfree.protocols.dictionary import Channel

#: The declared wire type and unit of an absolute time: seconds since the Unix epoch, in f64.
ABSOLUTE_TIME_TYPE, ABSOLUTE_TIME_UNIT = "f64", "s"


def is_absolute_time(ch: Channel) -> bool:
    """Whether a channel's values are instants (unix seconds, shown in UTC) rather than durations.

    The dictionary has no marker for a time scale, so this reads the declaration: a channel in
    seconds carried as f64. Durations need no f64 (the node sends them as f32 or u32: a second's
    resolution over decades is not a duration's need), while an instant as f32 would lose minutes
    at today's epoch, so f64 seconds is what the node declares exactly for its instants
    (power.NextEclipseEntry, power.NextEclipseExit). A channel may be asked by its declaration
    only; its description text is for people.
    """
    return ch.type == ABSOLUTE_TIME_TYPE and ch.unit == ABSOLUTE_TIME_UNIT


def stamp(t: float) -> str:
    """Unix seconds as 2026-03-20T12:00:00.000Z."""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(text: str) -> float:
    """UTC as ISO 8601 (2026-03-20T12:00:00Z; no zone means UTC) or unix seconds; ValueError if neither."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither ISO 8601 UTC nor unix seconds") from None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()
