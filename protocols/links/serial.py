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

A device that goes away (EIO on a pty whose other end closed, a USB adapter pulled) is closed,
counted once in `stats.errors` and `stats.losses`, and reopened at the same path with `Backoff`
(0.1 s doubling to 5 s) for as long as the link is open: a radio replugged at its path, or a pty
remade behind the same symlink, is heard again without anyone's help, and each return counts in
`stats.reconnects`. While the device is away reads wait out their timeout (b"") and writes are
dropped and counted, as on a TCP link with no peer; failed reopen attempts are the normal state
of an unplugged line, so they only update `down_reason`. Only the first open must succeed: a
path that is wrong from the start is a configuration error, raised as LinkError.

One exception: a bare pty path (/dev/pts/N, not reached through a symlink) is not reopened. The
kernel gives that number to the next pty anyone makes, so reopening it could take over a
stranger's terminal and write frames into it; a pty that must come back is named by a symlink
(socat's `link=`, `PtyPair(links=...)`), which is then what is reopened.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from urllib.parse import urlsplit

import serial

from gridfree.protocols.links.base import (
    DEFAULT_WRITE_TIMEOUT_S, POLL_S, Backoff, Link, LinkError, options, to_bool, to_seconds,
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
        self._target, self._settings = target, settings
        self._timeout: float | None = POLL_S
        self._cancel_asked = False
        self._wake = threading.Event()  # cancel_read() while the device is away
        self._backoff = Backoff()
        self._port = self._open()
        self._down = False
        self._reopenable = not _bare_pty(target)
        self.stats.connected = True

    def _open(self) -> serial.SerialBase:
        try:
            return serial.serial_for_url(self._target, timeout=POLL_S, **self._settings)
        except Exception as exc:  # noqa: BLE001 - pyserial's URL handlers raise all sorts
            # (SerialException, ValueError, OSError, and a KeyError from loop://'s own message).
            raise LinkError(f"cannot open serial link {self.url!r}: {type(exc).__name__}: {exc}") from exc

    @property
    def port(self) -> serial.SerialBase:
        """The pyserial port, for line controls a link does not model (DTR, RTS, break)."""
        return self._port

    def _set_timeout(self, timeout: float) -> None:
        # pyserial re-applies the whole termios state whenever the timeout changes: only change it
        # when it differs (a reader thread asks for the same timeout every time).
        if timeout != self._timeout:
            self._port.timeout = self._timeout = timeout

    # ---- losing and finding the device (called with the read lock held) -----------------------------
    def _lost(self, exc: BaseException) -> None:
        """The device went away: close it, so the path can vanish and be remade, and retry later."""
        self._error(exc)
        self.stats.losses += 1
        self.stats.connected = False
        self.down_reason = (f"device {self._target} lost: {self.last_error}; reopening" if self._reopenable else
                            f"pty {self._target} gone; not reopened, as its number may go to another pty "
                            f"(name it by a symlink to have it reopened)")
        self._down = True
        self._backoff.failed()
        try:
            self._port.close()
        except (serial.SerialException, OSError, TypeError, AttributeError):
            pass  # already half gone: the descriptor is what matters, and close() released it

    def _reopen_if_due(self) -> None:
        if self.closed or not self._reopenable or not self._backoff.due():
            return
        try:
            port = self._open()
        except LinkError as exc:
            self._backoff.failed()
            cause = exc.__cause__ or exc
            why = os.strerror(cause.errno) if getattr(cause, "errno", None) else str(cause)
            self.down_reason = f"device {self._target} away ({why}); retrying in " \
                               f"{self._backoff.until_next_s():.1f} s"
            return
        self._port, self._timeout, self._down = port, POLL_S, False
        self._backoff.reset()
        self.stats.reconnects += 1
        self.stats.connected = True
        self.down_reason = ""

    def _wait_for_device(self, deadline: float | None) -> bool:
        """While the device is away: try to reopen it when the backoff says so, else wait (woken
        by cancel_read or close). True once it is back; False when this read should return b""."""
        while True:
            self._reopen_if_due()
            if not self._down:
                return True
            now = time.monotonic()
            if self.closed or (deadline is not None and now >= deadline):
                return False
            wait = min(POLL_S, max(0.01, self._backoff.until_next_s()))
            if deadline is not None:
                wait = min(wait, deadline - now)
            if self._wake.wait(wait):
                self._wake.clear()
                if self.closed or self._cancel_asked:
                    self._cancel_asked = False
                    return False

    def _read(self, max_bytes: int, timeout: float | None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._down and not self._wait_for_device(deadline):
            return b""
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
                    self._wake.clear()
                    return b""
            waiting = self._port.in_waiting
            rest = self._port.read(min(waiting, max_bytes - 1)) if waiting and max_bytes > 1 else b""
        except (serial.SerialException, OSError, TypeError, AttributeError, ValueError) as exc:
            # SerialException wraps EIO from a pty whose other end closed and "readiness to read
            # but returned no data" from an unplugged device; the others come from pyserial when
            # it is closed underneath a read.
            if self.closed:
                return b""
            self._lost(exc)
            # The rest of this read's time goes to waiting for the device (with the backoff), so
            # a reader thread costs a few open() calls a second at most, never a spinning core.
            self._wait_for_device(deadline)
            return b""
        self._cancel_asked = False
        self._wake.clear()
        return self._got(first + rest)

    def _write(self, data: bytes) -> None:
        if self._down and self._read_lock.acquire(blocking=False):
            try:  # nobody is reading: this writer looks for the device itself
                if self._down:
                    self._reopen_if_due()
            finally:
                self._read_lock.release()
        if self._down:
            self.stats.dropped_writes += 1  # the device is away: lost, as a radio out of view
            return
        try:
            # No flush(): tcdrain() blocks until the line has sent everything, with no timeout,
            # and forever on a pty whose other side nobody reads. The kernel buffer sends it.
            self._port.write(data)
        except (serial.SerialTimeoutException, queue.Full) as exc:
            # A stalled reader, not a lost device (queue.Full: loop:// holds 4096 octets and
            # raises it when nobody reads them): this write is lost, the line stays open.
            if not self.closed:
                self._error(exc)
            self.stats.dropped_writes += 1
            return
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            if not self.closed:
                if self._read_lock.acquire(blocking=False):
                    try:  # nobody is reading to find out: the writer declares the device lost
                        if not self._down and not self.closed:
                            self._lost(exc)
                    finally:
                        self._read_lock.release()
                else:  # the reader finds it on its next read, and reopens it
                    self._error(exc)
            self.stats.dropped_writes += 1
            return
        self._sent(data)

    def _cancel(self) -> None:
        self._cancel_asked = True
        self._wake.set()
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


def _bare_pty(target: str) -> bool:
    """A pty slave named by its own number (/dev/pts/N), not through a symlink."""
    return target.startswith("/dev/pts/") and not os.path.islink(target)
