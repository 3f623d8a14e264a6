"""`gridfree demo`: the whole system on one machine, from one command.

The rig (truth model, emulated EPS board on a pty pair, the node's lockstep clock over TCP), an
unmodified node process, and the console on the node's radio (TCP), with the downlink recorded
in an archive. The rig paces the simulation at `--speed` times real time so an operator sees the
node go through sunlight and eclipse. Without a display it runs one orbit as fast as it goes,
prints a summary and writes the scenario report and a console screenshot.

A demo must not trip over itself: whether a window can open is asked before Qt is loaded
(`desktop.py`: Qt aborts instead of failing); each run starts a fresh node unless `--resume`
(`demodir.py`); the node dies with this process however it ends (`hil/children.py`); and the
terminal and the console's status bar show the simulated time, the speed achieved against the
speed asked and the criteria so far (`demopace.py`, `democonsole.py`).
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path

from gridfree.ground import demodir, desktop

#: When the setup commands go: the node accepts NOMINAL only with a battery reading in hand, and it
#: has none before its first steps.
SETUP_AT_H = 10 / 3600
#: Mode and quotas: sent at the start of every run, resumed or not (a reboot may have undone them).
SETUP = [{"at_h": SETUP_AT_H, "name": "node.SetMode", "args": {"mode": "NOMINAL"}, "expect": "completed"},
         *({"at_h": SETUP_AT_H, "name": "compute.SetQuota", "args": {"tenant": t, "tokens": 4_000_000_000},
            "expect": "completed"} for t in (1, 2))]
#: The tenants' jobs, each submitted once over the demo's timeline.
JOBS = [{"at_h": at, "name": "compute.Submit", "expect": "completed",
         "args": dict(job_id=j, tenant=t, kind=kind, seed=j, size=size, batch=batch, chunks=chunks,
                      priority=1, deadline_unix_s=0.0, threshold=0.3, input_id=0)}
        for at, j, t, kind, size, batch, chunks in (
            (0.01, 1, 1, "MLP", 1, 256, 400), (0.02, 2, 2, "MATMUL", 256, 1, 300),
            (0.3, 3, 2, "TILES", 0, 16, 600), (0.6, 4, 1, "MLP", 2, 64, 600),
            (0.9, 5, 2, "MATMUL", 512, 1, 400))]
#: work_scale: one host operation stands for 1e5 of the board's, so a 512-point product is ~1.3 s of
#: the 40 TFLOP/s board at half clock and the jobs keep it busy through the orbit (the host's share
#: is milliseconds a chunk: it keeps up with the lockstep clock).
DEMO = {"name": "demo", "orbit": "iss500", "start": "2026-03-20T12:00:00Z", "duration_h": 24.0, "step_s": 1.0,
        "initial_soc": 0.75, "compute_utilisation": 0.5, "work_scale": 1e5, "command": SETUP + JOBS,
        "criteria": {"no_undervoltage": True, "max_dod_pct": 30.0, "max_payload_temp_C": 85.0,
                     "min_battery_temp_C": 0.0}}
HEADLESS_HOURS = 1.6  # one orbit of the ISS-like preset, with its eclipse
DISPLAY_HOURS = 24.0
#: What the scenario format accepts (ground/hil/scenario.py), checked here to say it in demo terms.
MIN_HOURS, MAX_HOURS = 0.001, 24.0 * 60
MAX_SPEED = 1e6


class _Parser(argparse.ArgumentParser):
    """Bad arguments cost one line and exit status 2, not the whole usage."""

    def error(self, message: str):
        self.exit(2, f"gridfree demo: {message} (`gridfree demo --help` lists the options)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gridfree demo", description="A rig, a node and the console on this machine: a live satellite. "
                "Each run starts a fresh node; the previous run's outputs move to OUT/previous/.")
    p.add_argument("--speed", type=float, default=60.0,
                   help="simulated seconds per wall second with a window (default 60; headless runs flat out)")
    p.add_argument("--headless", action="store_true", help="no window even if a display is available")
    p.add_argument("--hours", type=float, default=None,
                   help=f"simulated hours (default {DISPLAY_HOURS:g}, headless {HEADLESS_HOURS:g})")
    p.add_argument("--out", default="gridfree-demo", help="folder for the report, screenshots, log and node state "
                   "(default gridfree-demo)")
    p.add_argument("--resume", action="store_true",
                   help="keep the previous run's node state and go on from where it stopped, instead of a fresh node")
    return p


def _check(a: argparse.Namespace) -> str | None:
    if not (math.isfinite(a.speed) and 0 < a.speed <= MAX_SPEED):
        return f"--speed must be a number of simulated seconds per wall second in (0, {MAX_SPEED:g}], got {a.speed:g}"
    if a.hours is not None and not (math.isfinite(a.hours) and MIN_HOURS <= a.hours <= MAX_HOURS):
        return f"--hours must be between {MIN_HOURS:g} and {MAX_HOURS:g} simulated hours, got {a.hours:g}"
    return None


def demo_scenario(hours: float, continuation: demodir.Continuation | None) -> dict:
    """The demo's scenario document; resumed, it starts where the last run stopped: at its
    simulated time and battery charge, with the SETUP commands sent again and only the JOBS not
    yet submitted, at their place in the demo's timeline."""
    doc = dict(DEMO, duration_h=hours)
    if continuation is not None:
        done_h = continuation.elapsed_s / 3600
        doc["start"] = datetime.fromtimestamp(continuation.end_unix_s, timezone.utc).isoformat()
        doc["initial_soc"] = continuation.soc
        # As Session sends them: a command is gone once its at_s <= the elapsed time.
        doc["command"] = SETUP + [dict(c, at_h=max(SETUP_AT_H, c["at_h"] - done_h)) for c in JOBS
                                  if float(c["at_h"]) * 3600.0 > continuation.elapsed_s]
    return doc


