"""The one interface every transport offers: bytes (or datagrams) in and out, with statistics.

Links move bytes and nothing else; framing belongs to the sans-IO decoders, which is what lets
the same decoder run on a pty, TCP, UDP or a recorded file. Read timeouts return b"" rather than
raising, because silence is normal on a radio link; OS errors (a peer reset, EIO from a pty whose
other end went away) are counted in `stats.errors` and described in `last_error` rather than
raised, because the thread that reads a radio must outlive anything the line does. A line or peer
that goes away is tried again with `Backoff` until it comes back (a serial device reopened at its
path, a TCP client reconnected): `stats.losses` counts the losses, `stats.reconnects` the returns,
and `down_reason` says in words why the link is down, so a node is never left deaf and a ground
tool can tell its user "connection refused" rather than nothing.

Every transport follows the same shape: `Link.read`/`write`/`close` here do the checks and the
locking once, and a transport fills in `_read`, `_write`, `_cancel` and `_close`.
"""
from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, is_dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: Longest a blocking read waits between checks that the link is still open. Only matters for
#: transports that cannot be woken (pyserial's socket://); the others wake at once on close.
POLL_S = 0.25
#: Longest `close()` waits for a read in progress to notice and return.
CLOSE_WAIT_S = 2.0
#: Default bound on one write: past it the peer is stalled, the write is counted as dropped,
#: and a flight process gets its thread back.
DEFAULT_WRITE_TIMEOUT_S = 2.0
#: A lost line or peer is tried again after FIRST_BACKOFF_S, doubling up to MAX_BACKOFF_S: soon
#: enough that a replugged radio is heard within seconds, rarely enough that a line gone for
#: good costs a few open() calls a minute.
FIRST_BACKOFF_S = 0.1
MAX_BACKOFF_S = 5.0


class LinkError(IOError):
    """A link could not be opened or used as asked (bad URL, bad option, closed link)."""


@dataclass
class LinkStats:
    """Transport-level counters. Frame-level counts (frames ok/bad, resyncs, lost) are kept by
    the decoders; `snapshot(tm=decoder.stats)` merges them into one flat report."""

    bytes_in: int = 0
    bytes_out: int = 0
    reads: int = 0  # reads that returned data
    writes: int = 0  # writes that went out whole
    datagrams_in: int = 0
    datagrams_out: int = 0
    dropped_writes: int = 0  # no peer, peer stalled or failed mid-write: lost, as a radio out of view
    errors: int = 0  # OS errors and rejected input (oversize datagrams)
    reconnects: int = 0  # reopens of a lost line, connections made after the first one
    losses: int = 0  # times the link went down: device gone, peer gone, last ground peer left
    refused_peers: int = 0  # ground peers a listener turned away (it had MAX_PEERS already)
    connected: bool = False

    def snapshot(self, **layers: Any) -> dict:
        """A flat dict for telemetry, logs or a status line: the link's counters under their own
        names, then each layer's as `<layer>.<field>`. A layer is a dataclass (the decoders'
        stats), a mapping, or anything with `as_dict()`.

        >>> LinkStats(bytes_in=3).snapshot(tm={"frames_ok": 1})["tm.frames_ok"]
        1
        """
        report = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, layer in layers.items():
            if is_dataclass(layer) and not isinstance(layer, type):
                values = asdict(layer)
            elif isinstance(layer, Mapping):
                values = dict(layer)
            elif callable(getattr(layer, "as_dict", None)):
                values = layer.as_dict()
            else:
                raise TypeError(f"layer {name!r}: expected a dataclass, a mapping or an object with "
                                f"as_dict(), got {type(layer).__name__}")
            report.update({f"{name}.{key}": value for key, value in values.items()})
        return report


