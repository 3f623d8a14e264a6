"""A reader thread that hands a link's bytes to a protocol object, in the shape of asyncio's (and
pyserial's `serial.threaded`) Protocol, so the code that decodes knows nothing of the transport
and the code that reads knows nothing of framing.

    with LinkReader(open_link(url), MyDecoder()) as reader:   # starts; stops and joins on exit
        ...
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from gridfree.protocols.links.base import Link

#: Longest the reader waits in one read. `stop()` and `call_soon()` wake it at once; this only
#: bounds how long a closed link that could not be woken goes unnoticed.
POLL_S = 0.25


class Protocol:
    """What a reader thread calls. All three run on the reader thread."""

    def connection_made(self, link: Link) -> None:
        """Called once, before any data."""

    def data_received(self, data: bytes) -> None:
        """Called with each chunk read (each datagram, on a datagram link)."""

    def connection_lost(self, exc: BaseException | None) -> None:
        """Called once when the reader ends: `exc` is None after `stop()` or `link.close()`,
        else the exception that ended it (from `connection_made` or from the link itself)."""


class LinkReader(threading.Thread):
    """Reads until `stop()` or the link is closed.

    An exception raised by `data_received` is counted in `protocol_errors`, kept in
    `last_error`, and reading goes on: a decoder bug must not deafen the radio. An exception from
    the link's own `read` (which reports OS errors in its stats rather than raising, so this
    means a bug or misuse) or from `connection_made` ends the thread, and is passed to
    `connection_lost` and kept in `last_error`, so it is never lost silently.

    The thread is a daemon, so a reader left running never holds the interpreter open at exit;
    `stop()` is still the clean way to end it: it wakes the read, so it returns at once (within
    the serial link's POLL_S slice on pyserial's socket://, which cannot be woken).
    """

    def __init__(self, link: Link, protocol: Protocol, max_bytes: int = 65536, name: str | None = None):
        super().__init__(name=name or f"reader:{link.url}", daemon=True)
        self.link, self.protocol, self.max_bytes = link, protocol, max_bytes
        self._stopping = threading.Event()
        self.protocol_errors = 0
        self.last_error: BaseException | None = None
        self._calls: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Run `fn()` on the reader thread between reads: a health ping answered from here proves
        the thread is alive and not stuck inside the protocol. Its exceptions count as protocol
        errors."""
        self._calls.put(fn)
        self.link.cancel_read()

    def run(self) -> None:
        ended_by: BaseException | None = None
        try:
            self.protocol.connection_made(self.link)
            while not self._stopping.is_set() and not self.link.closed:
                self._run_calls()
                data = self.link.read(self.max_bytes, timeout=POLL_S)
                if data and not self._stopping.is_set():
                    self._deliver(self.protocol.data_received, data)
        except Exception as exc:  # noqa: BLE001 - reported through connection_lost, never silent
            ended_by = self.last_error = exc
        finally:
            self._deliver(self.protocol.connection_lost, ended_by)

    def _run_calls(self) -> None:
        while True:
            try:
                fn = self._calls.get_nowait()
            except queue.Empty:
                return
            self._deliver(fn)

    def _deliver(self, fn: Callable, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - counted and reported, never fatal
            self.protocol_errors += 1
            self.last_error = exc

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end and wait up to `timeout` s for it (0: don't wait, e.g. to
        abandon a thread stuck in its protocol). The link stays open: whoever opened it closes it."""
        self._stopping.set()
        self.link.cancel_read()
        if timeout > 0 and self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def __enter__(self) -> "LinkReader":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
