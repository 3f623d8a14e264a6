"""The one interface every transport offers: bytes (or datagrams) in and out, with statistics.

Links move bytes and nothing else; framing belongs to the sans-IO decoders, which is what lets
the same decoder run on a pty, TCP, UDP or a recorded file. Read timeouts return b"" rather than
raising, because silence is normal on a radio link.
"""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields


class LinkError(IOError):
    """A link could not be opened or used as asked (bad URL, bad option, closed link)."""


@dataclass
class LinkStats:
    bytes_in: int = 0
    bytes_out: int = 0
    reads: int = 0
    writes: int = 0
    datagrams_in: int = 0
    datagrams_out: int = 0
    dropped_writes: int = 0  # written while no peer was connected: lost, as a radio out of view
    errors: int = 0
    reconnects: int = 0
    connected: bool = False

    def snapshot(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Link(ABC):
    #: True when each read returns one datagram and each write sends one (UDP).
    is_datagram: bool = False

    def __init__(self, url: str):
        self.url = url
        self.stats = LinkStats()
        self._closed = threading.Event()
        self.last_error: str = ""

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @abstractmethod
    def read(self, max_bytes: int = 65536, timeout: float | None = 0.1) -> bytes:
        """Up to `max_bytes` (or one datagram); b"" when nothing came within `timeout`."""

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Send all of `data` (or one datagram), or count it dropped if no peer is connected."""

    @abstractmethod
    def _close(self) -> None: ...

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._close()
            self.stats.connected = False

    def _error(self, exc: BaseException) -> None:
        self.stats.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
