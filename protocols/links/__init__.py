"""Links by URL: one interface (`Link`), several transports, chosen by the URL's scheme, so that
hardware, a test bench and a ground station differ only in a configuration string.

    open_link("/dev/ttyUSB0", baudrate=9600)     serial device or pty slave path
    open_link("serial:///dev/ttyUSB0?baudrate=115200")
    open_link("loop://")                         pyserial URLs: loop://, socket://, spy://, rfc2217://
    open_link("tcp://127.0.0.1:5000")            TCP client, reconnects with backoff
    open_link("tcp://0.0.0.0:5000?listen=1")     TCP listener (also tcp-listen://), several ground peers
    open_link("udp://127.0.0.1:5001")            one datagram per frame or packet ("?bind=host:port")
    open_link("udp-listen://0.0.0.0:5001")       binds; replies to the last peer heard from

Each transport's module header gives its grammar and options; options may be given in the URL's
query or as keywords (keywords win). An unknown scheme or option raises `LinkError` quoting the
accepted forms. A serial device or TCP peer that goes away is reopened (reconnected) with
backoff while the link is open; `stats.losses`/`reconnects` count it and `down_reason` says why
the link is down. Framing is not a link's business: feed what `read` returns (or what a
`LinkReader` hands its `Protocol`) to a sans-IO decoder.

Bench equipment for links lives here too: `ptypair.PtyPair`, two connected pseudo-terminals with
fault injection, so two processes talk as if joined by a serial cable (what socat does).
"""
from __future__ import annotations

import importlib
import re
from urllib.parse import urlsplit

from gridfree.protocols.links.base import Link, LinkError, LinkStats
from gridfree.protocols.links.reader import LinkReader, Protocol

__all__ = ["open_link", "Link", "LinkError", "LinkStats", "LinkReader", "Protocol", "SCHEMES"]

_SERIAL = "gridfree.protocols.links.serial:SerialLink"
SCHEMES = {
    "tcp": "gridfree.protocols.links.tcp:TcpLink",
    "tcp-listen": "gridfree.protocols.links.tcp:TcpLink",
    "udp": "gridfree.protocols.links.udp:UdpLink",
    "udp-listen": "gridfree.protocols.links.udp:UdpLink",
    "": _SERIAL,  # a device path
    "serial": _SERIAL,
    # pyserial's own URL handlers, passed through whole
    "loop": _SERIAL,
    "socket": _SERIAL,
    "spy": _SERIAL,
    "rfc2217": _SERIAL,
    "hwgrep": _SERIAL,
    "alt": _SERIAL,
}

EXPECTED = ("a device path (/dev/ttyUSB0, /dev/pts/N), serial:///dev/X?baudrate=N, loop://, "
            "socket://host:port, spy:///dev/X?file=F, rfc2217://host:port, tcp://host:port[?listen=1], "
            "tcp-listen://host:port, udp://host:port[?bind=host:port] or udp-listen://host:port")


def open_link(url: str, **opts) -> Link:
    """Open the link `url` names; `opts` are the transport's options (see its module header).

    Raises LinkError, with one line that says what was wrong and quotes the accepted forms, for
    a malformed URL (a bare host:port, "tcp:/" for "tcp://", a web address), an unknown scheme or
    option, or a transport that cannot be opened (no such device, port in use). A TCP client
    whose peer is not up yet is not an error: it connects when the peer appears.
    """
    if not isinstance(url, str) or not url.strip():
        raise LinkError(f"a link URL must be a non-empty string, got {url!r}; expected {EXPECTED}")
    try:
        scheme = urlsplit(url).scheme.lower() if "://" in url else _check_bare(url)
    except ValueError as exc:  # urllib on a bracket left open: "tcp://[::1"
        raise LinkError(_one_line(f"malformed link URL {url!r}: {exc}; expected {EXPECTED}")) from None
    target = SCHEMES.get(scheme)
    if target is None:
        hint = " (a link is a serial line or a TCP/UDP socket, not a web address)" if scheme in _WEB else ""
        raise LinkError(f"unknown link scheme {scheme!r} in {url!r}{hint}; expected {EXPECTED}")
    module, _, cls = target.partition(":")
    try:
        return getattr(importlib.import_module(module), cls)(url, **opts)
    except LinkError as exc:
        raise LinkError(_one_line(str(exc))) from exc.__cause__
    except (ValueError, TypeError, OSError) as exc:  # urllib and socket on URLs they cannot parse
        raise LinkError(_one_line(f"malformed link URL {url!r}: {exc}; expected {EXPECTED}")) from exc


_WEB = {"http", "https", "ftp", "ws", "wss", "file"}
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$")
_SCHEME_LIKE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def _check_bare(url: str) -> str:
    """The scheme of a URL written without "//": "" for a device path, else a LinkError naming
    the slip (host:port with no scheme, "tcp:/x" for "tcp://x", "http:x")."""
    if url.startswith("/"):
        return ""
    if _HOST_PORT.match(url):
        raise LinkError(f"{url!r} is a host:port with no scheme: write tcp://{url} to connect over TCP "
                        f"(or udp://{url}); expected {EXPECTED}")
    word = _SCHEME_LIKE.match(url)
    if word is None:
        return ""  # a relative device name, as pyserial takes them
    scheme = word.group(1).lower()
    if scheme in SCHEMES:
        raise LinkError(f"{url!r}: a {scheme} link needs two slashes after '{scheme}:', as in {scheme}://…; "
                        f"expected {EXPECTED}")
    return scheme  # unknown: reported as such


def _one_line(text: str) -> str:
    return " ".join(text.split())
