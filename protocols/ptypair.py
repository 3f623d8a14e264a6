"""A pair of connected pseudo-terminals, made in Python, so that two processes can talk as if
joined by a serial cable (what `socat pty,raw,echo=0 pty,raw,echo=0` does, with nothing to
install but pip).

Each side is a real tty device (`/dev/pts/N`) in raw mode without echo; a relay thread copies
bytes between the two master ends. `transform_ab`/`transform_ba` are hook points for the HIL rig
to inject faults on the line (flip bits, drop bytes, go silent): each takes the bytes read on one
side and returns the bytes to deliver to the other.

    python -m gridfree.protocols.ptypair     prints the two device paths, relays until Ctrl-C
"""
from __future__ import annotations

import errno
import os
import pty
import selectors
import threading
import tty
from typing import Callable

MAX_PENDING_OCTETS = 1 << 20  # a side that nobody reads loses data beyond this, counted


class _Side:
    def __init__(self):
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.pending = bytearray()
        self.dropped = 0
        self.relayed = 0

    def close(self):
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class PtyPair:
    def __init__(self, transform_ab: Callable[[bytes], bytes] | None = None,
                 transform_ba: Callable[[bytes], bytes] | None = None):
        self.a, self.b = _Side(), _Side()
        self.transform_ab, self.transform_ba = transform_ab, transform_ba
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._relay, name="ptypair", daemon=True)
        self.errors = 0

    @property
    def paths(self) -> tuple[str, str]:
        return self.a.path, self.b.path

    def start(self) -> "PtyPair":
        self._thread.start()
        return self

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            os.write(self._wake_w, b"x")
            if self._thread.is_alive():
                self._thread.join(2)
            for side in (self.a, self.b):
                side.close()
            os.close(self._wake_r)
            os.close(self._wake_w)

    def __enter__(self) -> "PtyPair":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _relay(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ, None)
        routes = {self.a.master: (self.a, self.b, "ab"), self.b.master: (self.b, self.a, "ba")}
        for fd in routes:
            sel.register(fd, selectors.EVENT_READ, fd)
        try:
            while not self._stop.is_set():
                for key, events in sel.select(timeout=0.5):
                    if key.data is None:
                        continue
                    src, dst, direction = routes[key.fd]
                    if events & selectors.EVENT_READ:
                        self._pump(src, dst, direction)
                    if events & selectors.EVENT_WRITE:
                        self._flush(src)
                for fd, (side, _, _) in routes.items():
                    sel.modify(fd, selectors.EVENT_READ | (selectors.EVENT_WRITE if side.pending else 0), fd)
        finally:
            sel.close()

    def _pump(self, src: _Side, dst: _Side, direction: str) -> None:
        try:
            data = os.read(src.master, 65536)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EIO):
                self.errors += 1
            return
        transform = self.transform_ab if direction == "ab" else self.transform_ba
        if transform is not None:
            data = transform(data)
        if not data:
            return
        room = MAX_PENDING_OCTETS - len(dst.pending)
        if len(data) > room:
            dst.dropped += len(data) - max(room, 0)
            data = data[: max(room, 0)]
        dst.pending += data
        self._flush(dst)

    def _flush(self, side: _Side) -> None:
        while side.pending:
            try:
                n = os.write(side.master, side.pending[:4096])
            except OSError as exc:
                if exc.errno != errno.EAGAIN:
                    self.errors += 1
                    side.dropped += len(side.pending)
                    side.pending.clear()
                return
            side.relayed += n
            del side.pending[:n]


def main() -> int:
    with PtyPair() as pair:
        print(f"{pair.a.path} <-> {pair.b.path}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
