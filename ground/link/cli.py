"""`gridfree cmd` and `gridfree tm`: command a node and watch its telemetry from a terminal.

The dictionary comes from a JSON export (`gridfree dict -o dictionary.json`), given by --dict or
the GRIDFREE_DICT environment variable: the ground never imports flight code.
"""
from __future__ import annotations

import argparse
import ast
import sys
import threading
from pathlib import Path

from gridfree.ground.link.dictfile import default_path
from gridfree.ground.link.terminal import channels_or_exit, load_or_exit, printer, transfer_saver


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--link", required=True, help="link URL of the node's radio, e.g. tcp://127.0.0.1:5000")
    parser.add_argument("--dict", default=default_path(),
                        help="dictionary JSON exported by `gridfree dict` (default: $GRIDFREE_DICT or ./dictionary.json)")
    parser.add_argument("--apid", type=int, default=100, help="the node's APID (default 100)")


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # enum labels and strings need no quotes


def run_cmd(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree cmd", description="send one command and follow its verification")
    _common(parser)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("command", help="dictionary name, e.g. node.SetMode")
    parser.add_argument("args", nargs="*", help="arguments as name=value, e.g. mode=NOMINAL")
    a = parser.parse_args(argv)
    from gridfree.ground.link.client import GroundClient

    d = load_or_exit(a.dict)
    try:
        args = dict(kv.split("=", 1) for kv in a.args)
    except ValueError:
        parser.error("arguments are name=value")
    with GroundClient(a.link, d, apid=a.apid) as g:
        try:
            handle = g.send(a.command, **{k: _value(v) for k, v in args.items()})
        except KeyError as exc:  # an unknown command: KeyError's str() would quote its message
            print(f"gridfree cmd: {exc.args[0]}", file=sys.stderr)
            return 2
        except ValueError as exc:
            print(f"gridfree cmd: {exc}", file=sys.stderr)
            return 2
        handle.wait(a.timeout)
        print(handle.describe())
        if g.hash_mismatch:
            print("warning: the node's dictionary hash differs from the dictionary loaded here", file=sys.stderr)
    return 0 if handle.completed else 1


def run_tm(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree tm", description="print telemetry and events as they arrive")
    _common(parser)
    parser.add_argument("--channels", default="", help="comma-separated channel names (default: all)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")
    parser.add_argument("--record", metavar="DIR", help="also record every received frame in this archive directory")
    parser.add_argument("--transfers", metavar="DIR", help="save each whole PUS 13 downlink (job results, ledger "
                                                           "statements) as a file in this directory")
    a = parser.parse_args(argv)
    from gridfree.ground.link.client import GroundClient

    d = load_or_exit(a.dict)
    wanted = channels_or_exit(d, a.channels)
    done = threading.Event()
    g = GroundClient(a.link, d, apid=a.apid)
    g.subscribe(printer(d, wanted))
    if a.transfers:
        g.subscribe(transfer_saver(Path(a.transfers)))
    recorder = None
    if a.record:
        from gridfree.ground.archive.recorder import Recorder

        recorder = Recorder(a.record, d).attach(g)
    with g:
        try:
            done.wait(a.seconds)
        except KeyboardInterrupt:
            pass
        if g.hash_mismatch:
            print("warning: the node's dictionary hash differs from the dictionary loaded here", file=sys.stderr)
    if recorder is not None:
        recorder.close()
        print(f"recorded {recorder.stats.acknowledged} frames in {a.record}", file=sys.stderr)
    return 0


cmd_command = {"help": "send a command by dictionary name and follow its verification", "run": run_cmd}
tm_command = {"help": "print a node's telemetry and events", "run": run_tm}
