"""The `gridfree` command: a thin dispatcher over subcommands that the layers register.

It lives in `protocols`, below both flight and ground, and finds subcommands through the
``gridfree.commands`` entry-point group, so it imports neither side: `gridfree node` loads only
flight code and `gridfree console` only ground code. Each entry point names a dict with
``help`` (one line) and ``run`` (a callable taking the remaining argv and returning an exit code).
"""
from __future__ import annotations

import difflib
import sys
from importlib.metadata import entry_points, version


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
        close = difflib.get_close_matches(name, commands, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        print(f"gridfree: unknown command {name!r}{hint} (`gridfree --help` lists them all)", file=sys.stderr)
        return 2
    try:
        return int(commands[name].load()["run"](rest) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
