"""Links by URL: one interface (`Link`), several transports, chosen by the URL's scheme.

    open_link("/dev/ttyUSB0")            serial device or pty (any pyserial URL: loop://, socket://, spy://)
    open_link("tcp://127.0.0.1:5000")    TCP client;  "tcp://0.0.0.0:5000?listen=1" listens
    open_link("udp://127.0.0.1:5001")    one datagram per frame or packet; "udp-listen://…" binds
"""
from __future__ import annotations

from urllib.parse import urlsplit

from gridfree.protocols.links.base import Link, LinkError, LinkStats
from gridfree.protocols.links.reader import LinkReader, Protocol

__all__ = ["open_link", "Link", "LinkError", "LinkStats", "LinkReader", "Protocol", "SCHEMES"]

SCHEMES = {
    "tcp": "gridfree.protocols.links.tcp:TcpLink",
    "tcp-listen": "gridfree.protocols.links.tcp:TcpLink",
    "udp": "gridfree.protocols.links.udp:UdpLink",
    "udp-listen": "gridfree.protocols.links.udp:UdpLink",
    # pyserial's own schemes, and plain device paths
    "": "gridfree.protocols.links.serial:SerialLink",
    "serial": "gridfree.protocols.links.serial:SerialLink",
    "loop": "gridfree.protocols.links.serial:SerialLink",
    "socket": "gridfree.protocols.links.serial:SerialLink",
    "spy": "gridfree.protocols.links.serial:SerialLink",
    "rfc2217": "gridfree.protocols.links.serial:SerialLink",
}


def open_link(url: str) -> Link:
    if not isinstance(url, str) or not url:
        raise LinkError(f"a link URL must be a non-empty string, got {url!r}")
    scheme = urlsplit(url).scheme if "://" in url else ""
    target = SCHEMES.get(scheme)
    if target is None:
        raise LinkError(f"unknown link scheme {scheme!r} in {url!r}; expected a device path or one of "
                        + ", ".join(f"{s}://" for s in sorted(SCHEMES) if s))
    module, _, cls = target.partition(":")
    import importlib

    return getattr(importlib.import_module(module), cls)(url)
