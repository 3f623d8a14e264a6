"""A pair of connected pseudo-terminals, made in Python, so that two processes can talk as if
joined by a serial cable: what `socat -d -d pty,raw,echo=0 pty,raw,echo=0` does, with nothing to
install but pip.

Each end is a real tty device (`/dev/pts/N`, in `paths`) in raw mode without echo, which any
process opens like a serial port (`open_link(path)`, `serial.Serial(path)`). One relay thread
copies bytes between the two master sides with a selector. The pair holds both slave sides open
itself, so either process may close and reopen its end without the other seeing a hang-up: the
cable stays plugged in until `stop()`, which unplugs it (both ends then read EIO). Writers never
block on the pair: bytes for an end that nobody has read for STALE_S are dropped and counted
(`stats`), so a process that opens its end late hears the present, not a backlog.

Fault injection: `transform_ab` sees every chunk written at `paths[0]` on its way to
`paths[1]`, `transform_ba` the other way. Each takes the bytes and returns the bytes to deliver:
flip bits, drop bytes (return fewer), go silent (return b""), or add noise (return more). They
run on the relay thread and may be replaced at any time, from any thread (e.g. by a HIL
scenario). A transform that raises is counted in `errors` and the chunk goes through unchanged,
so a broken fault model cannot cut the line by accident.

Stable names: `links=(path_a, path_b)` makes a symlink at each path to its pty (socat's `link=`),
removed again by `stop()`. A pty's own name is the kernel's choice and differs on every run; a
configuration names the symlink, so a line unplugged (`stop()`) and replugged (a new pair with
the same links) is the same device path to the processes on it, as a USB adapter's by-id name is.

    python -m gridfree.protocols.links.ptypair [--link-a PATH] [--link-b PATH]
        prints the two device paths, one per line, and relays until Ctrl-C or SIGTERM
"""
from __future__ import annotations

import argparse
import os
import pty
import selectors
import signal
import sys
import threading
import time
import tty
from typing import Callable

#: Octets held for a side that reads slowly before newer ones are dropped (counted): the writer
#: must never block because of the reader.
MAX_PENDING_OCTETS = 1 << 20
#: A side that has taken nothing for this long has nobody reading it: what is waiting for it is
#: dropped (counted), as a line with no listener loses data, so whoever opens it later hears
#: the present rather than a backlog of old frames.
STALE_S = 1.0
CHUNK_OCTETS = 65536
#: How long `stop()` waits for the relay thread.
STOP_WAIT_S = 2.0

Transform = Callable[[bytes], bytes]