class _Stop:
    """SIGINT and SIGTERM: before the event loop, unwind (the finally blocks stop the node); in it,
    leave it, so the report and screenshots of the run so far are still written."""

    def __init__(self):
        self.signal: int | None = None
        self.app = None

    def __call__(self, signum, _frame) -> None:
        self.signal = signum
        if self.app is None:
            raise KeyboardInterrupt
        self.app.quit()

    @property
    def exit_status(self) -> int | None:
        return None if self.signal is None else 128 + self.signal


def run(argv: list[str]) -> int:
    a = _parser().parse_args(argv)
    problem = _check(a)
    if problem:
        print(f"gridfree demo: {problem}", file=sys.stderr)
        return 2
    out = Path(a.out)
    try:
        continuation = demodir.prepare(out, a.resume)
    except (demodir.DemoDirError, OSError) as exc:
        print(f"gridfree demo: {exc}", file=sys.stderr)
        return 2
    headless = a.headless
    if not headless:
        why = desktop.window_unavailable()
        if why is not None:
            headless = True
            print(f"gridfree demo: no window: {why}.\ngridfree demo: running headless instead; the report and "
                  f"console screenshots go to {out}/", file=sys.stderr, flush=True)
    if headless:
        why = desktop.offscreen_unavailable()
        if why is not None:
            print(f"gridfree demo: cannot draw the console even offscreen: {why}", file=sys.stderr)
            return 1
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")  # the offscreen plugin's notices
    stop = _Stop()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        hours = a.hours or (HEADLESS_HOURS if headless else DISPLAY_HOURS)
        status = _fly(a, out, headless, demo_scenario(hours, continuation), continuation, stop)
        return stop.exit_status or status
    except KeyboardInterrupt:
        return stop.exit_status or 130
    except RuntimeError as exc:  # the dictionary could not be built, the node did not start
        print(f"gridfree demo: {exc}", file=sys.stderr)
        return 1
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _fly(a, out: Path, headless: bool, doc: dict, continuation, stop: _Stop) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gridfree.ground.archive.recorder import Recorder
    from gridfree.ground.console.mainwindow import MainWindow
    from gridfree.ground.console.offscreen import quiet_offscreen_notices
    from gridfree.ground.democonsole import Arrivals, SpeedLabel, still_screenshots
    from gridfree.ground.demopace import Pacer, TerminalProgress
    from gridfree.ground.hil import report
    from gridfree.ground.hil.runner import Session, _dictionary
    from gridfree.ground.hil.scenario import Scenario
    from gridfree.ground.link.client import GroundClient

    scenario = Scenario.from_dict(doc)
    speed = math.inf if headless else a.speed
    dictionary = _dictionary()
    print(f"gridfree demo: {scenario.orbit}, {scenario.duration_s / 3600:.2f} h "
          f"{'as fast as it goes, headless' if headless else f'at {a.speed:g}x'}"
          f"{', resuming the previous run' if continuation else ''}; output in {out}/", flush=True)
    session = Session(scenario, out / "run", "tcp://127.0.0.1:0?listen=1")
    client = recorder = window = progress = pacer = None
    try:
        node = session.addresses  # from the node's GRIDFREE-NODE line
        print(f"gridfree demo: node {node.name} (pid {session.node.pid}, APID {node.apid}) radio on {node.radio}, "
              f"clock on {node.clock}", flush=True)
        if node.dictionary != dictionary.hash:
            print(f"gridfree demo: warning: the node flies dictionary {node.dictionary}, the console decodes with "
                  f"{dictionary.hash}", file=sys.stderr)
        client = GroundClient(node.radio, dictionary, apid=node.apid, security=session.ground_security())
        recorder = Recorder(out / "log", dictionary).attach(client)
        arrivals = Arrivals(client)
        client.connect()
        session.attach(client, dictionary.parameter_by_name["power.UnderVoltageV"].default)
        app = QApplication.instance() or QApplication([])
        quiet_offscreen_notices(app)
        window = MainWindow(client, settings_path=out / "console.ini")
        window.setWindowTitle("gridfree demo console")
        window.resize(1500, 950)
        progress = TerminalProgress(scenario.duration_s)
        pacer = Pacer(session, speed, on_progress=progress)
        window.statusBar().addPermanentWidget(SpeedLabel(pacer))
        window.show()
        window.tabs.setCurrentWidget(window.power)  # a satellite going through sunlight and eclipse
        stop.app = app
        pacer.start()
        watch = QTimer()  # also lets Python run its signal handlers while Qt waits
        watch.timeout.connect(lambda: app.quit() if headless and not pacer.is_alive() else None)
        watch.start(200)
        if stop.signal is None:
            app.exec()
        pacer.stop.set()
        pacer.join(30)
        progress.close()
        if pacer.error is not None:
            print(f"gridfree demo: the rig stopped: {pacer.error}", file=sys.stderr)
        shot = out / "console.png"
        still_screenshots(app, window, arrivals, [(window.power, shot), (window.table, out / "console-telemetry.png")])
        result = session.result(pacer.wall_s)
        md = report.write(result, out, speed_asked=speed)
        _summary(result, speed, shot, md, recorder)
        return 0 if result.passed and pacer.error is None else 1
    finally:
        stop.app = None
        if progress is not None:
            progress.close()
        if pacer is not None and pacer.is_alive():
            pacer.stop.set()
            pacer.join(30)
        if session.k:
            t = session.truth
            done_s = (continuation.elapsed_s if continuation else 0.0) + session.k * scenario.step_s
            demodir.Continuation(t.time_s, done_s, t.battery.soc).save(out)
        if window is not None:
            window.close()
        if client is not None:
            client.close()
        if recorder is not None:
            recorder.close()
        session.close()


