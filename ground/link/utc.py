"""Time as the ground shows and reads it: UTC, ISO 8601, milliseconds, a Z at the end."""
from __future__ import annotations

from datetime import datetime, timezone

from gridfree.protocols.dictionary import Channel, utc_text


def is_absolute_time(ch: Channel) -> bool:
    """Whether a channel's values are instants shown as UTC dates rather than durations: as its
    declaration says (`time_scale`), never guessed from its type, unit or description."""
    return ch.time_scale == "UTC"


stamp = utc_text  # unix seconds as 2026-03-20T12:00:00.000Z, as the dictionary shows it


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
