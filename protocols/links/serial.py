"""Serial links through pyserial, so hardware is a string.

URL grammar (anything pyserial's `serial_for_url` accepts)::

    /dev/ttyUSB0                 a device path (a pty slave path works the same)
    serial:///dev/ttyUSB0?baudrate=115200
    loop://                      pyserial's loopback: what is written is read back
    socket://host:port           pyserial's raw TCP client
    spy:///dev/ttyUSB0?file=trace.txt   hex-dump the traffic of a real device

`baudrate` (default 115200) is the only option gridfree adds; pyserial's own URL options pass
through.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import serial

from gridfree.protocols.links.base import Link, LinkError

DEFAULT_BAUD = 115200


class SerialLink(Link):
    def __init__(self, url: str):
        super().__init__(url)
        target, baud = url, DEFAULT_BAUD
        if url.startswith("serial://"):
            parts = urlsplit(url)
            target = parts.path
            query = parse_qs(parts.query)
            unknown = set(query) - {"baudrate"}
            if unknown:
                raise LinkError(f"{url}: unknown option {sorted(unknown)[0]!r}; expected serial:///dev/ttyX?baudrate=N")
            try:
                baud = int(query.get("baudrate", [DEFAULT_BAUD])[0])
            except ValueError:
                raise LinkError(f"{url}: baudrate must be an integer") from None
        try:
            self._port = serial.serial_for_url(target, baudrate=baud, timeout=0.1, write_timeout=5)
        except (serial.SerialException, ValueError) as exc:
            raise LinkError(f"cannot open serial link {url!r}: {exc}") from exc
        self.stats.connected = True

    def read(self, max_bytes: int = 65536, timeout: float | None = 0.1) -> bytes:
        if self.closed:
            return b""
        try:
            self._port.timeout = timeout
            first = self._port.read(1)
            if not first:
                return b""
            waiting = self._port.in_waiting
            data = first + (self._port.read(min(waiting, max_bytes - 1)) if waiting and max_bytes > 1 else b"")
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            # EIO when the other side of a pty goes away; TypeError/AttributeError when pyserial
            # is closed underneath a blocked read.
            if not self.closed:
                self._error(exc)
            return b""
        self.stats.reads += 1
        self.stats.bytes_in += len(data)
        return data

    def write(self, data: bytes) -> None:
        if self.closed:
            raise LinkError(f"{self.url}: write on a closed link")
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            self._error(exc)
            self.stats.dropped_writes += 1
            return
        self.stats.writes += 1
        self.stats.bytes_out += len(data)

    def _close(self) -> None:
        try:
            self._port.close()
        except (serial.SerialException, OSError) as exc:
            self._error(exc)