class _Side:
    """One pty: its master (relayed by us), its slave (held open by us), and bytes owed to it."""

    def __init__(self):
        self.master, self.slave = pty.openpty()
        try:
            tty.setraw(self.slave)
            os.set_blocking(self.master, False)
            self.path = os.ttyname(self.slave)
        except OSError:
            self.close()
            raise
        self.pending = bytearray()  # read from the other side, not yet written to this master
        self.stalled_since: float | None = None  # when this master last refused bytes
        self.delivered = 0  # octets written to this side's master (readable at this path)
        self.dropped = 0  # octets meant for this side that were lost

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class PtyPair:
    """Two raw ptys joined back to back. `paths[0]` is side a, `paths[1]` side b."""

    def __init__(self, transform_ab: Transform | None = None, transform_ba: Transform | None = None,
                 links: tuple[str | None, str | None] = (None, None)):
        self.a = _Side()
        try:
            self.b = _Side()
        except OSError:
            self.a.close()
            raise
        self.links: list[str] = []
        try:
            for link, side in zip(links, (self.a, self.b)):
                if link:
                    _replace_symlink(str(link), side.path)
                    self.links.append(str(link))
        except OSError:
            self._unlink()
            self.a.close()
            self.b.close()
            raise
        self.transform_ab, self.transform_ba = transform_ab, transform_ba
        self.errors = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._relay, name="ptypair", daemon=True)
        self._stopped = False

    @property
    def paths(self) -> tuple[str, str]:
        return self.a.path, self.b.path

    @property
    def stats(self) -> dict:
        return {"bytes_ab": self.b.delivered, "bytes_ba": self.a.delivered,
                "dropped_ab": self.b.dropped, "dropped_ba": self.a.dropped, "errors": self.errors}

    def start(self) -> "PtyPair":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop relaying and close both ptys (a cable pulled out). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._unlink()  # unplugged: the names go first, so nobody reopens a dying pty by them
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(STOP_WAIT_S)
        if self._thread.is_alive():
            # Stuck in a transform: closing the descriptors now could let it read or write
            # whatever file reuses their numbers, so leave them to the process's exit.
            self.last_error = "relay thread did not stop (a transform blocked?); ptys left open"
            self.errors += 1
            return
        for side in (self.a, self.b):
            side.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _unlink(self) -> None:
        for link in self.links:
            try:
                if os.path.islink(link):
                    os.unlink(link)
            except OSError:
                pass  # someone else removed or replaced it: not ours to worry about
        self.links = []

    def __enter__(self) -> "PtyPair":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PtyPair({self.a.path!r} <-> {self.b.path!r})"

    # ---- relay thread ----------------------------------------------------------------------------
    def _relay(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ, None)
        routes = {self.a.master: (self.a, self.b, "ab"), self.b.master: (self.b, self.a, "ba")}
        for fd in routes:
            sel.register(fd, selectors.EVENT_READ, fd)
        try:
            while not self._stop.is_set():
                waiting = self.a.pending or self.b.pending
                for key, events in sel.select(STALE_S / 4 if waiting else None):
                    if key.data is None:
                        continue  # the wake-up pipe: the loop condition decides
                    src, dst, direction = routes[key.fd]
                    if events & selectors.EVENT_READ:
                        self._pump(src, dst, direction)
                    if events & selectors.EVENT_WRITE:
                        self._flush(src)
                for fd, (side, _, _) in routes.items():
                    self._drop_if_stale(side)
                    sel.modify(fd, selectors.EVENT_READ | (selectors.EVENT_WRITE if side.pending else 0), fd)
        except Exception as exc:  # noqa: BLE001 - a relay that dies must say why
            self._count(exc)
        finally:
            sel.close()

    def _count(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"

    def _pump(self, src: _Side, dst: _Side, direction: str) -> None:
        try:
            data = os.read(src.master, CHUNK_OCTETS)
        except BlockingIOError:
            return
        except OSError as exc:
            # EIO only when no slave is open, and we hold ours: anything here is worth a count.
            self._count(exc)
            return
        transform = self.transform_ab if direction == "ab" else self.transform_ba
        if transform is not None:
            try:
                data = bytes(transform(data))
            except Exception as exc:  # noqa: BLE001 - counted; the line carries on unchanged
                self._count(exc)
        if not data:
            return
        room = max(MAX_PENDING_OCTETS - len(dst.pending), 0)
        if len(data) > room:
            dst.dropped += len(data) - room
            data = data[:room]
        dst.pending += data
        self._flush(dst)

    @staticmethod
    def _drop_if_stale(side: _Side) -> None:
        if side.pending and side.stalled_since is not None and time.monotonic() - side.stalled_since > STALE_S:
            side.dropped += len(side.pending)
            side.pending.clear()
            side.stalled_since = None

    def _flush(self, side: _Side) -> None:
        while side.pending:
            try:
                n = os.write(side.master, side.pending[:CHUNK_OCTETS])
            except BlockingIOError:
                if side.stalled_since is None:
                    side.stalled_since = time.monotonic()
                return  # the reader at that path is behind: EVENT_WRITE resumes us
            except OSError as exc:
                self._count(exc)
                side.dropped += len(side.pending)
                side.pending.clear()
                return
            side.delivered += n
            side.stalled_since = None
            del side.pending[:n]


def _replace_symlink(link: str, target: str) -> None:
    """Point `link` at `target`, replacing a stale symlink left by an earlier pair (never a file)."""
    if os.path.lexists(link):
        if not os.path.islink(link):
            raise FileExistsError(f"{link} exists and is not a symlink: not replacing it")
        os.unlink(link)
    os.symlink(target, link)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gridfree.protocols.links.ptypair",
        description="Make two raw ptys joined like a serial cable; print their paths, one per line, "
                    "and relay until Ctrl-C or SIGTERM.",
    )
    parser.add_argument("--link-a", metavar="PATH", help="also name the first pty PATH (a symlink, removed at exit)")
    parser.add_argument("--link-b", metavar="PATH", help="also name the second pty PATH (a symlink, removed at exit)")
    args = parser.parse_args(argv)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        pair = PtyPair(links=(args.link_a, args.link_b))
    except OSError as exc:
        print(f"ptypair: {exc}", file=sys.stderr)
        return 2
    with pair:
        print(pair.a.path, pair.b.path, sep="\n", flush=True)
        while not done.wait(1.0):
            pass
        print(f"stopped: {pair.stats}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
