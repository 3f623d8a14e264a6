"""`gridfree bench`: every speed figure measured against a baseline taken in the same run.

Absolute speeds depend on the machine, so each benchmark reports a ratio against a baseline it
measures itself, moments before, on the same inputs (for example native CRC ÷ binascii). Each
layer publishes its benchmarks under the entry-point group ``gridfree.benchmarks`` as a list of
callables returning `Figure`s; this runner imports none of the layers directly.
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import entry_points
from typing import Iterable

from gridfree.native.benchkit import Benchmark, Figure  # noqa: F401 - re-exported for benchmark authors


def discover(selected: Iterable[str] = ()) -> dict[str, list[Benchmark]]:
    wanted = set(selected)
    groups = {}
    for ep in sorted(entry_points(group="gridfree.benchmarks"), key=lambda e: e.name):
        if not wanted or ep.name in wanted:
            groups[ep.name] = list(ep.load())
    unknown = wanted - set(groups)
    if unknown:
        known = ", ".join(sorted(e.name for e in entry_points(group="gridfree.benchmarks")))
        print(f"gridfree bench: no benchmark group {', '.join(sorted(unknown))}; known: {known}", file=sys.stderr)
        raise SystemExit(2)
    return groups


def run(argv: list[str] | None = None) -> int:
    known = sorted({ep.name for ep in entry_points(group="gridfree.benchmarks")})  # names only: no imports
    parser = argparse.ArgumentParser(prog="gridfree bench", description=__doc__.splitlines()[0],
                                     epilog=f"groups: {', '.join(known)}")
    parser.add_argument("groups", nargs="*", help="benchmark groups to run (default: all; listed below)")
    parser.add_argument("--json", action="store_true", help="print one JSON object {key: value}")
    args = parser.parse_args(argv)
    figures: list[Figure] = []
    for name, benches in discover(args.groups).items():
        for bench in benches:
            for fig in bench():
                figures.append(fig)
                if not args.json:
                    target = f"   (target {fig.target})" if fig.target else ""
                    print(f"{name:10} {fig.key:32} {fig.value:14.4g} {fig.unit}{target}", flush=True)
    if args.json:
        json.dump({f.key: f.value for f in figures}, sys.stdout, indent=2)
        print()
    return 0


command = {"help": "run benchmarks; figures are ratios against same-run baselines", "run": run}
