"""An appender for the kill test: `python kill_appender.py PATH` opens (or resumes) the ledger at
PATH and appends entries until it is killed, printing each entry's seq once its append has
returned (fsynced). What entry n holds is a function of n alone (`expected`), so the parent knows
what must be on disk whichever process wrote it."""
from __future__ import annotations

import random
import sys

from gridfree.flight.compute.ledger import TokenLedger
from gridfree.protocols.tariff import Tariff

KEY = bytes.fromhex("a1" * 32)
KEY_ID = 5
LEDGER_ID = "kill-test"
TARIFF = Tariff(tokens_per_Wh=10, tokens_per_unit=1)
TENANTS = 3
QUOTA = 2**50


def expected(seq: int) -> tuple:
    """(kind name, tenant, job, energy Wh, work units, t) of entry `seq`."""
    if seq < TENANTS:
        return ("QUOTA_SET", seq, 0, 0.0, 0, 1.7e9)
    rng = random.Random(seq)
    return ("CHARGE", rng.randrange(TENANTS), seq, rng.uniform(0, 50), rng.randrange(10**6), 1.7e9 + seq / 8)


def main(path: str) -> None:
    with TokenLedger(path, KEY_ID, KEY, LEDGER_ID, tariff=TARIFF) as ledger:
        while True:
            seq = ledger.next_seq
            kind, tenant, job, energy_Wh, units, t = expected(seq)
            if kind == "QUOTA_SET":
                ledger.set_quota(tenant, QUOTA, t)
            else:
                ledger.charge(tenant, job, energy_Wh, units, t)
            print(seq, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
