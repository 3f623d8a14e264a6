"""Serial links through pyserial, so hardware is a string.

URL grammar::

    /dev/ttyUSB0                            a device path (a pty slave such as /dev/pts/7 works the same)
    serial:///dev/ttyUSB0?baudrate=115200   the same, with line options in the URL
    loop://                                 pyserial's loopback: what is written is read back
    socket://host:port                      pyserial's raw TCP client (no reconnect: use tcp:// for that)
    spy:///dev/ttyUSB0?file=trace.txt       hex-dump the traffic of a real device (not of another URL)
    rfc2217://host:port, hwgrep://REGEX, alt://PORT?class=NAME   as pyserial documents them

Options, in a serial:// query or as keywords to `open_link` for any of the forms above:
`baudrate` (default 115200), `bytesize` (5-8), `parity` (N, E, O, M, S), `stopbits` (1, 1.5, 2),
`rtscts`, `xonxoff` (0/1) and `write_timeout` (seconds, default 2). The queries of pyserial's
own URLs (loop://?logging=debug, spy://…?file=…) belong to pyserial and pass through untouched.

A serial line has no peer to reconnect to: when the device goes away (EIO on a pty whose other
end closed, a USB adapter pulled) reads return b"", errors are counted, `stats.connected` goes
False, and whoever owns the hardware decides whether to reopen.
"""
from __future__ import annotations

import queue
import time
from urllib.parse import urlsplit

import serial

from gridfree.protocols.links.base import (
    DEFAULT_WRITE_TIMEOUT_S, POLL_S, Link, LinkError, options, to_bool, to_seconds,
)

DEFAULT_BAUD = 115200
GRAMMAR = ("a device path (/dev/ttyUSB0), serial:///dev/ttyUSB0?baudrate=115200"
           "[&bytesize=8&parity=N&stopbits=1&rtscts=0&xonxoff=0&write_timeout=2], loop://, "
           "socket://host:port, spy:///dev/ttyUSB0?file=trace.txt or rfc2217://host:port")
OPTIONS = {
    "baudrate": int,
    "bytesize": int,
    "parity": lambda v: str(v).upper(),
    "stopbits": float,
    "rtscts": to_bool,
    "xonxoff": to_bool,
    "write_timeout": to_seconds,
}


class SerialLink(Link):
    GRAMMAR = GRAMMAR

    def __init__(self, url: str, **opts):
        super().__init__(url)
        target, query = url, ""
        parts = urlsplit(url)
        if "://" in url and parts.scheme == "serial":
            if parts.netloc or not parts.path.startswith("/"):
                raise LinkError(f"{url}: expected {GRAMMAR} (three slashes before an absolute path)")
            target, query = parts.path, parts.query
        settings = {"baudrate": DEFAULT_BAUD, "write_timeout": DEFAULT_WRITE_TIMEOUT_S}
        settings.update(options(url, query, opts, OPTIONS, GRAMMAR))
        self._timeout: float | None = POLL_S
        self._cancel_asked = False
        try:
            self._port = serial.serial_for_url(target, timeout=self._timeout, **settings)
        except Exception as exc:  # noqa: BLE001 - pyserial's URL handlers raise all sorts
            # (SerialException, ValueError, OSError, and a KeyError from loop://'s own message).
            raise LinkError(f"cannot open serial link {url!r}: {type(exc).__name__}: {exc}") from exc
        self.stats.connected = True

    @property
    def port(self) -> serial.SerialBase:
        """The pyserial port, for line controls a link does not model (DTR, RTS, break)."""
        return self._port

    def _set_timeout(self, timeout: float) -> None:
        # pyserial re-applies the whole termios state whenever the timeout changes: only change it
        # when it differs (a reader thread asks for the same timeout every time).
        if timeout != self._timeout:
            self._port.timeout = self._timeout = timeout

    def _read(self, max_bytes: int, timeout: float | None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                remaining = POLL_S if deadline is None else max(0.0, deadline - time.monotonic())
                # Read in slices so that transports pyserial cannot wake (socket://) still notice
                # close() within POLL_S; the others return at once from cancel_read().
                self._set_timeout(min(remaining, POLL_S))
                first = self._port.read(1)
                if first:
                    break
                # pyserial's cancel_read ends a read early without saying so: the flag tells an
                # early empty slice from a timed-out one.
                if self.closed or self._cancel_asked or (deadline is not None and time.monotonic() >= deadline):
                    self._cancel_asked = False
                    return b""
            waiting = self._port.in_waiting
            rest = self._port.read(min(waiting, max_bytes - 1)) if waiting and max_bytes > 1 else b""
        except (serial.SerialException, OSError, TypeError, AttributeError, ValueError) as exc:
            # SerialException wraps EIO from a pty whose other end closed and "readiness to read
            # but returned no data" from an unplugged device; the others come from pyserial when
            # it is closed underneath a read.
            if self.closed:
                return b""
            self._error(exc)
            self.stats.connected = False
            # A dead device reports readiness at once, forever: pause (up to POLL_S, within this
            # read's timeout) so a reader thread costs a few errors a second, not a spinning core.
            self._closed.wait(POLL_S if deadline is None else min(POLL_S, max(0.0, deadline - time.monotonic())))
            return b""
        self._cancel_asked = False
        self.stats.connected = True
        return self._got(first + rest)

    def _write(self, data: bytes) -> None:
        try:
            # No flush(): tcdrain() blocks until the line has sent everything, with no timeout,
            # and forever on a pty whose other side nobody reads. The kernel buffer sends it.
            self._port.write(data)
        except (serial.SerialException, OSError, TypeError, AttributeError, queue.Full) as exc:
            # queue.Full: loop:// holds 4096 octets and raises it when nobody reads them
            if not self.closed:
                self._error(exc)
            self.stats.dropped_writes += 1
            return
        self._sent(data)

    def _cancel(self) -> None:
        self._cancel_asked = True
        cancel = getattr(self._port, "cancel_read", None)
        if cancel is not None:
            try:
                cancel()
            except (OSError, AttributeError, TypeError, ValueError, queue.Full):
                pass  # not open, or a handler without a working cancel: the POLL_S slice bounds it

    def _close(self) -> None:
        try:
            self._port.close()
        except (serial.SerialException, OSError) as exc:
            self._error(exc)
