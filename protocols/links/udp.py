"""UDP links: one TM frame or one raw space packet per datagram.

URL grammar::

    udp://host:port                     send to host:port (from an ephemeral local port)
    udp://host:port?bind=lhost:lport    send to host:port from lhost:lport
    udp-listen://host:port              bind host:port; replies go to the last peer heard from

Datagram boundaries are the framing, so no sync marker is needed; a datagram larger than a
read's `max_bytes` is truncated by the OS and counted as an error by whoever decodes it.
"""
from __future__ import annotations

import select
import socket
from urllib.parse import urlsplit

from gridfree.protocols.links.base import Link, LinkError
from gridfree.protocols.links.tcp import parse_host_port


class UdpLink(Link):
    is_datagram = True

    def __init__(self, url: str):
        super().__init__(url)
        scheme = urlsplit(url).scheme
        host, port, query = parse_host_port(url, set() if scheme == "udp-listen" else {"bind"})
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if scheme == "udp-listen":
                self._sock.bind((host, port))
                self.peer_address = None
            else:
                if "bind" in query:
                    bhost, _, bport = query["bind"].rpartition(":")
                    if not bhost or not bport.isdigit():
                        raise LinkError(f"{url}: bind must be host:port, got {query['bind']!r}")
                    self._sock.bind((bhost, int(bport)))
                self.peer_address = (socket.gethostbyname(host), port)
        except OSError as exc:
            self._sock.close()
            raise LinkError(f"cannot open UDP link {url!r}: {exc}") from exc
        except LinkError:
            self._sock.close()
            raise
        self.local_address = self._sock.getsockname()[:2]
        self.stats.connected = True

    def read(self, max_bytes: int = 65536, timeout: float | None = 0.1) -> bytes:
        if self.closed:
            return b""
        try:
            ready, _, _ = select.select([self._sock], [], [], timeout)
            if not ready:
                return b""
            data, peer = self._sock.recvfrom(max_bytes)
        except (OSError, ValueError) as exc:
            if not self.closed:
                self._error(exc)
            return b""
        if self.peer_address is None or urlsplit(self.url).scheme == "udp-listen":
            self.peer_address = peer
        self.stats.reads += 1
        self.stats.datagrams_in += 1
        self.stats.bytes_in += len(data)
        return data

    def write(self, data: bytes) -> None:
        if self.closed:
            raise LinkError(f"{self.url}: write on a closed link")
        if self.peer_address is None:
            self.stats.dropped_writes += 1
            return
        try:
            self._sock.sendto(data, self.peer_address)
        except OSError as exc:
            self._error(exc)
            self.stats.dropped_writes += 1
            return
        self.stats.writes += 1
        self.stats.datagrams_out += 1
        self.stats.bytes_out += len(data)

    def _close(self) -> None:
        self._sock.close()
