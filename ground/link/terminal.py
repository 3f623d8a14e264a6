"""Telemetry as lines of text: what `gridfree tm` and `gridfree replay` print, and transfers saved.

Subscribers for any `TelemetrySource`, so a live link and a replayed log print the same way.
"""
from __future__ import annotations

from pathlib import Path

from gridfree.ground.link.dictfile import DictionaryFileError, load_dictionary
from gridfree.ground.link.utc import stamp
from gridfree.protocols.dictionary import Dictionary

#: The magic at the head of a PUS 13 transfer, and what it is (the name its file gets).
TRANSFER_KINDS = {b"GFRS": "result", b"GFST": "statement"}


class UnknownChannelError(ValueError):
    """Channel names asked for that the dictionary does not have."""

    def __init__(self, names: set[str]):
        super().__init__(f"unknown channel(s) {', '.join(sorted(names))}")
        self.names = names


def channel_filter(d: Dictionary, text: str) -> set[str]:
    """Channel names from a comma-separated list, all known to the dictionary (UnknownChannelError if not)."""
    wanted = {c for c in text.split(",") if c}
    unknown = wanted - set(d.channel_by_name)
    if unknown:
        raise UnknownChannelError(unknown)
    return wanted


def printer(d: Dictionary, wanted: set[str]):
    """A subscriber printing samples and events one per line, the same for a link and a replay."""
    def show(kind, item):
        if kind == "sample" and (not wanted or item.channel in wanted):
            ch = d.channel_by_name[item.channel]
            value = next((k for k, v in (ch.enum or {}).items() if v == item.value), item.value)
            print(f"{stamp(item.time_s)} {item.channel} = {value} {ch.unit}".rstrip(), flush=True)
        elif kind == "event":
            sev = item.severity.name if item.severity is not None else "?"
            print(f"{stamp(item.time_s)} EVENT {sev} {item.text}", flush=True)
    return show


def transfer_saver(directory: Path):
    """A subscriber writing each whole PUS 13 transfer to `directory`, named by its arrival time,
    transaction and kind (from its magic), so that a statement can go to `gridfree tokens
    statement` and a result to the tenant; transaction ids wrap, the time keeps names apart."""
    directory.mkdir(parents=True, exist_ok=True)

    def save(kind, item):
        if kind != "transfer":
            return
        what = TRANSFER_KINDS.get(item.data[:4], "data")
        path = directory / f"{item.time_s:.3f}-{item.transaction}-{what}.bin"
        path.write_bytes(item.data)
        print(f"{stamp(item.time_s)} TRANSFER {item.transaction}: {len(item.data)} octets ({what}) -> {path}",
              flush=True)
    return save


# ---- for the command-line tools: a message and an exit instead of a traceback -------------------

def load_or_exit(path: str) -> Dictionary:
    """The dictionary at `path`, or SystemExit with what is wrong with it (for the CLIs)."""
    try:
        return load_dictionary(path)
    except DictionaryFileError as exc:
        raise SystemExit(f"gridfree: {exc}")


def channels_or_exit(d: Dictionary, text: str) -> set[str]:
    try:
        return channel_filter(d, text)
    except UnknownChannelError as exc:
        raise SystemExit(f"gridfree: {exc}")
