"""`gridfree console`: the operator console on a node's link.

    gridfree console --link tcp://127.0.0.1:5000 --dict dictionary.json
    gridfree console --link ... --screenshot console.png --seconds 10   (headless: run, grab, exit)

Qt is imported only when the command runs, so `gridfree --help` stays quick. For a headless
run set QT_QPA_PLATFORM=offscreen.
"""
from __future__ import annotations

import argparse
import sys


def run(argv: list[str]) -> int:
    from gridfree.ground.link.cli import _common, _load

    parser = argparse.ArgumentParser(prog="gridfree console", description="the operator console on a node's link")
    _common(parser)
    parser.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window when --seconds are up")
    parser.add_argument("--seconds", type=float, default=None, help="run this long, then exit (default: until closed)")
    parser.add_argument("--settings", metavar="INI", default=None,
                        help="layout settings file (default: the user's QSettings for gridfree)")
    a = parser.parse_args(argv)
    if a.screenshot and a.seconds is None:
        parser.error("--screenshot needs --seconds (how long to run before taking it)")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gridfree.ground.console.mainwindow import MainWindow
    from gridfree.ground.link.client import GroundClient
    from gridfree.protocols.links import LinkError

    dictionary = _load(a.dict)
    app = QApplication.instance() or QApplication(["gridfree console"])
    client = GroundClient(a.link, dictionary, apid=a.apid)
    try:
        client.connect()
    except LinkError as exc:
        print(f"gridfree console: {exc}", file=sys.stderr)
        return 2
    result = {"rc": 0}
    try:
        window = MainWindow(client, settings_path=a.settings)
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
