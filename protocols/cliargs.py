"""What every `gridfree` subcommand shares about wrong input: argparse types that say what a
number must be, the closest names to a misspelt one, and `CliError`, the one-line failure.

A user's mistake (a missing file, a negative duration, an unknown channel) deserves one line on
stderr that says what was wrong and what to do, and a non-zero exit; a traceback is for bugs.
Commands raise `CliError(message, exit_code)`; the dispatcher in `protocols/cli.py` prints it as
``gridfree <command>: <message>``. Usage mistakes exit 2, as argparse's own do.
"""
from __future__ import annotations

import argparse
import difflib
import math
from collections.abc import Iterable

EXIT_FAILED, EXIT_USAGE = 1, 2


class CliError(Exception):
    """An input mistake or an unusable environment, said in one line; `exit_code` is the process's."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.exit_code = exit_code


def did_you_mean(name: str, names: Iterable[str], n: int = 3, cutoff: float = 0.7) -> str:
    """'; did you mean a, b or c?' for the closest known names (by edit similarity, ignoring case;
    a name that differs only in case is the one meant), or '' when nothing is close."""
    by_lower = {k.lower(): k for k in names}
    if name.lower() in by_lower:
        return f"; did you mean {by_lower[name.lower()]}?"
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=cutoff)
    if not close:
        return ""
    shown = [by_lower[c] for c in close]
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]
    return f"; did you mean {listed}?"


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0 (durations, speeds, timeouts)."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must not be negative")
    return value


def apid(text: str) -> int:
    """An argparse type: a CCSDS APID, 0..2047."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= 0x7FF:
        raise argparse.ArgumentTypeError(f"{text}: an APID is 0..2047")
    return value
