"""A writer process for the kill tests: `python kill_writer.py DIR SEED MAX_BYTES` appends the
records of make_records(SEED) to the archive in DIR, flushing every few records and printing the
acknowledged count after each flush, until it is killed. The parent regenerates the same records
from the seed to know what must be on disk."""
from __future__ import annotations

import itertools
import random
import sys
from collections.abc import Iterator

from gridfree.ground.archive.segment import Record, SegmentWriter

DICT_HASH = "sha256:" + "5e" * 32


def make_records(seed: int) -> Iterator[Record]:
    """An endless, reproducible stream: frame sizes from empty to a few hundred bytes, so records
    straddle segment boundaries and index spacing in every way."""
    rng = random.Random(seed)
    t = 1.7e9
    while True:
        t += rng.uniform(0.0, 0.05)
        yield Record(t, rng.randrange(4), rng.randrange(4), rng.randbytes(rng.choice((0, 8, 64, 300))))


def main(directory: str, seed: int, max_bytes: int) -> None:
    rng = random.Random(-seed)
    records = make_records(seed)
    with SegmentWriter(directory, DICT_HASH, max_bytes=max_bytes, index_every_records=4) as w:
        while True:
            for rec in itertools.islice(records, rng.randint(1, 8)):
                w.append(rec)
            print(w.flush(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
