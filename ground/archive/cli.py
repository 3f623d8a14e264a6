"""`gridfree replay` and `gridfree export`: a recorded log played back, or decoded to files."""
from __future__ import annotations

import argparse
import math
import sys

from gridfree.ground.archive.replay import parse_speed as _speed
from gridfree.ground.link.terminal import channels_or_exit, load_or_exit, printer
from gridfree.ground.link.utc import parse_time as _time


def parse_time(text: str) -> float:
    """An argparse type: UTC as ISO 8601 or unix seconds."""
    try:
        return _time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_speed(text: str) -> float:
    """An argparse type: a replay speed (1, 10, 100 ... or max)."""
    try:
        return _speed(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _range(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", help="archive directory written by the recorder")
    parser.add_argument("--dict", default=None, help="dictionary JSON (default: the one kept beside the log)")
    parser.add_argument("--channels", default="", help="comma-separated channel names (default: all)")
    parser.add_argument("--from", dest="t_from", type=parse_time, default=None, help="start, UTC or unix s")
    parser.add_argument("--to", dest="t_to", type=parse_time, default=None, help="end (exclusive), UTC or unix s")


def run_replay(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree replay", description="play a recorded log through the live "
                                     "decoding path and print what it shows, as `gridfree tm` does for a link")
    _range(parser)
    parser.add_argument("--speed", type=parse_speed, default=math.inf, help="1, 10, 100 ... or max (default)")
    a = parser.parse_args(argv)
    from gridfree.ground.archive.dictionaries import DictionaryMissing
    from gridfree.ground.archive.replay import ReplayClient, ReplayError

    try:
        r = ReplayClient(a.log, load_or_exit(a.dict) if a.dict else None, speed=a.speed, t_from=a.t_from, t_to=a.t_to)
    except (ReplayError, DictionaryMissing, FileNotFoundError) as exc:
        print(f"gridfree replay: {exc}", file=sys.stderr)
        return 2
    if r.dictionary_note:
        print(f"warning: {r.dictionary_note}", file=sys.stderr)
    r.subscribe(printer(r.dictionary, channels_or_exit(r.dictionary, a.channels)))
    with r:
        try:
            while not r.finished.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    s = r.decoder.stats
    print(f"replayed {r.frames_replayed} frames: {s.frames_ok} ok, {s.frames_bad} bad, {s.packets_ok} packets",
          file=sys.stderr)
    print(r.archive.report(), file=sys.stderr)
    return 0


def run_export(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree export", description="decode a recorded log in bulk (native "
                                     "core) and write channels as CSV or numpy .npz")
    _range(parser)
    parser.add_argument("--format", choices=("csv", "npz"), default="csv")
    parser.add_argument("-o", "--output", required=True, help="file to write")
    a = parser.parse_args(argv)
    from tqdm import tqdm

    from gridfree.ground.archive import bulk, export
    from gridfree.ground.archive.dictionaries import DictionaryMissing

    given = load_or_exit(a.dict) if a.dict else None
    wanted = {c for c in a.channels.split(",") if c}
    try:
        with tqdm(total=bulk.segments_bytes(a.log), unit="B", unit_scale=True, desc="decode", file=sys.stderr) as bar:
            decoded = bulk.decode(a.log, channels=sorted(wanted) or None, t_from=a.t_from, t_to=a.t_to, dictionary=given,
                                  progress=bar.update)
    except (DictionaryMissing, FileNotFoundError) as exc:
        print(f"gridfree export: {exc}", file=sys.stderr)
        return 2
    for name in sorted(wanted - set(decoded.series)):
        print(f"warning: no samples of {name} in this log and time range", file=sys.stderr)
    for note in decoded.notes:
        print(f"warning: {note}", file=sys.stderr)
    samples = sum(len(t) for t, _ in decoded.series.values())
    if a.format == "npz":
        export.write_npz(decoded, a.output)
    else:
        with tqdm(total=samples, unit="rows", desc="csv", file=sys.stderr) as bar:
            export.write_csv(decoded, a.output, progress=bar.update)
    print(f"{a.output}: {len(decoded.series)} channels, {samples} samples from {decoded.packets} packets "
          f"({decoded.frames} frames ok, {decoded.frames_bad} recorded bad, {decoded.records_damaged} damaged "
          f"records, {decoded.hk_unknown} housekeeping packets the dictionary does not describe)", file=sys.stderr)
    return 0


replay_command = {"help": "play a recorded log through the live decoding path", "run": run_replay}
export_command = {"help": "decode a recorded log to CSV or .npz (bulk, native)", "run": run_export}