class Link(ABC):
    """Bytes (or datagrams) in and out over one transport, opened by URL with `open_link`.

    One thread may read while others write. `close()` may come from any thread and makes a read
    blocked in another thread return b"" promptly; `cancel_read()` does the same without closing,
    so a reader thread can be stopped or asked to run something between reads.
    """

    #: True when each read returns one datagram and each write sends one (UDP).
    is_datagram: bool = False
    #: The accepted URL forms, quoted by every error about this transport's URLs.
    GRAMMAR: str = ""

    def __init__(self, url: str):
        self.url = url
        self.stats = LinkStats()
        self.last_error: str = ""
        #: Why the link is not connected now, in words an operator can act on ("cannot connect to
        #: 127.0.0.1:5100: Connection refused"); "" while it is connected.
        self.down_reason: str = ""
        #: The address this end is bound to (listeners, UDP); with port 0 it tells the real port.
        self.local_address: tuple | None = None
        self._closed = threading.Event()
        self._read_lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # ---- the interface ---------------------------------------------------------------------------
    def read(self, max_bytes: int = 65536, timeout: float | None = 0.1) -> bytes:
        """Up to `max_bytes` (or exactly one datagram); b"" when nothing came within `timeout`
        seconds (None waits until data, `cancel_read()` or `close()`), when the link is closed,
        or after an OS error, which is counted rather than raised."""
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be None or >= 0, got {timeout}")
        with self._read_lock:
            if self.closed:
                return b""
            return self._read(max_bytes, timeout)

    def write(self, data: bytes) -> None:
        """Send all of `data` (or one datagram; b"" sends nothing, on any link). Never blocks
        longer than the link's write timeout: a write with no peer, or to a stalled one, is
        counted in `dropped_writes`."""
        if self.closed:
            raise LinkError(f"{self.url}: write on a closed link")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a link writes bytes, got {type(data).__name__}")
        if data:
            self._write(bytes(data))

    def cancel_read(self) -> None:
        """Make a read blocked in another thread return b"" now (the next read, if none is)."""
        if not self.closed:
            self._cancel()

    def close(self) -> None:
        """Close the link; a read blocked in another thread returns b"". Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._cancel()
        got = self._read_lock.acquire(timeout=CLOSE_WAIT_S)
        try:
            self._close()
        finally:
            self.stats.connected = False
            if got:
                self._read_lock.release()

    # ---- what a transport provides ---------------------------------------------------------------
    @abstractmethod
    def _read(self, max_bytes: int, timeout: float | None) -> bytes: ...

    @abstractmethod
    def _write(self, data: bytes) -> None: ...

    @abstractmethod
    def _cancel(self) -> None:
        """Wake a blocked `_read` (called on close too, before `_close`)."""

    @abstractmethod
    def _close(self) -> None: ...

    # ---- shared helpers --------------------------------------------------------------------------
    def _error(self, exc: BaseException | str) -> None:
        self.stats.errors += 1
        self.last_error = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"

    def _got(self, data: bytes) -> bytes:
        self.stats.reads += 1
        self.stats.bytes_in += len(data)
        if self.is_datagram:
            self.stats.datagrams_in += 1
        return data

    def _sent(self, data: bytes) -> None:
        self.stats.writes += 1
        self.stats.bytes_out += len(data)
        if self.is_datagram:
            self.stats.datagrams_out += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class Backoff:
    """When to try a lost line or peer again: FIRST_BACKOFF_S after the first failure, doubling
    after each further one up to MAX_BACKOFF_S, and at once again after `reset()` (a success).
    Without it a link whose device is gone would call open() in a tight loop; with a fixed long
    wait a replugged radio would stay deaf for that long."""

    def __init__(self, first_s: float = FIRST_BACKOFF_S, max_s: float = MAX_BACKOFF_S,
                 clock: Callable[[], float] = time.monotonic):
        self.first_s, self.max_s, self._clock = first_s, max_s, clock
        self.delay_s = first_s
        self.next_at = 0.0

    def due(self) -> bool:
        return self._clock() >= self.next_at

    def until_next_s(self) -> float:
        return max(0.0, self.next_at - self._clock())

    def failed(self) -> None:
        """An attempt failed (or a connection was just lost): wait before the next one."""
        self.next_at = self._clock() + self.delay_s
        self.delay_s = min(self.delay_s * 2, self.max_s)

    def reset(self) -> None:
        self.delay_s = self.first_s
        self.next_at = 0.0


class Waker:
    """A self-pipe: put `fileno()` in a select set, and `wake()` from any thread makes that
    select return. Sockets cannot be woken by closing them (Linux keeps the select waiting)."""

    def __init__(self):
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        self._lock = threading.Lock()

    def fileno(self) -> int:
        return self._r

    def wake(self) -> None:
        with self._lock:
            if self._w >= 0:
                try:
                    os.write(self._w, b"!")
                except BlockingIOError:  # already full of wake-ups: one is enough
                    pass

    def drain(self) -> None:
        try:
            while os.read(self._r, 512):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        with self._lock:
            for fd in (self._r, self._w):
                if fd >= 0:
                    os.close(fd)
            self._r = self._w = -1


# ---- URL options ---------------------------------------------------------------------------------
def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 1/0, true/false, yes/no or on/off, got {value!r}")


def to_seconds(value: Any) -> float:
    seconds = float(value)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"expected a positive number of seconds, got {value!r}")
    return seconds


def split_host_port(value: str | tuple) -> tuple[str, int]:
    """'host:port' or '[v6]:port' (or a (host, port) tuple, from a keyword) -> (host, port)."""
    if isinstance(value, tuple) and len(value) == 2:
        value = f"[{value[0]}]:{value[1]}" if ":" in str(value[0]) else f"{value[0]}:{value[1]}"
    parts = urlsplit(f"//{value}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ValueError(f"expected host:port, got {value!r}")
    return parts.hostname, port


def options(url: str, query: str, opts: Mapping[str, Any], spec: Mapping[str, Callable[[Any], Any]],
            grammar: str) -> dict:
    """The options of a link: those in the URL's query, then keyword options over them, each
    converted by `spec[name]`. An unknown, repeated or malformed option raises a LinkError that
    quotes `grammar`, the accepted form."""
    raw: dict[str, Any] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise LinkError(f"{url}: malformed options {query!r}; expected {grammar}") from None
    for key, value in pairs:
        if key in raw:
            raise LinkError(f"{url}: option {key!r} given twice; expected {grammar}")
        raw[key] = value
    raw.update(opts)
    out = {}
    for key, value in raw.items():
        if key not in spec:
            known = ", ".join(sorted(spec)) or "none"
            raise LinkError(f"{url}: unknown option {key!r} (known: {known}); expected {grammar}")
        try:
            out[key] = spec[key](value)
        except (TypeError, ValueError) as exc:
            raise LinkError(f"{url}: bad value for option {key!r}: {exc}; expected {grammar}") from None
    return out


def url_host_port(url: str, grammar: str, port_zero: bool) -> tuple[str, int]:
    """The host and port of scheme://host:port, or a LinkError quoting `grammar`."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or parts.path not in ("", "/"):
        raise LinkError(f"{url}: expected {grammar}")
    if port == 0 and not port_zero:
        raise LinkError(f"{url}: port 0 only makes sense for a listener; expected {grammar}")
    return parts.hostname, port
