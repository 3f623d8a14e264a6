"""The compute token ledger's wire format: entries, records, the file and statement transfers.

The format itself is in `format.py` (its docstring is the specification) and statements in
`statement.py`; both are re-exported here, as node and ground name them. The proof of a whole
ledger is `gridfree.protocols.ledger.verify`, the tariff `gridfree.protocols.tariff`.
"""
from gridfree.protocols.ledger.format import (
    ENTRY_OCTETS, FORMAT_VERSION, GENESIS_DOMAIN, HASH_OCTETS, HEADER_OCTETS, HEADER_VERSION, MAC_OCTETS, MAGIC,
    MAX_LEDGER_ID_OCTETS, MIN_KEY_OCTETS, RECORD_OCTETS, Entry, Kind, LedgerFormatError, LengthError, MacError,
    UnknownKeyError, chain_hash, crc32, decode_entry, decode_header, decode_record, encode_entry, encode_header,
    encode_record, entry_key_id, genesis_hash, mac, parse_file, split_records,
)
from gridfree.protocols.ledger.statement import (
    STATEMENT_HEADER_OCTETS, STATEMENT_MAGIC, STATEMENT_VERSION, decode_statement, decode_statement_transfer,
    encode_statement_transfer,
)

__all__ = [
    "ENTRY_OCTETS", "Entry", "FORMAT_VERSION", "GENESIS_DOMAIN", "HASH_OCTETS", "HEADER_OCTETS",
    "HEADER_VERSION", "Kind", "LedgerFormatError", "LengthError", "MAC_OCTETS", "MAGIC", "MAX_LEDGER_ID_OCTETS",
    "MIN_KEY_OCTETS", "MacError", "RECORD_OCTETS", "STATEMENT_HEADER_OCTETS", "STATEMENT_MAGIC",
    "STATEMENT_VERSION", "UnknownKeyError", "chain_hash", "crc32", "decode_entry", "decode_header",
    "decode_record", "decode_statement", "decode_statement_transfer", "encode_entry", "encode_header",
    "encode_record", "encode_statement_transfer", "entry_key_id", "genesis_hash", "mac", "parse_file",
    "split_records",
]
