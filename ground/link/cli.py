"""`gridfree cmd` and `gridfree tm`: command a node and watch its telemetry from a terminal.

The dictionary comes from a JSON export (`gridfree dict -o dictionary.json`), given by --dict or
the GRIDFREE_DICT environment variable: the ground never imports flight code.

--keys KEYDIR is the ground's key directory (`gridfree keys init DIR` makes DIR/ground): commands
go in SDLS frames under its TC SA (--spi picks one when it has several), telemetry is verified
under its TM SA, and every command sent is written to KEYDIR/audit.jsonl. Without --keys the link
is unauthenticated, which only a node run with --insecure accepts; the client says so on stderr.
`gridfree cmd --arm` sends node.Arm through the same SA right before a hazardous command.
"""
from __future__ import annotations

import argparse
import ast
import shutil
import sys
import threading

from gridfree.ground.link.dictfile import default_path
from gridfree.ground.link.terminal import (
    channels_or_exit, connect_or_exit, directory_or_exit, load_or_exit, printer, transfer_saver,
)
from gridfree.protocols.cliargs import EXIT_USAGE, CliError, apid, did_you_mean, positive_float


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--link", required=True, help="link URL of the node's radio, e.g. tcp://127.0.0.1:5000")
    parser.add_argument("--dict", default=default_path(),
                        help="dictionary JSON exported by `gridfree dict` (default: $GRIDFREE_DICT or ./dictionary.json)")
    parser.add_argument("--apid", type=apid, default=100, help="the node's APID, 0..2047 (default 100)")
    parser.add_argument("--keys", metavar="KEYDIR", default=None,
                        help="the ground's key directory (from `gridfree keys init`): SDLS on the link and an "
                             "audit of what is sent; without it the link is unauthenticated (a node run --insecure)")


def security_or_exit(keydir: str | None, spi: int | None = None):
    """The ground's security from `keydir` (None without one), or CliError in one line (exit 2):
    a missing directory, a damaged keystore, no such SPI, an IV store that does not check."""
    if keydir is None:
        return None
    from gridfree.ground.keys.session import GroundSecurity

    try:
        return GroundSecurity.load(keydir, spi)
    except (ValueError, OSError) as exc:  # KeystoreError and IvStoreDamaged are ValueErrors
        raise CliError(f"--keys {keydir}: {exc}", EXIT_USAGE) from None


def client_or_exit(url: str, d, apid_: int, security):
    """A GroundClient (not yet connected), or CliError if its audit cannot be written."""
    from gridfree.ground.link.audit import AuditError
    from gridfree.ground.link.client import GroundClient

    try:
        return GroundClient(url, d, apid=apid_, security=security)
    except (AuditError, ValueError) as exc:  # the audit cannot be written; a link layout the keys cannot use
        raise CliError(f"--keys: {exc}", EXIT_USAGE) from None


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # enum labels and strings need no quotes


def _spi(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= value <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"SPI {value} out of 1..65535")
    return value


