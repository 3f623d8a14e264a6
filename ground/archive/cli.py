"""`gridfree replay` and `gridfree export`: a recorded log played back, or decoded to files."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from gridfree.ground.archive.replay import parse_speed as _speed
from gridfree.ground.link.terminal import UnknownChannelError, channels_or_exit, load_or_exit, printer
from gridfree.ground.link.utc import parse_time as _time
from gridfree.protocols.cliargs import EXIT_USAGE, CliError


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


def archive_or_exit(log: str, option: str = "") -> None:
    """CliError unless `log` is an archive directory with at least one segment in it, saying which
    of the usual slips it is (a file given, nothing there, an empty or unrelated directory)."""
    path, named = Path(log), f"{option} {log}".strip()
    if not path.exists():
        raise CliError(f"{named}: no such directory; give the archive directory `gridfree tm --record` or the "
                       f"console wrote", EXIT_USAGE)
    if not path.is_dir():
        raise CliError(f"{named}: is a file, not an archive directory; give the directory that holds the log's "
                       f"seg-*.gfa segments", EXIT_USAGE)
    if not any(path.glob("seg-*.gfa")):
        raise CliError(f"{named}: no recorded segments (seg-*.gfa) in this directory: it is not an archive "
                       f"directory, or nothing was recorded in it", EXIT_USAGE)


def time_range_or_exit(a: argparse.Namespace) -> None:
    if a.t_from is not None and a.t_to is not None and a.t_from >= a.t_to:
        raise CliError("--from must be before --to", EXIT_USAGE)


def _range(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", help="archive directory written by the recorder")
    parser.add_argument("--dict", default=None, help="dictionary JSON (default: the one kept beside the log)")
    parser.add_argument("--channels", default="", help="comma-separated channel names (default: all)")
    parser.add_argument("--from", dest="t_from", type=parse_time, default=None, help="start, UTC or unix s")
    parser.add_argument("--to", dest="t_to", type=parse_time, default=None, help="end (exclusive), UTC or unix s")
    parser.add_argument("--keys", metavar="KEYDIR", default=None,
                        help="the ground's key directory: check the MACs of a log recorded through an authenticated "
                             "link again (without it the SDLS fields are only stripped)")


def tm_sa_or_exit(keydir: str | None):
    """The TM SA of the key directory (None without --keys), or CliError in one line."""
    from gridfree.ground.link.cli import security_or_exit

    security = security_or_exit(keydir)
    if security is None:
        return None
    if security.tm_sa is None:
        raise CliError(f"--keys {keydir}: this key directory holds no TM SA to check telemetry with", EXIT_USAGE)
    return security.tm_sa


def auth_summary(sdls: bool, checked: bool, ok: int, failed: int, unchecked: int) -> str:
    """One line on the recorded frames' SDLS authentication, or "" for a plain log."""
    if not sdls:
        return ""
    if checked:
        return f"TM authentication: {ok} frames authenticated, {failed} failed (not decoded)"
    return f"TM authentication: {unchecked} SDLS frames read unchecked (give --keys KEYDIR to check them)"


def run_replay(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree replay", description="play a recorded log through the live "
                                     "decoding path and print what it shows, as `gridfree tm` does for a link")
    _range(parser)
    parser.add_argument("--speed", type=parse_speed, default=math.inf, help="1, 10, 100 ... or max (default)")
    a = parser.parse_args(argv)
    from gridfree.ground.archive.dictionaries import DictionaryMissing
    from gridfree.ground.archive.replay import ReplayClient, ReplayError

    archive_or_exit(a.log)
    time_range_or_exit(a)
    tm_sa = tm_sa_or_exit(a.keys)
    try:
        r = ReplayClient(a.log, load_or_exit(a.dict) if a.dict else None, speed=a.speed, t_from=a.t_from, t_to=a.t_to,
                         tm_sa=tm_sa)
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
    auth = r.tm_auth
    summary = auth_summary(auth.sdls, auth.checking, auth.authenticated, auth.failed + auth.replayed, auth.unchecked)
    if summary:
        print(summary, file=sys.stderr)
    print(r.archive.report(), file=sys.stderr)
    return 0


