"""Anchors: the ledger's entry count and head hash, as the ground keeps them to find truncation.

A hash chain proves order and integrity but not completeness: a ledger with its last entries cut
off still checks. So the node signs its chain head in HEAD entries (`format.py`): every statement
ends with one, and the node appends one every `head_every` entries and at close. The ground keeps
the latest anchor it has seen for a ledger, as text ``COUNT:HEADHASH`` (printed by `gridfree
tokens verify` and `statement`), and gives it back when it checks a later ledger or statement:

- a ledger with fewer than COUNT entries was cut short (TRUNCATED);
- a ledger whose entry COUNT-1 has another chain hash was rewritten (ANCHOR_MISMATCH);
- a statement whose own anchor has a lower count was cut from a rolled-back ledger.

An anchor is only as good as where the ground got it: from a HEAD entry whose signature checked
with the node's public key, so the node cannot later deny it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from gridfree.protocols.ledger.format import HASH_OCTETS, U64, Entry, Kind, chain_hash

_TEXT = re.compile(r"(\d{1,20}):([0-9a-fA-F]{64})")


@dataclass(frozen=True)
class Anchor:
    count: int  # entries in the ledger up to and including the one whose chain hash is head_hash
    head_hash: bytes

    def __post_init__(self):
        if not 1 <= self.count <= U64:
            raise ValueError(f"anchor count {self.count} outside 1..{U64}")
        if len(self.head_hash) != HASH_OCTETS:
            raise ValueError(f"anchor head hash has {len(self.head_hash)} octets, not {HASH_OCTETS}")

    def __str__(self) -> str:
        return f"{self.count}:{self.head_hash.hex()}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """`COUNT:HEADHASH` (decimal count >= 1, 64 hex digits); ValueError with one line if not."""
        m = _TEXT.fullmatch(text.strip())
        if m is None:
            raise ValueError(f"anchor {text[:80]!r}: expected COUNT:HEADHASH (a count, a colon, 64 hex digits)")
        try:
            return cls(int(m.group(1)), bytes.fromhex(m.group(2)))
        except ValueError as exc:
            raise ValueError(f"anchor {text[:80]!r}: {exc} (COUNT:HEADHASH)") from None


def anchor_of(entry: Entry, entry_bytes: bytes) -> Anchor:
    """The anchor a HEAD entry (already proved) gives: its own position and chain hash."""
    if entry.kind is not Kind.HEAD:
        raise ValueError(f"seq {entry.seq} is a {entry.kind.name}, not a HEAD: it anchors nothing")
    return Anchor(entry.seq + 1, chain_hash(entry_bytes))


def compare(held: Anchor, seen: Anchor) -> str | None:
    """Why `seen` (a later head of the same ledger) cannot follow `held`, or None if it can: fewer
    entries (rolled back or cut short), or the same count with another head (rewritten). With more
    entries only the full ledger can show that `held` is in its history (`verify` with the anchor)."""
    if seen.count < held.count:
        return (f"the ledger has {seen.count} entries, fewer than the {held.count} of anchor "
                f"{held.count}:{held.head_hash.hex()[:16]}...: entries were dropped (rolled back or cut short)")
    if seen.count == held.count and seen.head_hash != held.head_hash:
        return (f"the ledger's head at {seen.count} entries is {seen.head_hash.hex()[:16]}..., not the anchor's "
                f"{held.head_hash.hex()[:16]}...: the ledger was rewritten")
    return None
