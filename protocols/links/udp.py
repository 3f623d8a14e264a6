"""UDP links: one TM frame or one raw space packet per datagram.

URL grammar::

    udp://host:port                     send to host:port (from an ephemeral local port)
    udp://host:port?bind=lhost:lport    send to host:port from lhost:lport
    udp-listen://host:port              bind host:port; replies go to the last peer heard from

Datagram boundaries are the framing, so no sync marker is needed, and each `read` returns exactly
one datagram, each `write` sends one. A datagram longer than the read's `max_bytes` would arrive
cut short, which a decoder could mistake for a whole one: it is dropped and counted in
`stats.errors` instead. Writes before a listener has heard from anyone have nowhere to go and
are counted in `stats.dropped_writes`. Datagrams are taken from any sender: who may command the
spacecraft is decided by SDLS authentication in the frame layer, not by source addresses.
"""
from __future__ import annotations

import select
import socket
import time
from urllib.parse import urlsplit

from gridfree.protocols.links.base import Link, LinkError, Waker, options, split_host_port, url_host_port

GRAMMAR = "udp://host:port[?bind=lhost:lport] or udp-listen://host:port"


def _address(host: str, port: int) -> tuple[int, tuple]:
    """(family, sockaddr) of host:port, resolved once at open."""
    info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    family, _, _, _, sockaddr = info[0]
    return family, sockaddr


class UdpLink(Link):
    is_datagram = True
    GRAMMAR = GRAMMAR

    def __init__(self, url: str, **opts):
        super().__init__(url)
        self.listening = urlsplit(url).scheme == "udp-listen"
        spec = {} if self.listening else {"bind": split_host_port}
        opt = options(url, urlsplit(url).query, opts, spec, GRAMMAR)
        host, port = url_host_port(url, GRAMMAR, port_zero=self.listening)
        self.peer_address: tuple | None = None
        try:
            family, addr = _address(host, port)
            if self.listening:
                bind_to = addr
            else:
                self.peer_address = addr
                bind_to = _address(*opt["bind"])[1] if "bind" in opt else None
        except OSError as exc:  # gaierror: a name that does not resolve
            raise LinkError(f"cannot open UDP link {url!r}: {exc}") from exc
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if bind_to is not None:
                self._sock.bind(bind_to)
            else:
                self._sock.bind(("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0))
        except OSError as exc:
            self._sock.close()
            raise LinkError(f"cannot open UDP link {url!r}: {exc}") from exc
        self._waker = Waker()
        self._cancel_asked = False
        self.local_address = self._sock.getsockname()[:2]
        self.stats.connected = True

    def _read(self, max_bytes: int, timeout: float | None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                ready, _, _ = select.select([self._sock, self._waker], [], [], remaining)
                if self._waker in ready:
                    self._waker.drain()
                    if self.closed or self._cancel_asked:
                        self._cancel_asked = False
                        return b""
                if self._sock not in ready:
                    if deadline is not None and time.monotonic() >= deadline:
                        return b""
                    continue
                # recvmsg, not recvfrom: only recvmsg reports that the datagram was cut short.
                data, _, flags, peer = self._sock.recvmsg(max_bytes)
            except OSError as exc:  # ECONNREFUSED from an ICMP error, or closed underneath us
                if not self.closed:
                    self._error(exc)
                return b""
            if flags & socket.MSG_TRUNC:
                self._error(f"datagram from {peer} longer than max_bytes={max_bytes}: dropped")
                continue
            if self.listening:
                self.peer_address = peer
            if not data:  # carries no frame, and b"" means "nothing came": wait for the next one
                self.stats.datagrams_in += 1
                continue
            return self._got(data)

    def _write(self, data: bytes) -> None:
        peer = self.peer_address
        if peer is None:
            self.stats.dropped_writes += 1
            return
        try:
            self._sock.sendto(data, peer)
        except OSError as exc:  # EMSGSIZE, ENOBUFS, unreachable
            if not self.closed:
                self._error(exc)
            self.stats.dropped_writes += 1
            return
        self._sent(data)

    def _cancel(self) -> None:
        self._cancel_asked = True
        self._waker.wake()

    def _close(self) -> None:
        self._sock.close()
        self._waker.close()
