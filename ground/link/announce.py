"""The node's addresses, as it announces them on stdout in one machine-readable line.

    GRIDFREE-NODE {"name": "...", "apid": 100, "radio": "tcp://127.0.0.1:40211", "clock": null,
                   "dictionary": "sha256:..."}

A node prints it once it listens on its radio (and, in lockstep, on its clock link); its
human-readable lines ("gridfree node NAME: ...") go to stderr. Whoever starts a node (the rig,
the demo, a test) reads the line here instead of searching prose: a node that exits, or prints
anything else on stdout first, is an error that says what it printed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO

PREFIX = "GRIDFREE-NODE "


class NodeStartError(RuntimeError):
    """The node did not announce its addresses: it exited, or printed something else."""

    def __init__(self, why: str, printed: list[str]):
        shown = "".join(f"\n  | {line.rstrip()}" for line in printed[-10:])
        super().__init__(f"the node did not announce its addresses: {why}" + (f"; it printed:{shown}" if shown else ""))
        self.why, self.printed = why, printed


@dataclass(frozen=True)
class NodeAddresses:
    name: str
    apid: int
    radio: str  # link URL of the node's radio, for a GroundClient
    clock: str | None  # link URL of the lockstep clock, None for a free-running node
    dictionary: str  # the node's dictionary hash, "sha256:..."

    @classmethod
    def parse(cls, line: str) -> "NodeAddresses":
        """One announcement line; ValueError says what is wrong with it."""
        if not line.startswith(PREFIX):
            raise ValueError(f"not a {PREFIX.strip()} line: {line.rstrip()!r}")
        try:
            fields = json.loads(line[len(PREFIX):])
        except json.JSONDecodeError as exc:
            raise ValueError(f"{PREFIX.strip()} line is not JSON: {exc}") from None
        if not isinstance(fields, dict):
            raise ValueError(f"{PREFIX.strip()} line holds {type(fields).__name__}, not an object")
        try:
            addresses = cls(str(fields["name"]), int(fields["apid"]), str(fields["radio"]),
                            None if fields["clock"] is None else str(fields["clock"]), str(fields["dictionary"]))
        except KeyError as exc:
            raise ValueError(f"{PREFIX.strip()} line lacks {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{PREFIX.strip()} line has a field of the wrong type: {exc}") from None
        return addresses


def read_announcement(stdout: IO[str]) -> NodeAddresses:
    """Read a starting node's stdout up to its announcement; NodeStartError if it never comes."""
    printed: list[str] = []
    for line in iter(stdout.readline, ""):
        printed.append(line)
        if line.startswith(PREFIX):
            try:
                return NodeAddresses.parse(line)
            except ValueError as exc:
                raise NodeStartError(str(exc), printed) from None
        raise NodeStartError(f"unexpected output before the {PREFIX.strip()} line", printed)
    raise NodeStartError("the node exited (its stdout closed)", printed)