def run_cmd(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree cmd", description="send one command and follow its verification")
    _common(parser)
    parser.add_argument("--timeout", type=positive_float, default=10.0,
                        help="seconds to wait for the command to complete or fail (default 10)")
    parser.add_argument("--spi", type=_spi, default=None,
                        help="the TC SA to send through (default: the key directory's only or first one)")
    parser.add_argument("--arm", action="store_true",
                        help="for a hazardous command: send node.Arm through the same SA right before it")
    parser.add_argument("command", help="dictionary name, e.g. node.SetMode")
    parser.add_argument("args", nargs="*", help="arguments as name=value, e.g. mode=NOMINAL")
    a = parser.parse_args(argv)
    if a.spi is not None and a.keys is None:
        parser.error("--spi picks an SA of the key directory: give --keys KEYDIR too")
    bare = [kv for kv in a.args if "=" not in kv]
    if bare:
        parser.error(f"arguments are name=value (e.g. mode=NOMINAL), got {bare[0]!r}")
    args = {k: _value(v) for k, v in (kv.split("=", 1) for kv in a.args)}
    d = load_or_exit(a.dict)
    cmd = d.command_by_name.get(a.command)  # checked before connecting: a typo needs no node
    if cmd is None:
        raise CliError(f"no command {a.command!r} in the dictionary{did_you_mean(a.command, d.command_by_name)}",
                       EXIT_USAGE)
    if not cmd.raw:
        try:
            cmd.encode_args(**args)
        except (ValueError, TypeError) as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    if a.arm and not cmd.hazardous:
        print(f"gridfree cmd: {a.command} is not hazardous; no node.Arm sent", file=sys.stderr)
    g = client_or_exit(a.link, d, a.apid, security_or_exit(a.keys, a.spi))
    connect_or_exit(g)
    g.warn_if_insecure()
    try:
        try:
            handle = g.send(a.command, arm=a.arm, **args)
        except (KeyError, ValueError, TypeError) as exc:  # KeyError's str() would quote its message
            raise CliError(exc.args[0] if isinstance(exc, KeyError) else str(exc), EXIT_USAGE) from None
        except (OSError, RuntimeError) as exc:  # the audit or the IV store could not be written: nothing sent
            raise CliError(str(exc)) from None
        handle.wait(a.timeout)
        if handle.armed_by is not None:
            print(handle.armed_by.describe())
        print(handle.describe())
        if not handle.stages:
            down = g.link.down_reason
            print(f"gridfree cmd: no verification report from the node within {a.timeout:g} s "
                  + (f"({down})" if down else f"(is --apid {a.apid} the node's APID? a longer --timeout?)"),
                  file=sys.stderr)
        if g.hash_mismatch:
            print("warning: the node's dictionary hash differs from the dictionary loaded here", file=sys.stderr)
    finally:
        g.close()
    return 0 if handle.completed else 1


def run_tm(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree tm", description="print telemetry and events as they arrive")
    _common(parser)
    parser.add_argument("--channels", default="", help="comma-separated channel names (default: all)")
    parser.add_argument("--seconds", type=positive_float, default=None,
                        help="stop after this long (default: until Ctrl-C)")
    parser.add_argument("--record", metavar="DIR", help="also record every received frame in this archive directory")
    parser.add_argument("--transfers", metavar="DIR", help="save each whole PUS 13 downlink (job results, ledger "
                                                           "statements) as a file in this directory")
    a = parser.parse_args(argv)
    d = load_or_exit(a.dict)
    wanted = channels_or_exit(d, a.channels)
    security = security_or_exit(a.keys)
    transfers, made = directory_or_exit(a.transfers, "--transfers") if a.transfers else (None, None)
    record, made_too = directory_or_exit(a.record, "--record") if a.record else (None, None)
    done = threading.Event()
    g = client_or_exit(a.link, d, a.apid, security)
    # Everything subscribes before the link opens, so the first frames are printed and kept too.
    g.subscribe(printer(d, wanted, on_closed=done.set))
    if transfers is not None:
        g.subscribe(transfer_saver(transfers))
    recorder = None
    if record is not None:
        from gridfree.ground.archive.recorder import Recorder

        try:
            recorder = Recorder(record, d).attach(g)
        except (OSError, RuntimeError) as exc:
            raise CliError(f"--record {a.record}: cannot record there: {exc}") from None
    try:
        connect_or_exit(g)
        g.warn_if_insecure()
    except CliError:  # nobody there: take back the directories made for this run
        if recorder is not None:
            recorder.close()
        for directory in (made, made_too):
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
        raise
    try:
        done.wait(a.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        g.close()
    if g.hash_mismatch:
        print("warning: the node's dictionary hash differs from the dictionary loaded here", file=sys.stderr)
    _tm_auth_warning(g)
    if recorder is not None:
        recorder.close()
        print(f"recorded {recorder.stats.acknowledged} frames in {a.record}", file=sys.stderr)
    return 0


def _tm_auth_warning(g) -> None:
    """Say on stderr what telemetry was not shown because it failed authentication, or was shown
    without being checked: nothing printed on stdout came from such a frame, but the operator must
    know someone sent them."""
    auth = g.tm_auth
    if auth.failed or auth.replayed:
        print(f"warning: {auth.failed} TM frames failed authentication and {auth.replayed} were replays; "
              f"all dropped" + (f" (last: {auth.last_error})" if auth.last_error else ""), file=sys.stderr)
    if auth.unchecked:
        print(f"warning: {auth.unchecked} TM frames carried SDLS but were not checked: give --keys KEYDIR "
              f"with the TM SA", file=sys.stderr)


cmd_command = {"help": "send a command by dictionary name and follow its verification", "run": run_cmd}
tm_command = {"help": "print a node's telemetry and events", "run": run_tm}
