"""TCP links: the same byte stream a serial line would carry, across processes or machines.

URL grammar::

    tcp://host:port              connect; reconnects with backoff when the peer goes away
    tcp://host:port?listen=1     listen; one peer at a time, a newer peer replaces the old one
    tcp-listen://host:port       the same as ?listen=1

Port 0 with listen picks a free port: read it back from `local_address`. Writes while no peer is
connected are dropped and counted, as a radio out of view of any ground station loses its
downlink: a flight process must never block on the ground.
"""
from __future__ import annotations

import select
import socket
import threading
import time
from urllib.parse import parse_qs, urlsplit

from gridfree.protocols.links.base import Link, LinkError

MAX_BACKOFF_S = 2.0


def parse_host_port(url: str, allowed: set[str]) -> tuple[str, int, dict]:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - allowed
    if unknown:
        raise LinkError(f"{url}: unknown option {sorted(unknown)[0]!r} (known: {', '.join(sorted(allowed)) or 'none'})")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise LinkError(f"{url}: expected {parts.scheme}://host:port")
    return parts.hostname, port, query


class TcpLink(Link):
    def __init__(self, url: str):
        super().__init__(url)
        scheme = urlsplit(url).scheme
        host, port, query = parse_host_port(url, {"listen"})
        self.listening = scheme == "tcp-listen" or query.get("listen", "0") in ("1", "true", "yes")
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._server: socket.socket | None = None
        self._peers = 0
        self._backoff_s = 0.05
        self._next_attempt = 0.0
        self.peer_address = None
        if self.listening:
            try:
                self._server = socket.create_server((host, port))
            except OSError as exc:
                raise LinkError(f"cannot listen on {url!r}: {exc}") from exc
            self.local_address = self._server.getsockname()[:2]
        else:
            self.remote_address = (host, port)
            self.local_address = None
            self._try_connect(1.0)

    # ---- connection management ---------------------------------------------------------------
    def _adopt(self, sock: socket.socket, peer) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            old, self._sock = self._sock, sock
            self.peer_address = peer
            self._peers += 1
            if self._peers > 1:
                self.stats.reconnects += 1
            self.stats.connected = True
        if old is not None:
            old.close()

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            if self._sock is sock:
                self._sock = None
                self.stats.connected = False
        sock.close()

    def _try_connect(self, timeout: float) -> None:
        if time.monotonic() < self._next_attempt or self.closed:
            return
        try:
            sock = socket.create_connection(self.remote_address, timeout=timeout)
        except OSError as exc:
            self.last_error = f"connect {self.remote_address}: {exc}"
            self._next_attempt = time.monotonic() + self._backoff_s
            self._backoff_s = min(self._backoff_s * 2, MAX_BACKOFF_S)
            return
        self._backoff_s = 0.05
        self._adopt(sock, self.remote_address)

    # ---- I/O ---------------------------------------------------------------------------------
    def read(self, max_bytes: int = 65536, timeout: float | None = 0.1) -> bytes:
        if self.closed:
            return b""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.closed:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            sock = self._sock
            if sock is None and not self.listening:
                self._try_connect(min(remaining or 0.5, 0.5))
                sock = self._sock
                if sock is None:
                    wait = max(0.0, min(self._next_attempt - time.monotonic(), remaining if remaining is not None else 0.1))
                    if self._closed.wait(wait) or (deadline is not None and time.monotonic() >= deadline):
                        return b""
                    continue
            watch = [s for s in (sock, self._server) if s is not None]
            try:
                ready, _, _ = select.select(watch, [], [], min(remaining, 0.25) if remaining is not None else 0.25)
            except (OSError, ValueError) as exc:  # closed underneath us
                if not self.closed:
                    self._error(exc)
                return b""
            if self._server is not None and self._server in ready:
                try:
                    new, peer = self._server.accept()
                except OSError as exc:
                    self._error(exc)
                else:
                    self._adopt(new, peer)
                continue
            if sock is not None and sock in ready:
                try:
                    data = sock.recv(max_bytes)
                except OSError as exc:
                    self._error(exc)
                    data = b""
                if not data:
                    self._drop(sock)
                    continue
                self.stats.reads += 1
                self.stats.bytes_in += len(data)
                return data
            if deadline is not None and time.monotonic() >= deadline:
                return b""
        return b""

    def write(self, data: bytes) -> None:
        if self.closed:
            raise LinkError(f"{self.url}: write on a closed link")
        sock = self._sock
        if sock is None and not self.listening:
            self._try_connect(0.5)
            sock = self._sock
        if sock is None:
            self.stats.dropped_writes += 1
            return
        try:
            sock.sendall(data)
        except OSError as exc:
            self._error(exc)
            self.stats.dropped_writes += 1
            self._drop(sock)
            return
        self.stats.writes += 1
        self.stats.bytes_out += len(data)

    def _close(self) -> None:
        for s in (self._sock, self._server):
            if s is not None:
                s.close()
        self._sock = self._server = None
