"""TCP links: the same byte stream a serial line would carry, across processes or machines.

URL grammar::

    tcp://host:port                 connect; reconnects with backoff whenever the peer goes away
    tcp://host:port?listen=1        listen; up to MAX_PEERS ground peers at once
    tcp-listen://host:port          the same as ?listen=1
    options: write_timeout=S        longest one write may block on a stalled peer (default 2 s)

Port 0 with listen picks a free port: read it back from `local_address`.

A listener (the node's radio) keeps every ground peer that connects, up to MAX_PEERS, as a radio
is heard by every station in view: each hears the whole downlink and each may uplink. A second
client (a `gridfree tm` beside the console) therefore never cuts the first one off, and a peer
that vanished without a FIN (a crashed ground station, a cable pulled) never keeps a new one out:
it is dropped when a write to it stalls or fails, or when keepalive or TCP_USER_TIMEOUT gives up
on it (about 20 s). A peer past MAX_PEERS is closed at once and counted in `stats.refused_peers`.
Each read returns bytes from one peer only, and the decoders resynchronise on the next unit, so
two peers uplinking at the very same moment cost at most the CLTUs that overlapped, as two
stations transmitting at once would on the air (COP-1 retransmits them).

A client that loses its peer, or cannot reach it, tries again with `Backoff` (0.1 s doubling to
5 s); `down_reason` says why it is not connected ("cannot connect to 127.0.0.1:5100: Connection
refused"), so a ground tool can tell its user instead of waiting in silence.

Writes while no peer is connected are dropped and counted (`stats.dropped_writes`), as a radio
out of view of any ground station loses its downlink: a flight process must never block on the
ground. A write that cannot finish within `write_timeout` drops that connection too, since the
stream is then cut mid-frame; the decoders on the far side resynchronise on the next frame.
"""
from __future__ import annotations

import select
import socket
import threading
import time
from urllib.parse import urlsplit

from gridfree.protocols.links.base import (
    DEFAULT_WRITE_TIMEOUT_S, Backoff, Link, LinkError, Waker, options, to_bool, to_seconds, url_host_port,
)

GRAMMAR = "tcp://host:port[?listen=1][&write_timeout=S] or tcp-listen://host:port[?write_timeout=S]"
OPTIONS = {"listen": to_bool, "write_timeout": to_seconds}
CONNECT_TIMEOUT_S = 1.0
#: Ground peers a listener keeps at once; one more is turned away (counted), not let in by
#: cutting off one already there.
MAX_PEERS = 4
#: Unacknowledged data older than this drops the peer (Linux TCP_USER_TIMEOUT): keepalive only
#: finds a dead peer on an idle connection, and a downlink is never idle.
USER_TIMEOUT_MS = 20_000


