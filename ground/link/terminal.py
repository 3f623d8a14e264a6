"""Telemetry as lines of text: what `gridfree tm` and `gridfree replay` print, and transfers saved.

Subscribers for any `TelemetrySource`, so a live link and a replayed log print the same way.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from gridfree.ground.link.dictfile import DictionaryFileError, load_dictionary
from gridfree.ground.link.utc import stamp
from gridfree.protocols.cliargs import EXIT_FAILED, EXIT_USAGE, CliError, did_you_mean
from gridfree.protocols.dictionary import Dictionary, value_text
from gridfree.protocols.links import LinkError

#: The magic at the head of a PUS 13 transfer, and what it is (the name its file gets).
TRANSFER_KINDS = {b"GFRS": "result", b"GFST": "statement"}


class UnknownChannelError(ValueError):
    """Channel names asked for that the dictionary does not have."""

    def __init__(self, names: set[str], known=()):
        known = list(known)
        said = ", ".join(f"{n} ({hint[2:]})" if (hint := did_you_mean(n, known)) else n for n in sorted(names))
        super().__init__(f"unknown channel{'s' if len(names) > 1 else ''} {said}; "
                         f"`gridfree dict` lists every channel")
        self.names = names


def channel_filter(d: Dictionary, text: str) -> set[str]:
    """Channel names from a comma-separated list, all known to the dictionary (UnknownChannelError if not)."""
    wanted = {c for c in text.split(",") if c}
    unknown = wanted - set(d.channel_by_name)
    if unknown:
        raise UnknownChannelError(unknown, d.channel_by_name)
    return wanted


def printer(d: Dictionary, wanted: set[str], on_closed=None):
    """A subscriber printing samples and events one per line, the same for a link and a replay;
    values in the channel's dictionary format, as the console shows them. When stdout's reader
    goes away (`gridfree tm | head`), `on_closed` is called once and nothing more is printed."""
    closed = []

    def say(text: str) -> None:
        if closed:
            return
        try:
            print(text, flush=True)
        except BrokenPipeError:
            closed.append(True)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            if on_closed is not None:
                on_closed()

    def show(kind, item):
        if kind == "sample" and (not wanted or item.channel in wanted):
            ch = d.channel_by_name[item.channel]
            say(f"{stamp(item.time_s)} {item.channel} = {value_text(ch, item.value)}")
        elif kind == "event":
            sev = item.severity.name if item.severity is not None else "?"
            say(f"{stamp(item.time_s)} EVENT {sev} {item.text}")
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


# ---- for the command-line tools: one line and an exit code instead of a traceback ---------------

def load_or_exit(path: str) -> Dictionary:
    """The dictionary at `path`, or CliError saying what is wrong with the file (a usage error)."""
    try:
        return load_dictionary(path)
    except DictionaryFileError as exc:
        raise CliError(f"--dict {exc}", EXIT_USAGE) from None


def channels_or_exit(d: Dictionary, text: str) -> set[str]:
    """The channels asked for, or CliError naming the unknown ones and the closest known names."""
    try:
        return channel_filter(d, text)
    except UnknownChannelError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def directory_or_exit(path: str, option: str) -> tuple[Path, Path | None]:
    """`path` as a directory to write into, made if missing, and the topmost directory this made
    (None if it was there), so a command that then fails can take back what it made; CliError if
    `path` cannot be a directory."""
    where = Path(path)
    if where.exists() and not where.is_dir():
        raise CliError(f"{option} {path}: is a file, not a directory; give a directory to write into", EXIT_USAGE)
    made = None
    for parent in (where, *where.parents):
        if parent.exists():
            break
        made = parent
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"{option} {path}: cannot make this directory: {exc.strerror}", EXIT_USAGE) from None
    return where, made


def connect_or_exit(client) -> None:
    """Open a ground client's link, or CliError: a link URL that cannot be opened is a usage error
    (2); a TCP peer that is not there (refused, unreachable) is said at once (1), rather than
    printing nothing or waiting out a command's timeout."""
    try:
        client.connect()
    except LinkError as exc:
        raise CliError(f"--link: {exc}", EXIT_USAGE) from None
    link = client.link
    if getattr(link, "listening", True) or link.stats.connected:
        return  # serial lines have no peer to miss; a listener waits for its peer by design
    reason = link.down_reason or link.last_error or f"cannot connect to {client.url}"
    client.close()
    raise CliError(f"{reason}: is the node running, with its radio on {client.url}? "
                   f"(check --link; `gridfree node` prints where its radio listens)", EXIT_FAILED)
