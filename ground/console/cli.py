"""`gridfree console`: the operator console on a node's link, or on a recorded log.

    gridfree console --link tcp://127.0.0.1:5000 --dict dictionary.json
    gridfree console --replay logs/pass-0412 [--dict dictionary.json] [--speed 10]
    gridfree console --link ... --screenshot console.png --seconds 10   (headless: run, grab, exit)

A replay decodes with the dictionary kept beside the log; --dict is used only when that one is
missing, and the console says so above its tabs. Qt is imported only when the command runs, so
`gridfree --help` stays quick. For a headless run set QT_QPA_PLATFORM=offscreen.
"""
from __future__ import annotations

import argparse
import sys


def _speed(text: str) -> float:
    from gridfree.ground.archive.replay import parse_speed

    try:
        return parse_speed(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridfree console",
                                     description="the operator console on a node's link or on a recorded log")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--link", help="link URL of the node's radio, e.g. tcp://127.0.0.1:5000")
    source.add_argument("--replay", metavar="DIR", help="replay a log: an archive directory written by the recorder")
    parser.add_argument("--dict", default=None,
                        help="dictionary JSON exported by `gridfree dict` (live default: $GRIDFREE_DICT or "
                             "./dictionary.json; replay default: the one kept beside the log)")
    parser.add_argument("--apid", type=int, default=100, help="the node's APID (default 100)")
    parser.add_argument("--speed", type=_speed, default=None,
                        help="replay speed: 1 (real time, the default), 10, 100 ... or max")
    parser.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window when --seconds are up")
    parser.add_argument("--seconds", type=float, default=None, help="run this long, then exit (default: until closed)")
    parser.add_argument("--settings", metavar="INI", default=None,
                        help="layout settings file (default: the user's QSettings for gridfree)")
    return parser


def run(argv: list[str]) -> int:
    from gridfree.ground.link.dictfile import default_path
    from gridfree.ground.link.terminal import load_or_exit

    parser = build_parser()
    a = parser.parse_args(argv)
    if a.screenshot and a.seconds is None:
        parser.error("--screenshot needs --seconds (how long to run before taking it)")
    if a.link and a.speed is not None:
        parser.error("--speed is for --replay: a live link runs at the node's pace")

    if a.replay:
        from gridfree.ground.archive.dictionaries import DictionaryMissing
        from gridfree.ground.archive.replay import ReplayClient, ReplayError

        try:
            client = ReplayClient(a.replay, load_or_exit(a.dict) if a.dict else None,
                                  speed=a.speed if a.speed is not None else 1.0)
        except DictionaryMissing as exc:
            print(f"gridfree console: {exc}; give the dictionary with --dict", file=sys.stderr)
            return 2
        except (ReplayError, OSError) as exc:
            print(f"gridfree console: {exc}", file=sys.stderr)
            return 2
        if client.dictionary_note:
            print(f"warning: {client.dictionary_note}", file=sys.stderr)
    else:
        from gridfree.ground.link.client import GroundClient

        client = GroundClient(a.link, load_or_exit(a.dict or default_path()),
                              apid=a.apid)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gridfree.ground.console.mainwindow import MainWindow
    from gridfree.protocols.links import LinkError

    app = QApplication.instance() or QApplication(["gridfree console"])
    result = {"rc": 0}
    # The window subscribes before the client starts, so the first packets are shown too.
    window = MainWindow(client, settings_path=a.settings)
    try:
        try:
            client.connect()
        except LinkError as exc:
            print(f"gridfree console: {exc}", file=sys.stderr)
            window.bridge.stop()  # not closed: closing would save this unshown window's layout
            return 2
        window.show()
        if a.seconds is not None:
            def finish():
                if a.screenshot and not window.screenshot(a.screenshot):
                    print(f"gridfree console: could not write {a.screenshot}", file=sys.stderr)
                    result["rc"] = 1
                window.close()
                app.quit()

            QTimer.singleShot(int(a.seconds * 1000), finish)
        app.exec()
    finally:
        client.close()
    return result["rc"]


command = {"help": "the operator console (live link or a recorded log)", "run": run}
