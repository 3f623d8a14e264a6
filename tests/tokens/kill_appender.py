"""An appender for the kill test: `python kill_appender.py PATH` opens (or resumes) the ledger at
PATH and appends entries until it is killed, printing each entry's seq once its append has
returned (fsynced). What entry n holds is a function of n alone (`expected`), so the parent knows
what must be on disk whichever process wrote it; that includes the HEADs the ledger writes at its
HEAD slots, together with the entry after them."""
from __future__ import annotations

import random
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gridfree.flight.compute.ledger import TokenLedger
from gridfree.protocols.tariff import Tariff

KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex("a1" * 32))  # shared by parent and child processes
HEAD_EVERY = 5  # often, so kills land around HEAD writes too
LEDGER_ID = "kill-test"
TARIFF = Tariff(tokens_per_Wh=10, tokens_per_unit=1)
TENANTS = 3
QUOTA = 2**50


def expected(seq: int) -> tuple:
    """(kind name, tenant, job, energy Wh, work units, t) of entry `seq`."""
    if seq % HEAD_EVERY == HEAD_EVERY - 1:  # written with the next entry, at its time
        return ("HEAD", 0, 0, 0.0, 0, expected(seq + 1)[5])
    if seq < TENANTS:
        return ("QUOTA_SET", seq, 0, 0.0, 0, 1.7e9)
    rng = random.Random(seq)
    return ("CHARGE", rng.randrange(TENANTS), seq, rng.uniform(0, 50), rng.randrange(10**6), 1.7e9 + seq / 8)


def main(path: str) -> None:
    with TokenLedger(path, KEY, LEDGER_ID, tariff=TARIFF, head_every=HEAD_EVERY) as ledger:
        while True:
            seq = ledger.next_seq
            if expected(seq)[0] == "HEAD":  # the ledger writes it first, with this entry
                seq += 1
            kind, tenant, job, energy_Wh, units, t = expected(seq)
            if kind == "QUOTA_SET":
                ledger.set_quota(tenant, QUOTA, t)
            else:
                ledger.charge(tenant, job, energy_Wh, units, t)
            print(seq, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
