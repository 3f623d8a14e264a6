"""Child processes that never outlive the bench that started them.

A rig or demo process can end in ways no `finally` sees: SIGKILL, Qt's abort() when a display
library is missing, a crash. A node left behind keeps its radio port and its state directory, and
the next run trips over it. So every child is started here:

- in its own process group, so a Ctrl-C at the terminal reaches the parent alone, which then stops
  the child in order (`stop`) instead of both racing to exit;
- with the Linux parent-death signal (prctl PR_SET_PDEATHSIG) set to SIGTERM, so the kernel stops
  it when the parent dies, however the parent dies. The signal follows the *thread* that forked, so
  start children from a thread that lives as long as they should (the main thread).
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1

# Resolved before any fork: the child must not call dlopen (another thread may hold its lock).
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with(parent_pid: int):
    def preexec() -> None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)
    return preexec


def popen(args: list[str], **kwargs) -> subprocess.Popen:
    """subprocess.Popen for a child that dies with this process (see the module docstring)."""
    if _prctl is not None:
        kwargs.setdefault("preexec_fn", _die_with(os.getpid()))
    kwargs.setdefault("process_group", 0)
    return subprocess.Popen(args, **kwargs)


def run(args: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run for a short-lived child that dies with this process."""
    with popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs) as child:
        try:
            out, err = child.communicate(timeout=timeout)
        except BaseException:
            stop(child, 0)
            raise
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, args, out, err)
    return subprocess.CompletedProcess(args, child.returncode, out, err)


def stop(child: subprocess.Popen, grace_s: float = 10.0) -> int:
    """SIGTERM, up to `grace_s` to exit cleanly, then SIGKILL; returns the exit status."""
    if child.poll() is None:
        child.terminate()
    try:
        return child.wait(grace_s)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait(5)
