"""Helpers for the link tests: wait on data or on conditions, never on a clock."""
from __future__ import annotations

import threading
import time

MB = 1 << 20


def read_exactly(link, n: int, timeout_s: float = 10.0) -> bytes:
    """Read until n octets arrived; returns what came (short) rather than hang past the timeout."""
    out, deadline = bytearray(), time.monotonic() + timeout_s
    while len(out) < n and time.monotonic() < deadline:
        out += link.read(n - len(out), timeout=0.2)
    return bytes(out)


def read_fd_exactly(fd: int, n: int, timeout_s: float = 10.0) -> bytes:
    """The same on a raw file descriptor (a pty master), with select so it cannot hang."""
    import os
    import select

    out, deadline = bytearray(), time.monotonic() + timeout_s
    while len(out) < n and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            out += os.read(fd, n - len(out))
    return bytes(out)


def in_thread(fn, *args) -> tuple[threading.Thread, list]:
    """Run fn(*args) on a thread; the list receives its result (or the exception it raised)."""
    result: list = []

    def run():
        try:
            result.append(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the test to assert on
            result.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, result


def write_all(link, data: bytes, chunk: int = 4096) -> None:
    for i in range(0, len(data), chunk):
        link.write(data[i:i + chunk])


def wait_until(predicate, timeout_s: float = 10.0, poll_s: float = 0.01) -> bool:
    """True once predicate() holds; waits on an Event so nothing sleeps unconditionally."""
    deadline, tick = time.monotonic() + timeout_s, threading.Event()
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        tick.wait(poll_s)
    return True
