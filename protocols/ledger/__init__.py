"""The compute token ledger's wire format: entries, records, the file and statement transfers.

The format itself is in `format.py` (its docstring is the specification), Ed25519 signing and key
fingerprints in `signing.py`, statements in `statement.py`, anchors (entry count and head hash,
which find a ledger cut short) in `anchor.py`; all are re-exported here, as node and ground name
them. The proof of a whole ledger is `gridfree.protocols.ledger.verify`, the tariff
`gridfree.protocols.tariff`.
"""
from gridfree.protocols.ledger.anchor import Anchor, anchor_of, compare
from gridfree.protocols.ledger.format import (
    ENTRY_OCTETS, FORMAT_VERSION, GENESIS_DOMAIN, HASH_OCTETS, HEADER_OCTETS, HEADER_VERSION, MAGIC,
    MAX_LEDGER_ID_OCTETS, RECORD_OCTETS, SIGNING_DOMAIN, Entry, Kind, LedgerFormatError, LengthError, SignatureError,
    UnknownKeyError, chain_hash, crc32, decode_entry, decode_header, decode_record, encode_entry, encode_header,
    encode_record, entry_key, genesis_hash, parse_file, split_records,
)
from gridfree.protocols.ledger.signing import (
    FINGERPRINT_OCTETS, MAX_PEM_OCTETS, SIGNATURE_OCTETS, KeyRing, fingerprint, key_ring, public_key_from_pem,
    public_key_pem, sign, signature_valid,
)
from gridfree.protocols.ledger.statement import (
    STATEMENT_HEADER_OCTETS, STATEMENT_MAGIC, STATEMENT_VERSION, decode_statement, decode_statement_transfer,
    encode_statement_transfer,
)

__all__ = [
    "Anchor", "ENTRY_OCTETS", "Entry", "FINGERPRINT_OCTETS", "FORMAT_VERSION", "GENESIS_DOMAIN", "HASH_OCTETS",
    "HEADER_OCTETS", "HEADER_VERSION", "KeyRing", "Kind", "LedgerFormatError", "LengthError", "MAGIC",
    "MAX_LEDGER_ID_OCTETS", "MAX_PEM_OCTETS", "RECORD_OCTETS", "SIGNATURE_OCTETS", "SIGNING_DOMAIN", "STATEMENT_HEADER_OCTETS",
    "STATEMENT_MAGIC", "STATEMENT_VERSION", "SignatureError", "UnknownKeyError", "anchor_of", "chain_hash", "compare",
    "crc32", "decode_entry", "decode_header", "decode_record", "decode_statement", "decode_statement_transfer",
    "encode_entry", "encode_header", "encode_record", "encode_statement_transfer", "entry_key", "fingerprint",
    "genesis_hash", "key_ring", "parse_file", "public_key_from_pem", "public_key_pem", "sign", "signature_valid",
    "split_records",
]