def _keepalive(sock: socket.socket) -> None:
    """Let the kernel find a silent dead peer in about 20 s instead of two hours."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 2)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    if hasattr(socket, "TCP_USER_TIMEOUT"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT_MS)


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
        self._socks: list[socket.socket] = []  # connected peers, oldest first (a client has at most one)
        self._server: socket.socket | None = None
        self._waker = Waker()
        self._cancel_asked = False
        self._peers = 0
        self._turn = 0  # which peer's data a read looks at first, so no peer starves the others
        self._backoff = Backoff()
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
            self.down_reason = "no ground peer connected yet"
        else:
            try:  # a name that does not resolve is a configuration error; a peer not up yet is not
                socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                self._waker.close()
                raise LinkError(f"cannot resolve {host!r} in {url!r}: {exc}") from exc
            self.remote_address = (host, port)
            self._try_connect()  # nobody there yet is not an error: reads and writes retry

    @property
    def peers(self) -> int:
        """Peers connected now (0 or 1 for a client)."""
        return len(self._socks)

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
            full = self.listening and len(self._socks) >= MAX_PEERS
            if full:
                self.stats.refused_peers += 1
            if not (self.closed or full):
                self._socks.append(sock)
                self.peer_address = peer
                self._peers += 1
                if self._peers > 1:
                    self.stats.reconnects += 1
                self.stats.connected = True
                self.down_reason = ""
                sock = None
        if sock is not None:  # closed meanwhile, or one peer too many: turned away at once
            _shut(sock)
            return
        self._waker.wake()  # a read waiting without this socket in its set must pick it up

    def _drop(self, sock: socket.socket, why: BaseException | str = "closed by the peer") -> None:
        with self._lock:
            if sock in self._socks:
                self._socks.remove(sock)
                if not self._socks:
                    self.stats.connected = False
                    self.stats.losses += 1
                    if self.listening:
                        self.down_reason = f"last ground peer left ({_words(why)})"
                    else:
                        host, port = self.remote_address
                        self.down_reason = f"connection to {host}:{port} lost ({_words(why)}); reconnecting"
                        # Back off before reconnecting, so a peer that accepts and hangs up at once
                        # does not get a connection storm; data on a connection resets the backoff.
                        self._backoff.failed()
        _shut(sock)

    def _try_connect(self) -> None:
        """One connection attempt, unless the backoff says not yet; never raises."""
        if not self._connect_lock.acquire(blocking=False):
            return  # another thread is connecting right now
        try:
            if self.closed or self._socks or not self._backoff.due():
                return
            host, port = self.remote_address
            try:
                sock = socket.create_connection(self.remote_address, timeout=CONNECT_TIMEOUT_S)
            except OSError as exc:
                # Refused or unreachable is the normal state of a link whose peer is not up yet:
                # said in down_reason and last_error, not counted as an error.
                self.last_error = f"connect {self.remote_address}: {exc}"
                self.down_reason = f"cannot connect to {host}:{port}: {_words(exc)}"
                self._backoff.failed()
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
            socks = list(self._socks)
            if not socks and not self.listening:
                self._try_connect()
                socks = list(self._socks)
            watch = [*socks, *(s for s in (self._server, self._waker) if s is not None)]
            wait = remaining
            if not socks and not self.listening:  # wake up for the next connection attempt
                until_retry = max(0.01, self._backoff.until_next_s())
                wait = until_retry if wait is None else min(wait, until_retry)
            try:
                ready, _, _ = select.select(watch, [], [], wait)
            except (OSError, ValueError) as exc:  # a socket closed underneath us
                if self.closed:
                    return b""
                if all(s in self._socks for s in socks):  # not one a writer just dropped: a real error
                    self._error(exc)
                    return b""
                continue
            if self._waker in ready:
                self._waker.drain()
                if self.closed or self._cancel_asked:
                    self._cancel_asked = False
                    return b""
            # The peers' data before a new peer: what they sent before it came counts. Start at a
            # different peer each time, so that one that never stops sending cannot starve another.
            self._turn += 1
            for i in range(len(socks)):
                sock = socks[(self._turn + i) % len(socks)]
                if sock not in ready:
                    continue
                why: BaseException | str = "closed by the peer"
                try:
                    data = sock.recv(max_bytes)
                except OSError as exc:  # ECONNRESET: the peer went away hard
                    if self.closed:
                        return b""
                    self._error(exc)
                    data, why = b"", exc
                if data:
                    self._backoff.reset()
                    return self._got(data)
                self._drop(sock, why)  # EOF: the peer closed; a client reconnects on the next pass
            if self._server is not None and self._server in ready:
                self._try_accept()
                continue  # the new peer's socket goes into the next select
            if deadline is not None and time.monotonic() >= deadline:
                return b""
        return b""

    def _write(self, data: bytes) -> None:
        if self.listening:
            self._poll_accept()
        elif not self._socks:
            self._try_connect()
        socks = list(self._socks)
        delivered = False
        with self._write_lock:
            for sock in socks:
                try:
                    sock.sendall(data)
                    delivered = True
                except OSError as exc:  # timeout (stalled peer), EPIPE/ECONNRESET (peer gone)
                    if not self.closed:
                        self._error(exc)
                    self._drop(sock, exc)
        if delivered:
            self._sent(data)
        else:
            self.stats.dropped_writes += 1

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
            socks, self._socks = self._socks, []
        for sock in socks:
            _shut(sock)
        if self._server is not None:
            self._server.close()
        self._waker.close()


def _words(why: BaseException | str) -> str:
    """An OS error as an operator reads it: "Connection refused", not "[Errno 111] ..."."""
    if isinstance(why, OSError) and why.strerror:
        return why.strerror
    if isinstance(why, socket.timeout):
        return "timed out"
    return str(why) or type(why).__name__


def _shut(sock: socket.socket) -> None:
    """Shut down before closing: it wakes a thread blocked in sendall on this socket."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already disconnected
    sock.close()
