"""`gridfree cmd` and `gridfree tm`: command a node and watch its telemetry from a terminal.

The dictionary comes from a JSON export (`gridfree dict -o dictionary.json`), given by --dict or
the GRIDFREE_DICT environment variable: the ground never imports flight code.
"""
from __future__ import annotations

import argparse
import ast
import os
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from gridfree.protocols.dictionary import Dictionary, DictionaryError


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--link", required=True, help="link URL of the node's radio, e.g. tcp://127.0.0.1:5000")
    parser.add_argument("--dict", default=os.environ.get("GRIDFREE_DICT", "dictionary.json"),
                        help="dictionary JSON exported by `gridfree dict` (default: $GRIDFREE_DICT or ./dictionary.json)")
    parser.add_argument("--apid", type=int, default=100, help="the node's APID (default 100)")


def _load(path: str) -> Dictionary:
    try:
        with open(path, encoding="utf-8") as f:
            return Dictionary.from_json(f.read())
    except OSError as exc:
        raise SystemExit(f"gridfree: cannot read dictionary {path}: {exc.strerror}")
    except DictionaryError as exc:
        raise SystemExit(f"gridfree: {path}: {exc}")


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

    d = _load(a.dict)
    try:
        args = dict(kv.split("=", 1) for kv in a.args)
    except ValueError:
        parser.error("arguments are name=value")
    with GroundClient(a.link, d, apid=a.apid) as g:
        try:
            handle = g.send(a.command, **{k: _value(v) for k, v in args.items()})
        except (KeyError, ValueError) as exc:
            print(f"gridfree cmd: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
            return 2
        handle.wait(a.timeout)
        print(handle.describe())
        if g.hash_mismatch:
            print("warning: the node's dictionary hash differs from the dictionary loaded here", file=sys.stderr)
    return 0 if handle.completed else 1


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def channel_filter(d: Dictionary, text: str) -> set[str]:
    """Channel names from a comma-separated list, all known to the dictionary (SystemExit if not)."""
    wanted = {c for c in text.split(",") if c}
    unknown = wanted - set(d.channel_by_name)
    if unknown:
        raise SystemExit(f"gridfree: unknown channel(s) {', '.join(sorted(unknown))}")
    return wanted


def printer(d: Dictionary, wanted: set[str]):
    """A subscriber printing samples and events one per line, the same for a link and a replay."""
    def show(kind, item):
        if kind == "sample" and (not wanted or item.channel in wanted):
            ch = d.channel_by_name[item.channel]
            value = next((k for k, v in (ch.enum or {}).items() if v == item.value), item.value)
            print(f"{stamp(item.time_s)} {item.channel} = {value} {ch.unit}".rstrip(), flush=True)
        elif kind == "event":
            sev = item.severity.name if item.severity is not None else "?"
            print(f"{stamp(item.time_s)} EVENT {sev} {item.text}", flush=True)
    return show


TRANSFER_KINDS = {b"GFRS": "result", b"GFST": "statement"}


def transfer_saver(directory: Path):
    """A subscriber writing each whole PUS 13 transfer to `directory`, named by its arrival time,
    transaction and kind (from its magic), so that a statement can go to `gridfree tokens
    statement` and a result to the tenant; transaction ids wrap, the time keeps names apart."""
    directory.mkdir(parents=True, exist_ok=True)

    def save(kind, item):
        if kind != "transfer":
            return
        what = TRANSFER_KINDS.get(item.data[:4], "data")
        path = directory / f"{item.time_s:.3f}-{item.transaction}-{what}.bin"
        path.write_bytes(item.data)
        print(f"{stamp(item.time_s)} TRANSFER {item.transaction}: {len(item.data)} octets ({what}) -> {path}",
              flush=True)
    return save


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

    d = _load(a.dict)
    wanted = channel_filter(d, a.channels)
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
