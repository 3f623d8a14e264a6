"""`gridfree dict`: export the node's dictionary as JSON (for gridfree's ground) or XTCE 1.2 (for
other mission-control systems)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree dict", description=" ".join(__doc__.split()))
    parser.add_argument("--format", choices=("json", "xtce"), default="json",
                        help="json: what `gridfree tm`, `cmd`, `export` and the console read (--dict); "
                             "xtce: XTCE 1.2 XML for other mission-control systems (default json)")
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")
    args = parser.parse_args(argv)
    from gridfree.flight.dictionary import node_dictionary
    from gridfree.protocols.dictionary import DictionaryError

    try:
        d = node_dictionary()
    except DictionaryError as exc:
        print(f"gridfree dict: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        text = d.to_json() + "\n"
    else:
        from gridfree.protocols.xtce import to_xtce

        text = to_xtce(d)
    if args.output:
        if Path(args.output).is_dir():
            print(f"gridfree dict: -o {args.output}: is a directory; give a file name, e.g. "
                  f"{Path(args.output) / 'dictionary.json'}", file=sys.stderr)
            return 2
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"gridfree dict: -o {args.output}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"wrote {args.format} dictionary {d.hash} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


command = {"help": "export the node dictionary as JSON or XTCE", "run": run}
