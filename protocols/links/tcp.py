"""TCP links: the same byte stream a serial line would carry, across processes or machines.

URL grammar::

    tcp://host:port                 connect; reconnects with backoff whenever the peer goes away
    tcp://host:port?listen=1        listen; one peer at a time, a newer peer replaces the old one
    tcp-listen://host:port          the same as ?listen=1
    options: write_timeout=S        longest one write may block on a stalled peer (default 2 s)

Port 0 with listen picks a free port: read it back from `local_address`. A new peer replaces the
current one, rather than waiting for it to go, because a peer that vanished without a FIN (a
crashed ground station, a cable pulled) would otherwise hold the link until TCP gave up on it.

Writes while no peer is connected are dropped and counted (`stats.dropped_writes`), as a radio
out of view of any ground station loses its downlink: a flight process must never block on the
ground. A write that cannot finish within `write_timeout` drops the connection too, since the
stream is then cut mid-frame; the decoders on the far side resynchronise on the next frame.
"""
from __future__ import annotations

import select
import socket
import threading
import time
from urllib.parse import urlsplit

from gridfree.protocols.links.base import (
    DEFAULT_WRITE_TIMEOUT_S, Link, LinkError, Waker, options, to_bool, to_seconds, url_host_port,
)

GRAMMAR = "tcp://host:port[?listen=1][&write_timeout=S] or tcp-listen://host:port[?write_timeout=S]"
OPTIONS = {"listen": to_bool, "write_timeout": to_seconds}
FIRST_BACKOFF_S = 0.05
MAX_BACKOFF_S = 2.0
CONNECT_TIMEOUT_S = 1.0


