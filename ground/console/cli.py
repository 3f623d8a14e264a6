"""`gridfree console`: the operator console on a node's link, or on a recorded log.

    gridfree console --link tcp://127.0.0.1:5000 --dict dictionary.json --keys mission/ground
    gridfree console --replay logs/pass-0412 [--dict dictionary.json] [--speed 10] [--keys mission/ground]
    gridfree console --link ... --screenshot console.png --seconds 10   (headless: run, grab, exit)

A replay decodes with the dictionary kept beside the log; --dict is used only when that one is
missing, and the console says so above its tabs. Qt is imported only when the command runs, so
`gridfree --help` stays quick. For a headless run set QT_QPA_PLATFORM=offscreen.

Ctrl-C in the terminal closes the window as its close button would (layout saved, link closed)
and exits 130. Python runs a signal handler only when the interpreter gets control, which Qt's
event loop never gives it on its own, so a timer hands it control a few times a second.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from gridfree.protocols.cliargs import apid, positive_float

#: How often the event loop lets Python run its signal handlers (Ctrl-C), in ms.
SIGNAL_POLL_MS = 200


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
    parser.add_argument("--apid", type=apid, default=100, help="the node's APID, 0..2047 (default 100)")
    parser.add_argument("--keys", metavar="KEYDIR", default=None,
                        help="the ground's key directory (from `gridfree keys init`): SDLS on the link and an "
                             "audit of what is sent; without it the link is unauthenticated (a node run --insecure). "
                             "With --replay: the recorded TM frames' MACs are checked again")
    parser.add_argument("--spi", type=int, default=None,
                        help="the TC SA to send through (default: the key directory's only or first one)")
    parser.add_argument("--speed", type=_speed, default=None,
                        help="replay speed: 1 (real time, the default), 10, 100 ... or max")
    parser.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window when --seconds are up")
    parser.add_argument("--seconds", type=positive_float, default=None,
                        help="run this long, then exit (default: until closed or Ctrl-C)")
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
    if a.replay and a.spi is not None:
        parser.error("--spi is for --link: a replay sends nothing (--keys alone checks the log's TM MACs)")
    if a.spi is not None and a.keys is None:
        parser.error("--spi picks an SA of the key directory: give --keys KEYDIR too")

    if a.screenshot and not os.path.isdir(os.path.dirname(a.screenshot) or "."):
        parser.error(f"--screenshot {a.screenshot}: its folder does not exist; make it first or save elsewhere")
    if a.settings and os.path.isdir(a.settings):
        parser.error(f"--settings {a.settings}: is a directory; give the INI file to keep the layout in")
    if a.replay:
        from gridfree.ground.archive.cli import archive_or_exit
        from gridfree.ground.archive.dictionaries import DictionaryMissing
        from gridfree.ground.archive.replay import ReplayClient, ReplayError

        from gridfree.ground.archive.cli import tm_sa_or_exit

        archive_or_exit(a.replay, "--replay")
        try:
            client = ReplayClient(a.replay, load_or_exit(a.dict) if a.dict else None,
                                  speed=a.speed if a.speed is not None else 1.0, tm_sa=tm_sa_or_exit(a.keys))
        except DictionaryMissing as exc:
            print(f"gridfree console: {exc}; give the dictionary with --dict", file=sys.stderr)
            return 2
        except (ReplayError, OSError) as exc:
            print(f"gridfree console: {exc}", file=sys.stderr)
            return 2
        if client.dictionary_note:
            print(f"warning: {client.dictionary_note}", file=sys.stderr)
    else:
        from gridfree.ground.link.cli import client_or_exit, security_or_exit

        d = load_or_exit(a.dict or default_path())
        client = client_or_exit(a.link, d, a.apid, security_or_exit(a.keys, a.spi))

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gridfree.ground.console.mainwindow import MainWindow
    from gridfree.ground.console.offscreen import quiet_offscreen_notices
    from gridfree.protocols.links import LinkError

    app = QApplication.instance() or QApplication(["gridfree console"])
    quiet_offscreen_notices(app)
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
        if hasattr(client, "warn_if_insecure"):  # a live link without --keys (a replay sends nothing)
            client.warn_if_insecure()
        link = getattr(client, "link", None)
        if link is not None and not getattr(link, "listening", True) and not link.stats.connected:
            print(f"warning: {link.down_reason or 'not connected'}; the console keeps trying (is the node "
                  f"running, with its radio on {a.link}?)", file=sys.stderr)
        window.show()
        interrupted = []

        def on_interrupt(_signum, _frame):
            interrupted.append(True)
            window.close()
            QTimer.singleShot(0, app.quit)  # app.quit() alone is lost if the loop is not running yet

        previous = signal.signal(signal.SIGINT, on_interrupt)
        poll = QTimer()
        poll.timeout.connect(lambda: None)  # gives the interpreter control, so on_interrupt can run
        poll.start(SIGNAL_POLL_MS)
        source = f"replay of {a.replay}" if a.replay else f"link {a.link}"
        print(f"gridfree console: on the {source}; close the window or press Ctrl-C to quit", file=sys.stderr,
              flush=True)
        if a.seconds is not None:
            def finish():
                if a.screenshot and not window.screenshot(a.screenshot):
                    print(f"gridfree console: could not write {a.screenshot}", file=sys.stderr)
                    result["rc"] = 1
                window.close()
                app.quit()

            QTimer.singleShot(int(a.seconds * 1000), finish)
        try:
            app.exec()
        finally:
            poll.stop()
            signal.signal(signal.SIGINT, previous)
        if interrupted:
            return 130
    finally:
        client.close()
    return result["rc"]


command = {"help": "the operator console (live link or a recorded log)", "run": run}
