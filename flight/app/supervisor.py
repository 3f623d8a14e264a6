"""The node's supervisor: the process that restarts the flight software, as a board's reset
controller would.

It starts the node as a child with a heartbeat pipe. The child writes to it every second; if it
stops (a hung process that still exists) or the child exits abnormally (crash, watchdog, commanded
reboot), the supervisor kills what is left and starts a new child, telling it the reset cause so it
goes down in the boot event. A clean exit (SIGINT/SIGTERM forwarded to the child) ends supervision.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

from gridfree.flight.app.config import NodeConfig, ConfigError

EXIT_OK, EXIT_CONFIG, EXIT_REBOOT, EXIT_WATCHDOG = 0, 2, 3, 4
MAX_RESTARTS_PER_MINUTE = 10
BOOT_GRACE_S = 30.0  # until its first heartbeat a child is booting (imports, state recovery)
CAUSES = {EXIT_REBOOT: "commanded reboot", EXIT_WATCHDOG: "software watchdog"}


def supervise(config: str, insecure: bool = False) -> int:
    try:
        timeout_s = NodeConfig.load(config).watchdog_s
    except ConfigError as exc:
        print(f"gridfree node: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    stopping = False
    child: subprocess.Popen | None = None

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    cause, restarts = "power on", []
    while True:
        r, w = os.pipe()
        child = subprocess.Popen([sys.executable, "-m", "gridfree.flight", "--config", config,
                                  "--heartbeat-fd", str(w), "--reset-cause", cause]
                                 + (["--insecure"] if insecure else []), pass_fds=(w,))
        os.close(w)
        cause = _watch(child, r, timeout_s, lambda: stopping)
        os.close(r)
        if cause is None or stopping:
            return child.returncode if child.returncode in (EXIT_OK, EXIT_CONFIG) else EXIT_OK
        now = time.monotonic()
        restarts = [t for t in restarts if now - t < 60] + [now]
        print(f"gridfree supervisor: restarting node ({cause})", file=sys.stderr, flush=True)
        if len(restarts) > MAX_RESTARTS_PER_MINUTE:
            print("gridfree supervisor: restarting too often; giving up", file=sys.stderr)
            return 1


def _watch(child: subprocess.Popen, heartbeat_fd: int, timeout_s: float, stopping) -> str | None:
    """Wait for the child to end or to go silent; returns the reset cause, None for a clean end.
    Before its first heartbeat the child gets BOOT_GRACE_S: a loaded host can take longer than the
    watchdog period just to import and recover state, and restarting it then only loads it more."""
    last, allowed_s = time.monotonic(), max(timeout_s, BOOT_GRACE_S)
    while True:
        ready, _, _ = select.select([heartbeat_fd], [], [], 0.25)
        if ready:
            try:
                if os.read(heartbeat_fd, 4096):
                    last, allowed_s = time.monotonic(), timeout_s
            except OSError:
                pass
        code = child.poll()
        if code is not None:
            if code in (EXIT_OK, EXIT_CONFIG) or stopping():
                return None
            return CAUSES.get(code, f"crash (exit {code})")
        if not stopping() and time.monotonic() - last > allowed_s:
            child.kill()
            child.wait()
            return "heartbeat lost"
