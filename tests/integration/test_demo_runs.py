"""`gridfree demo` as a new user meets it: a second run in the same folder passes like the first,
`--resume` goes on from where the last run stopped, a display whose X server cannot be reached
costs the window, not the run, and however the demo process ends its node ends with it."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DEMO = [sys.executable, "-m", "gridfree.protocols.cli", "demo"]


def _env(**changes) -> dict:
    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _demo(cwd: Path, *args: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([*DEMO, *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env=_env(**({"QT_QPA_PLATFORM": "offscreen"} | env)))


def _unused_x_display() -> str:
    n = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists())
    return f":{n}"


def test_a_second_run_in_the_same_folder_passes_and_resume_goes_on(tmp_path):
    # The first run has a display whose X server does not answer: no abort, no window, a headless run.
    first = _demo(tmp_path, "--hours", "0.02", QT_QPA_PLATFORM=None, DISPLAY=_unused_x_display(), WAYLAND_DISPLAY=None)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "running headless instead" in first.stderr and "Traceback" not in first.stderr
    out = tmp_path / "gridfree-demo"
    first_report = (out / "report.md").read_text()
    assert first_report.startswith("# HIL scenario `demo`: PASS")

    second = _demo(tmp_path, "--headless", "--hours", "0.02")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "FAIL" not in second.stdout and "ClockWentBackwards" not in second.stdout + second.stderr
    assert (out / "report.md").read_text().startswith("# HIL scenario `demo`: PASS")
    assert (out / "previous" / "report.md").read_text() == first_report  # the first run's, kept once

    stopped = json.loads((out / "continue.json").read_text())
    resumed = _demo(tmp_path, "--headless", "--hours", "0.02", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming the previous run" in resumed.stdout and "FAIL" not in resumed.stdout
    went_on = json.loads((out / "continue.json").read_text())
    assert went_on["elapsed_s"] == pytest.approx(stopped["elapsed_s"] + 72.0)
    assert went_on["end_unix_s"] == pytest.approx(stopped["end_unix_s"] + 72.0)


def _children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # exited, not yet reaped by whoever inherited it


def _recorded_octets(log: Path) -> int:
    """Telemetry the demo has recorded so far: it grows only while the rig steps the node."""
    return sum(p.stat().st_size for p in log.glob("seg-*.gfa")) if log.is_dir() else 0


def _wait_until(condition, timeout_s: float) -> bool:
    """Poll a condition another process makes true (no event crosses the process boundary)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_no_child_outlives_the_demo(tmp_path, how):
    demo = subprocess.Popen([*DEMO, "--headless", "--hours", "24"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=tmp_path, env=_env(QT_QPA_PLATFORM="offscreen"))
    try:
        node_pid = None
        for line in demo.stdout:
            m = re.search(r"node \S+ \(pid (\d+),", line)
            if m:
                node_pid = int(m.group(1))
                break
        assert node_pid is not None, "the demo never started its node"
        children = _children(demo.pid)
        assert node_pid in children
        log = tmp_path / "gridfree-demo" / "log"
        assert _wait_until(lambda: _recorded_octets(log) > 100_000, 60), "the rig never got going"  # mid-run
        demo.send_signal(how)
        status = demo.wait(60)
        _wait_until(lambda: all(_gone(pid) for pid in children), 15)
        assert [pid for pid in children if not _gone(pid)] == [], f"left running after {how.name}"
        if how != signal.SIGKILL:  # stopped in order: its own status, and what it flew so far written
            assert status == 128 + how
            assert (tmp_path / "gridfree-demo" / "report.md").exists()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        demo.stdout.close()


@pytest.mark.parametrize("args, says", [
    (["--hours", "-1"], "--hours must be between"),
    (["--hours", "nan"], "--hours must be between"),
    (["--speed", "0"], "--speed must be"),
    (["--hours", "many"], "argument --hours: invalid float value"),
    (["--resume"], "has no run to resume"),
    (["--out", "afile"], "is a file, not a folder"),
])
def test_bad_demo_arguments_cost_one_line_and_a_nonzero_status(tmp_path, args, says):
    (tmp_path / "afile").write_text("mine")
    run = _demo(tmp_path, *args)
    assert run.returncode == 2
    assert run.stdout == "" and len(run.stderr.splitlines()) == 1 and says in run.stderr, run.stderr
    assert (tmp_path / "afile").read_text() == "mine"


def test_a_folder_the_demo_did_not_make_is_refused_not_emptied(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "log").write_text("the user's own")
    run = _demo(tmp_path, "--out", "notes")
    assert run.returncode == 2 and "did not write" in run.stderr and len(run.stderr.splitlines()) == 1
    assert (tmp_path / "notes" / "log").read_text() == "the user's own"
