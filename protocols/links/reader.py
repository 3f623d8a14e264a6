"""A reader thread that hands a link's bytes to a protocol object, in the shape of asyncio's
(and pyserial's `serial.threaded`) Protocol, so the code that decodes knows nothing of the
transport and the code that reads knows nothing of framing."""
from __future__ import annotations

import queue
import threading

from gridfree.protocols.links.base import Link


class Protocol:
    def connection_made(self, link: Link) -> None:
        """Called once, from the reader thread, before any data."""

    def data_received(self, data: bytes) -> None:
        """Called with each chunk (or datagram) read."""

    def connection_lost(self, exc: BaseException | None) -> None:
        """Called once when the reader stops; `exc` is None for a clean stop."""


class LinkReader(threading.Thread):
    """Reads until `stop()`; an exception raised by the protocol is counted, reported through
    `protocol_errors`/`last_error`, and reading goes on: a decoder bug must not deafen the radio."""

    def __init__(self, link: Link, protocol: Protocol, max_bytes: int = 65536, name: str | None = None):
        super().__init__(name=name or f"reader:{link.url}", daemon=True)
        self.link, self.protocol, self.max_bytes = link, protocol, max_bytes
        self._stopping = threading.Event()
        self.protocol_errors = 0
        self.last_error: BaseException | None = None
        self._calls: queue.SimpleQueue = queue.SimpleQueue()

    def call_soon(self, fn) -> None:
        """Run `fn()` on the reader thread between reads: a health ping answered from here proves
        the thread is alive and not stuck inside the protocol."""
        self._calls.put(fn)

    def run(self) -> None:
        self.protocol.connection_made(self.link)
        while not self._stopping.is_set() and not self.link.closed:
            while not self._calls.empty():
                self._calls.get()()
            data = self.link.read(self.max_bytes, timeout=0.1)
            if not data or self._stopping.is_set():
                continue
            try:
                self.protocol.data_received(data)
            except Exception as exc:  # noqa: BLE001 - counted and reported, never fatal
                self.protocol_errors += 1
                self.last_error = exc
        self.protocol.connection_lost(self.last_error)

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
