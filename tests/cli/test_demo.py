"""`gridfree demo` headless, as the README's first command runs it without a display: the rig,
a node process and the console come up, the tenants' jobs are accepted, and the report, the
screenshots and the recorded log are written."""
import os
import subprocess
import sys

from gridfree.ground.archive.reader import open_archive


def test_demo_headless_writes_a_passing_report_a_screenshot_and_a_log(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    # As the README runs it: in some directory, output to the default, relative gridfree-demo/.
    run = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "demo", "--headless", "--hours", "0.1"],
                         capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    tmp_path = tmp_path / "gridfree-demo"
    report = (tmp_path / "report.md").read_text()
    assert "FAIL" not in report and "compute.Submit" in report
    assert "fail " not in run.stdout and run.stdout.count("pass  command compute.Submit") == 2  # those due by 0.1 h
    for shot in ("console.png", "console-telemetry.png"):
        assert (tmp_path / shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sum(1 for _ in open_archive(tmp_path / "log").records()) > 100
