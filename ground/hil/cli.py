"""`gridfree rig run scenario.toml [--out DIR]`: run a HIL scenario against a node process and write
its report (Markdown + PNG). Exit code 0 when every criterion passed, 1 when one failed, 2 when
the scenario itself is wrong."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gridfree.protocols.cliargs import EXIT_USAGE, CliError, positive_float

#: The rig's orbit presets (ground/hil/orbit.py `preset`), as the help names them.
ORBIT_PRESETS = ("iss500", "leo550", "sso650-dawn-dusk")


def orbit_preset(text: str) -> str:
    """An argparse type: a name `preset` knows (its error lists the known ones)."""
    from gridfree.ground.hil.orbit import preset

    try:
        preset(text, 0.0)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gridfree rig", description="Run hardware-in-the-loop scenarios against a "
                                     "node process, or serve the emulated board on a serial line.")
    sub = parser.add_subparsers(dest="action", required=True)
    r = sub.add_parser("run", help="run one scenario")
    r.add_argument("scenario", help="scenario TOML file")
    r.add_argument("--out", default=None, help="report directory (default: report-<scenario name>)")
    r.add_argument("--hours", type=positive_float, default=None, help="override the scenario's duration")
    sv = sub.add_parser("serve", help="serve the emulated board on a serial URL in real time, for a node "
                                      "(or a real flight computer) that is started separately")
    sv.add_argument("--url", required=True, help="serial device, pty or pyserial URL of the rig's end of the line")
    sv.add_argument("--orbit", type=orbit_preset, default="iss500",
                    help=f"the orbit the emulated board flies: {', '.join(ORBIT_PRESETS)} (default iss500)")
    sv.add_argument("--speed", type=positive_float, default=1.0,
                    help="simulated seconds per wall second (default 1)")
    sv.add_argument("--seconds", type=positive_float, default=None,
                    help="stop after this many wall seconds (default: until Ctrl-C)")
    args = parser.parse_args(argv)
    if args.action == "serve":
        return serve(args)
    from gridfree.ground.hil import report, runner
    from gridfree.ground.hil.scenario import Scenario, ScenarioError

    try:
        scenario = Scenario.load(args.scenario)
    except ScenarioError as exc:
        print(f"gridfree rig: {exc}", file=sys.stderr)
        return 2
    if args.hours is not None:
        scenario.duration_s = args.hours * 3600.0
    out = Path(args.out or f"report-{scenario.name}")
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out}: is a file, not a directory; give a directory for the report", EXIT_USAGE)
    try:
        (out / "run").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--out {out}: cannot make the report directory: {exc.strerror}", EXIT_USAGE) from None
    last = [-1]

    def progress(done_s, total_s):
        pct = int(100 * done_s / total_s)
        if pct // 10 != last[0]:
            last[0] = pct // 10
            print(f"  {pct:3d}% ({done_s / 3600:.1f} h simulated)", file=sys.stderr, flush=True)

    print(f"gridfree rig: {scenario.name}: {scenario.duration_s / 3600:.1f} h on {scenario.orbit}", flush=True)
    result = runner.run(scenario, out / "run", progress)
    md = report.write(result, out)
    for name, ok, detail in result.checks:
        print(f"  {'pass' if ok else 'FAIL'}  {name}: {detail}")
    print(f"{'PASS' if result.passed else 'FAIL'} in {result.wall_s:.1f} s ({result.speedup:.0f}x real time); "
          f"report {md}")
    return 0 if result.passed else 1


command = {"help": "run hardware-in-the-loop scenarios against a node", "run": run}


def serve(args) -> int:
    import threading
    import time

    from gridfree.ground.hil.board import BoardServer, EmulatedBoard
    from gridfree.ground.hil.orbit import preset
    from gridfree.ground.hil.truth import Truth
    from gridfree.protocols.links import LinkError, open_link

    epoch = time.time()
    truth = Truth.from_elements(preset(args.orbit, epoch), epoch)
    board = EmulatedBoard(truth)
    try:
        server = BoardServer(board, open_link(args.url)).start()
    except LinkError as exc:
        print(f"gridfree rig: {exc}", file=sys.stderr)
        return 2
    print(f"gridfree rig: serving the emulated board on {args.url} ({args.orbit}, {args.speed}x)", flush=True)
    tick, stop = 0.1, threading.Event()
    end = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while not stop.wait(tick) and (end is None or time.monotonic() < end):
            with board.lock:
                truth.step(tick * args.speed)
    except KeyboardInterrupt:
        pass
    server.stop()
    server.link.close()
    print(f"gridfree rig: served {board.requests} requests", flush=True)
    return 0