def _summary(result, speed_asked: float, shot: Path, md: Path, recorder) -> None:
    rec, t = result.record, result.truth
    mode = {0: "BOOT", 1: "SAFE", 2: "NOMINAL"}.get(int(rec.node_mode[-1]) if rec.node_mode else -1, "unknown")
    eclipses = sum(1 for _, entering in result.observed.edges if entering)
    asked = "as fast as it goes" if math.isinf(speed_asked) else f"{speed_asked:g}x asked"
    print(f"simulated {result.scenario.duration_s / 3600:.2f} h in {result.wall_s:.0f} s "
          f"({result.speedup:.0f}x achieved, {asked}): {eclipses} eclipses, "
          f"battery SOC {min(rec.soc or [t.battery.soc]):.2f}..{max(rec.soc or [t.battery.soc]):.2f} "
          f"(node's estimate at the end {rec.node_soc[-1] if rec.node_soc else float('nan'):.2f}), node in {mode}, "
          f"{len(result.observed.events)} events")
    for name, ok, detail in result.checks:
        print(f"  {'pass' if ok else 'FAIL'}  {name}: {detail}")
    print(f"report {md}, console screenshot {shot}, {recorder.stats.acknowledged} frames recorded in "
          f"{md.parent / 'log'} (try `gridfree replay {md.parent / 'log'}`)")


command = {"help": "start a rig, a node and the console: a live satellite on this machine", "run": run}