def output_format_or_exit(output: str, asked: str | None) -> str:
    """The format to write: --format if given, else the one the file name's suffix asks for, else
    CSV; CliError when the two disagree, or when the output cannot be a file to write."""
    from gridfree.ground.archive.export import FORMAT_OF_SUFFIX

    path = Path(output)
    by_suffix = FORMAT_OF_SUFFIX.get(path.suffix.lower())
    if asked and by_suffix and asked != by_suffix:
        raise CliError(f"-o {output} names a .{by_suffix} file but --format is {asked}; drop --format or name the "
                       f"file .{asked}", EXIT_USAGE)
    if path.is_dir():
        raise CliError(f"-o {output}: is a directory; give a file name to write, e.g. {path / 'telemetry.csv'}",
                       EXIT_USAGE)
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise CliError(f"-o {output}: the folder {parent} {what}; make it first or write elsewhere", EXIT_USAGE)
    return asked or by_suffix or "csv"


def channels_in_log_or_exit(log: str, wanted: set[str], given) -> None:
    """CliError, before anything is decoded or written, for channels that none of the log's
    dictionaries has (with the closest names), or when the log's dictionary cannot be found."""
    from gridfree.ground.archive import dictionaries
    from gridfree.ground.archive.dictionaries import DictionaryMissing
    from gridfree.ground.archive.reader import open_archive

    known: set[str] = set()
    try:
        for log_hash in dict.fromkeys(seg.dictionary_hash for seg in open_archive(log).segments):
            known |= set(dictionaries.resolve(log, log_hash, given)[0].channel_by_name)
    except DictionaryMissing as exc:
        raise CliError(f"{exc}; give the dictionary with --dict", EXIT_USAGE) from None
    if wanted - known:
        raise CliError(str(UnknownChannelError(wanted - known, known)), EXIT_USAGE)


def run_export(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree export", description="decode a recorded log in bulk (native "
                                     "core) and write channels as CSV or numpy .npz")
    _range(parser)
    parser.add_argument("--format", choices=("csv", "npz"), default=None,
                        help="csv (one row per sample: time, channel, value) or npz (one (t, v) array per channel); "
                             "default: from the output's suffix, else csv")
    parser.add_argument("-o", "--output", required=True, help="file to write (.csv or .npz)")
    a = parser.parse_args(argv)
    from tqdm import tqdm

    from gridfree.ground.archive import bulk, export
    from gridfree.ground.archive.dictionaries import DictionaryMissing
    from gridfree.ground.archive.linkfile import LinkLayoutError

    fmt = output_format_or_exit(a.output, a.format)
    archive_or_exit(a.log)
    time_range_or_exit(a)
    tm_sa = tm_sa_or_exit(a.keys)
    given = load_or_exit(a.dict) if a.dict else None
    wanted = {c for c in a.channels.split(",") if c}
    channels_in_log_or_exit(a.log, wanted, given)
    try:
        with tqdm(total=bulk.segments_bytes(a.log), unit="B", unit_scale=True, desc="decode", file=sys.stderr) as bar:
            decoded = bulk.decode(a.log, channels=sorted(wanted) or None, t_from=a.t_from, t_to=a.t_to,
                                  dictionary=given, tm_sa=tm_sa, progress=bar.update)
    except (DictionaryMissing, FileNotFoundError, LinkLayoutError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    for name in sorted(wanted - set(decoded.series)):
        print(f"warning: no samples of {name} in this log and time range", file=sys.stderr)
    for note in decoded.notes:
        print(f"warning: {note}", file=sys.stderr)
    summary = auth_summary(decoded.sdls, tm_sa is not None, decoded.auth_ok, decoded.auth_failed,
                           decoded.auth_unchecked)
    if summary:
        print(summary, file=sys.stderr)
    series, repeats = export.unique_series(decoded.series)
    samples = sum(len(t) for t, _ in series.values())
    try:
        if fmt == "npz":
            export.write_npz(series, a.output)
        else:
            with tqdm(total=samples, unit="rows", desc="csv", file=sys.stderr) as bar:
                export.write_csv(series, a.output, progress=bar.update)
    except OSError as exc:
        raise CliError(f"-o {a.output}: cannot write: {exc.strerror or exc}") from None
    print(f"{a.output}: {len(series)} channels, {samples} samples from {decoded.packets} packets "
          f"({decoded.frames} frames ok, {decoded.frames_bad} recorded bad, {decoded.records_damaged} damaged "
          f"records, {decoded.hk_unknown} housekeeping packets the dictionary does not describe, {repeats} "
          f"repeated samples dropped)", file=sys.stderr)
    return 0


replay_command = {"help": "play a recorded log through the live decoding path", "run": run_replay}
export_command = {"help": "decode a recorded log to CSV or .npz (bulk, native)", "run": run_export}