def _keepalive(sock: socket.socket) -> None:
    """Let the kernel find a silent dead peer in about 20 s instead of two hours."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 2)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


class TcpLink(Link):
    GRAMMAR = GRAMMAR

    def __init__(self, url: str, **opts):
        super().__init__(url)
        parts = urlsplit(url)
        opt = options(url, parts.query, opts, OPTIONS, GRAMMAR)
        self.listening = parts.scheme == "tcp-listen" or opt.get("listen", False)
        host, port = url_host_port(url, GRAMMAR, port_zero=self.listening)
        self.write_timeout = opt.get("write_timeout", DEFAULT_WRITE_TIMEOUT_S)
        self._lock = threading.Lock()  # guards _sock and the counters that go with it
        self._write_lock = threading.Lock()  # one frame at a time: writers never interleave
        self._connect_lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._server: socket.socket | None = None
        self._waker = Waker()
        self._cancel_asked = False
        self._peers = 0
        self._backoff_s = FIRST_BACKOFF_S
        self._next_attempt = 0.0
        self.peer_address: tuple | None = None
        self.remote_address: tuple | None = None
        if self.listening:
            try:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                self._server = socket.create_server((host, port), family=family)
            except OSError as exc:
                self._waker.close()
                raise LinkError(f"cannot listen on {url!r}: {exc}") from exc
            self._server.setblocking(False)  # a peer that gives up between select and accept
            self.local_address = self._server.getsockname()[:2]
        else:
            try:  # a name that does not resolve is a configuration error; a peer not up yet is not
                socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                self._waker.close()
                raise LinkError(f"cannot resolve {host!r} in {url!r}: {exc}") from exc
            self.remote_address = (host, port)
            self._try_connect()  # nobody there yet is not an error: reads and writes retry

    # ---- connection management -----------------------------------------------------------------
    def _adopt(self, sock: socket.socket, peer) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _keepalive(sock)
            sock.settimeout(self.write_timeout)  # bounds sendall; reads select first
        except OSError as exc:
            self._error(exc)
            sock.close()
            return
        with self._lock:
            if self.closed:
                sock.close()
                return
            old, self._sock = self._sock, sock
            self.peer_address = peer
            self._peers += 1
            if self._peers > 1:
                self.stats.reconnects += 1
            self.stats.connected = True
        if old is not None:
            _shut(old)
        self._waker.wake()  # a read waiting without this socket in its set must pick it up

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            if self._sock is sock:
                self._sock = None
                self.stats.connected = False
                # Back off before reconnecting, so a peer that accepts and hangs up at once
                # does not get a connection storm; data on a connection resets the backoff.
                self._next_attempt = time.monotonic() + self._backoff_s
                self._backoff_s = min(self._backoff_s * 2, MAX_BACKOFF_S)
        _shut(sock)

    def _try_connect(self) -> None:
        """One connection attempt, unless the backoff says not yet; never raises."""
        if not self._connect_lock.acquire(blocking=False):
            return  # another thread is connecting right now
        try:
            if self.closed or self._sock is not None or time.monotonic() < self._next_attempt:
                return
            try:
                sock = socket.create_connection(self.remote_address, timeout=CONNECT_TIMEOUT_S)
            except OSError as exc:
                # Refused or unreachable is the normal state of a link whose peer is not up yet:
                # noted in last_error, not counted as an error.
                self.last_error = f"connect {self.remote_address}: {exc}"
                self._next_attempt = time.monotonic() + self._backoff_s
                self._backoff_s = min(self._backoff_s * 2, MAX_BACKOFF_S)
                return
            self._adopt(sock, self.remote_address)
        finally:
            self._connect_lock.release()

    def _try_accept(self) -> None:
        try:
            new, peer = self._server.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # e.g. ECONNABORTED: the peer gave up before we accepted
            if not self.closed:
                self._error(exc)
            return
        self._adopt(new, peer[:2])

    # ---- I/O -------------------------------------------------------------------------------------
    def _read(self, max_bytes: int, timeout: float | None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.closed:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            sock = self._sock
            if sock is None and not self.listening:
                self._try_connect()
                sock = self._sock
            watch = [s for s in (sock, self._server, self._waker) if s is not None]
            wait = remaining
            if sock is None and not self.listening:  # wake up for the next connection attempt
                until_retry = max(0.01, self._next_attempt - time.monotonic())
                wait = until_retry if wait is None else min(wait, until_retry)
            try:
                ready, _, _ = select.select(watch, [], [], wait)
            except (OSError, ValueError) as exc:  # a socket closed underneath us
                if not self.closed:
                    self._error(exc)
                return b""
            if self._waker in ready:
                self._waker.drain()
                if self.closed or self._cancel_asked:
                    self._cancel_asked = False
                    return b""
            # The current peer's data before a new peer: what it sent before being replaced counts.
            if sock is not None and sock in ready:
                try:
                    data = sock.recv(max_bytes)
                except OSError as exc:  # ECONNRESET: the peer went away hard
                    if self.closed:
                        return b""
                    self._error(exc)
                    data = b""
                if data:
                    self._backoff_s = FIRST_BACKOFF_S
                    return self._got(data)
                self._drop(sock)  # EOF: the peer closed; a client reconnects on the next pass
                continue
            if self._server is not None and self._server in ready:
                self._try_accept()
                continue  # the new peer's socket goes into the next select
            if deadline is not None and time.monotonic() >= deadline:
                return b""
        return b""

    def _write(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            if self.listening:
                self._poll_accept()
            else:
                self._try_connect()
            sock = self._sock
        if sock is None:
            self.stats.dropped_writes += 1
            return
        with self._write_lock:
            try:
                sock.sendall(data)
            except OSError as exc:  # timeout (stalled peer), EPIPE/ECONNRESET (peer gone)
                if not self.closed:
                    self._error(exc)
                self.stats.dropped_writes += 1
                self._drop(sock)
                return
        self._sent(data)

    def _poll_accept(self) -> None:
        """Accept a waiting peer from the writing thread, so a link that only writes (a downlink
        nobody reads from) still finds its ground station."""
        try:
            ready, _, _ = select.select([self._server], [], [], 0)
        except (OSError, ValueError):
            return
        if ready:
            self._try_accept()

    def _cancel(self) -> None:
        self._cancel_asked = True
        self._waker.wake()

    def _close(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            _shut(sock)
        if self._server is not None:
            self._server.close()
        self._waker.close()


def _shut(sock: socket.socket) -> None:
    """Shut down before closing: it wakes a thread blocked in sendall on this socket."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already disconnected
    sock.close()
