"""A real ledger file, written by TokenLedger, and helpers to take it apart and put it back.

The node's signing key is made here, in the test; everything that checks a ledger gets only its
public key (PUBLIC, or KEYS: the ring of it), as a tenant would."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gridfree.flight.compute.ledger import TokenLedger
from gridfree.protocols.ledger import HEADER_OCTETS, RECORD_OCTETS, crc32, key_ring
from gridfree.protocols.tariff import Tariff

KEY = Ed25519PrivateKey.generate()  # the node's; tests that check use PUBLIC only
PUBLIC = KEY.public_key()
OTHER_KEY = Ed25519PrivateKey.generate()  # someone else's: a forger's, or the node's next one
LEDGER_ID = "gridfree-node-7"
KEYS = key_ring(PUBLIC)
TARIFF = Tariff(tokens_per_Wh=10, tokens_per_unit=1)


@dataclass
class LedgerFile:
    path: Path
    header: bytes
    records: list[bytes]

    def write(self, records: list[bytes] | None = None, tail: bytes = b"") -> Path:
        self.path.write_bytes(self.header + b"".join(self.records if records is None else records) + tail)
        return self.path


def read_ledger(path: Path) -> LedgerFile:
    data = path.read_bytes()
    body = data[HEADER_OCTETS:]
    assert len(body) % RECORD_OCTETS == 0
    return LedgerFile(path, data[:HEADER_OCTETS],
                      [body[i:i + RECORD_OCTETS] for i in range(0, len(body), RECORD_OCTETS)])


def with_fixed_crc(record: bytes, offset: int, xor: int) -> bytes:
    """`record` with one entry octet changed and its CRC-32 made to match again: only the signature can tell."""
    entry = bytearray(record[:-4])
    entry[offset] ^= xor
    return bytes(entry) + crc32(bytes(entry)).to_bytes(4, "big")


def with_crc(entry: bytes) -> bytes:
    """A record of `entry` octets, as a writer with any key could make it."""
    return entry + crc32(entry).to_bytes(4, "big")


# What the sample ledger holds; seq = index. Tokens at 10 per Wh and 1 per unit, halves up.
SAMPLE_TOTALS = {  # tenant: (energy Wh, work units, net tokens, quota)
    1: (2.5 + 0.5 + 1.25, 30 + 7 + 100, 55 + 12 - 5 + 113, 1000),
    2: (1.0 + 3.0 + 0.1, 10 + 0 + 1, 20 + 30 + 2, 500),
}
SAMPLE_ENTRIES = 12  # 10 about tenants, a HEAD after the statement and one at close


def write_sample(path: Path) -> Path:
    with TokenLedger(path, KEY, LEDGER_ID, tariff=TARIFF) as ledger:
        ledger.set_quota(1, 1000, 100.0)           # seq 0
        ledger.set_quota(2, 500, 100.0)            # seq 1
        assert ledger.charge(1, 1, 2.5, 30, 101.0) == 55    # seq 2
        assert ledger.charge(2, 2, 1.0, 10, 102.0) == 20    # seq 3
        assert ledger.charge(1, 3, 0.5, 7, 103.0) == 12     # seq 4
        ledger.refund(1, 1, 5, 104.0)              # seq 5
        assert ledger.charge(2, 4, 3.0, 0, 105.0) == 30     # seq 6
        assert ledger.charge(1, 5, 1.25, 100, 106.0) == 113  # seq 7: 112.5 rounds up
        ledger.statement(1, 0, 107.0)              # seq 8, and its HEAD at seq 9
        assert ledger.charge(2, 6, 0.1, 1, 108.0) == 2      # seq 10
        assert ledger.next_seq == SAMPLE_ENTRIES - 1
    return path                                    # closed: a HEAD at seq 11


@pytest.fixture
def sample(tmp_path) -> LedgerFile:
    return read_ledger(write_sample(tmp_path / "node.gftl"))
