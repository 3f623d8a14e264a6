"""`gridfree demo`: the whole system on one machine, from one command.

The rig (truth model, emulated EPS board on a pty pair, the node's lockstep clock over TCP), an
unmodified node process, and the console on the node's radio (TCP), with the downlink recorded
in an archive. The rig paces the simulation at `--speed` times real time so an operator sees the
node go through sunlight and eclipse. Without a display it runs one orbit as fast as it goes,
prints a summary and writes the scenario report and a console screenshot.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

DEMO = {"name": "demo", "orbit": "iss500", "start": "2026-03-20T12:00:00Z", "duration_h": 24.0, "step_s": 1.0,
        "initial_soc": 0.75, "compute_utilisation": 0.5,
        "command": [{"at_h": 0.0, "name": "node.SetMode", "args": {"mode": "NOMINAL"}, "expect": "completed"},
                    *({"at_h": 0.0, "name": "compute.SetQuota", "args": {"tenant": t, "tokens": 4_000_000_000},
                       "expect": "completed"} for t in (1, 2)),
                    *({"at_h": at, "name": "compute.Submit", "expect": "completed",
                       "args": dict(job_id=j, tenant=t, kind=kind, seed=j, size=size, batch=batch, chunks=chunks,
                                    priority=1, deadline_unix_s=0.0, threshold=0.3, input_id=0)}
                      for at, j, t, kind, size, batch, chunks in (
                          (0.01, 1, 1, "MLP", 1, 256, 400), (0.02, 2, 2, "MATMUL", 256, 1, 300),
                          (0.3, 3, 2, "TILES", 0, 16, 600), (0.6, 4, 1, "MLP", 2, 64, 600),
                          (0.9, 5, 2, "MATMUL", 512, 1, 400)))],
        "criteria": {"no_undervoltage": True, "max_dod_pct": 30.0, "max_payload_temp_C": 85.0,
                     "min_battery_temp_C": 0.0}}
HEADLESS_HOURS = 1.6  # one orbit of the ISS-like preset, with its eclipse


def has_display() -> bool:
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and platform not in ("xcb", "wayland"):
        return platform not in ("offscreen", "minimal")
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("darwin", "win32")


class Pacer(threading.Thread):
    """Steps the rig session at `speed` simulated seconds per wall second (inf: flat out)."""

    def __init__(self, session, speed: float):
        super().__init__(name="rig", daemon=True)
        self.session, self.speed = session, speed
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.wall_s = 0.0

    def run(self) -> None:
        s = self.session
        t0 = time.monotonic()
        try:
            while not s.done and not self.stop.is_set():
                s.step()
                if self.speed != float("inf"):
                    ahead = s.k * s.scenario.step_s / self.speed - (time.monotonic() - t0)
                    if ahead > 0:
                        self.stop.wait(ahead)
        except BaseException as exc:  # the console shows it; the process still shuts down cleanly
            self.error = exc
        self.wall_s = time.monotonic() - t0


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree demo", description="a rig, a node and the console, live")
    parser.add_argument("--speed", type=float, default=60.0, help="simulated seconds per wall second (default 60)")
    parser.add_argument("--headless", action="store_true", help="no window even if a display is available")
    parser.add_argument("--hours", type=float, default=None, help="simulated hours (default: 24, headless 1.6)")
    parser.add_argument("--out", default="gridfree-demo", help="directory for the report, screenshot and log")
    a = parser.parse_args(argv)
    headless = a.headless or not has_display()
    if headless:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")  # the offscreen plugin's notices
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gridfree.ground.archive.recorder import Recorder
    from gridfree.ground.console.mainwindow import MainWindow
    from gridfree.ground.hil import report
    from gridfree.ground.hil.runner import Session, _dictionary
    from gridfree.ground.hil.scenario import Scenario
    from gridfree.ground.link.client import GroundClient

    out = Path(a.out)
    scenario = Scenario.from_dict(dict(DEMO, duration_h=a.hours or (HEADLESS_HOURS if headless else 24.0)))
    dictionary = _dictionary()
    print(f"gridfree demo: {scenario.orbit}, {scenario.duration_s / 3600:.1f} h "
          f"{'as fast as it goes, headless' if headless else f'at {a.speed:g}x'}; output in {out}/", flush=True)
    session = Session(scenario, out / "run", "tcp://127.0.0.1:0?listen=1")
    client = recorder = window = None
    try:
        node = session.addresses  # from the node's GRIDFREE-NODE line
        print(f"gridfree demo: node {node.name} (APID {node.apid}) radio on {node.radio}, clock on {node.clock}",
              flush=True)
        if node.dictionary != dictionary.hash:
            print(f"gridfree demo: warning: the node flies dictionary {node.dictionary}, the console decodes with "
                  f"{dictionary.hash}", file=sys.stderr)
        client = GroundClient(node.radio, dictionary, apid=node.apid)
        recorder = Recorder(out / "log", dictionary).attach(client)
        client.connect()
        session.attach(client, dictionary.parameter_by_name["power.UnderVoltageV"].default)
        app = QApplication.instance() or QApplication([])
        window = MainWindow(client, settings_path=out / "console.ini")
        window.setWindowTitle("gridfree demo console")
        window.resize(1500, 950)
        window.show()
        window.tabs.setCurrentWidget(window.power)  # a satellite going through sunlight and eclipse
        pacer = Pacer(session, float("inf") if headless else a.speed)
        pacer.start()
        signal.signal(signal.SIGINT, lambda *_: app.quit())  # Ctrl-C: leave the event loop, clean up below
        watch = QTimer()
        watch.timeout.connect(lambda: app.quit() if headless and not pacer.is_alive() else None)
        watch.start(200)
        app.exec()
        pacer.stop.set()
        pacer.join(30)
        if pacer.error is not None:
            print(f"gridfree demo: the rig stopped: {pacer.error}", file=sys.stderr)
        client.wait_until(lambda: False, 1.5)  # the last housekeeping of the run
        shot = out / "console.png"
        for tab, path in ((window.power, shot), (window.table, out / "console-telemetry.png")):
            window.tabs.setCurrentWidget(tab)
            for _ in range(10):
                app.processEvents()
                time.sleep(0.05)
            window.screenshot(path)
        result = session.result(pacer.wall_s)
        md = report.write(result, out)
        _summary(result, shot, md, recorder)
        return 0 if result.passed and pacer.error is None else 1
    finally:
        if window is not None:
            window.close()
        if client is not None:
            client.close()
        if recorder is not None:
            recorder.close()
        session.close()


def _summary(result, shot: Path, md: Path, recorder) -> None:
    rec, t = result.record, result.truth
    mode = {0: "BOOT", 1: "SAFE", 2: "NOMINAL"}.get(int(rec.node_mode[-1]) if rec.node_mode else -1, "unknown")
    eclipses = sum(1 for _, entering in result.observed.edges if entering)
    print(f"simulated {result.scenario.duration_s / 3600:.2f} h in {result.wall_s:.0f} s: {eclipses} eclipses, "
          f"battery SOC {min(rec.soc or [t.battery.soc]):.2f}..{max(rec.soc or [t.battery.soc]):.2f} "
          f"(node's estimate at the end {rec.node_soc[-1] if rec.node_soc else float('nan'):.2f}), node in {mode}, "
          f"{len(result.observed.events)} events")
    for name, ok, detail in result.checks:
        print(f"  {'pass' if ok else 'FAIL'}  {name}: {detail}")
    print(f"report {md}, console screenshot {shot}, {recorder.stats.acknowledged} frames recorded in "
          f"{md.parent / 'log'} (try `gridfree replay {md.parent / 'log'}`)")


command = {"help": "start a rig, a node and the console: a live satellite on this machine", "run": run}
