"""The `gridfree` command: a thin dispatcher over subcommands that the layers register.

It lives in `protocols`, below both flight and ground, and finds subcommands through the
``gridfree.commands`` entry-point group, so it imports neither side: `gridfree node` loads only
flight code and `gridfree console` only ground code. Each entry point names a dict with
``help`` (one line) and ``run`` (a callable taking the remaining argv and returning an exit code).

A command says what went wrong by raising `CliError` (printed here as one line); an `OSError`
that escapes a command (a path that cannot be read or written) is printed the same way rather than
as a traceback, and a closed stdout (`gridfree tm | head`) ends the command quietly.
"""
from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points, version

from gridfree.protocols.cliargs import CliError, did_you_mean


def _commands():
    return {ep.name: ep for ep in entry_points(group="gridfree.commands")}


def _usage(commands) -> str:
    lines = ["usage: gridfree [--version] <command> [args...]", "", "commands:"]
    width = max(map(len, commands), default=0) + 1
    for name in sorted(commands):
        try:
            helptext = commands[name].load()["help"]
        except ImportError as exc:
            helptext = f"(unavailable: {exc})"
        lines.append(f"  {name:{width}} {helptext}")
    lines.append("")
    lines.append("`gridfree <command> --help` describes each command.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = _commands()
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(commands))
        return 0
    if argv[0] == "--version":
        print(f"gridfree {version('gridfree')}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in commands:
        hint = did_you_mean(name, commands, cutoff=0.5)
        print(f"gridfree: unknown command {name!r}{hint} (`gridfree --help` lists them all)", file=sys.stderr)
        return 2
    try:
        return int(commands[name].load()["run"](rest) or 0)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"gridfree {name}: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader of our stdout went away: nothing more to say, and nowhere to say it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"gridfree {name}:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
