"""The names and bytes of segment files, and nothing else: no I/O happens here, so the writer, the
reader and the tests share one definition of the format.

An archive is a directory of segment files named seg-<seq>-<unix ms>.gfa (10 and 13 digits,
zero-padded: names sort in append order), each with a sidecar index <same stem>.idx (index.py).

All integers are big-endian, floats are IEEE-754 binary64, CRCs are CRC-32 (zlib.crc32, the
ISO-HDLC polynomial as in gzip and PNG).

Segment header (HEADER_SIZE = 102 bytes, at offset 0)::

    offset size field
    0      8    magic 89 47 46 41 0D 0A 1A 0A  ("\\x89GFA\\r\\n\\x1a\\n": the PNG trick, so a file
                mangled by a text-mode copy or cut at 7 bits fails the magic, not a CRC later)
    8      2    format version, u16 (this module writes and reads 1)
    10     80   dictionary hash, ASCII, NUL-padded (e.g. "sha256:" + 64 hex digits)
    90     8    creation time, f64 unix seconds
    98     4    CRC-32 of bytes 0..97

The version is checked before the CRC: a later version may lay out its header differently, and
"unknown version" is the useful message then.

Record (RECORD_OVERHEAD = 28 bytes + n bytes of data), repeated to the end of the file::

    offset size field
    0      4    sync marker, u32 0xD5AAE14B
    4      4    n, length of the data in bytes, u32 (at most MAX_DATA_BYTES = 65535)
    8      8    t_rx, f64 unix seconds (finite)
    16     2    link id, u16
    18     2    quality flags, u16
    20     4    header CRC-32 of bytes 0..19
    24     n    data: the received frame as it came off the link
    24+n   4    record CRC-32 of bytes 0..23+n

A reader trusts n only once the header CRC matches and n is within MAX_DATA_BYTES, so a flipped
length can never make it allocate, read or skip a wrong amount. The sync marker is not the CCSDS
attached sync marker (1ACFFC1D) because stored frames often begin with that one, and every false
candidate costs a CRC.
"""
from __future__ import annotations

import math
import re
import struct
import zlib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final, NamedTuple

MAGIC: Final = b"\x89GFA\r\n\x1a\n"
VERSION: Final = 1
DICT_HASH_BYTES: Final = 80
SYNC: Final = 0xD5AAE14B
SYNC_BYTES: Final = SYNC.to_bytes(4, "big")
MAX_DATA_BYTES: Final = 0xFFFF
MAX_U16: Final = 0xFFFF

_NAME = re.compile(r"seg-(\d{10})-(\d{13,})\.gfa")
_HEADER_BODY = struct.Struct(f">8sH{DICT_HASH_BYTES}sd")
_CRC = struct.Struct(">I")
_RECORD_HEAD = struct.Struct(">IIdHH")
HEADER_SIZE: Final = _HEADER_BODY.size + _CRC.size
RECORD_HEADER_SIZE: Final = _RECORD_HEAD.size + _CRC.size
RECORD_OVERHEAD: Final = RECORD_HEADER_SIZE + _CRC.size


@dataclass(frozen=True)
class Record:
    """One received frame as the archive keeps it: the bytes exactly as received, plus when and on
    which link they arrived and what the receiver thought of them."""

    t_rx: float
    """Receive time, unix seconds."""
    link: int
    """Link id, u16."""
    flags: int
    """Quality flags, u16: bit 0 frame CRC bad, bit 1 resync before it, the others free."""
    data: bytes
    """The raw received frame, 0 to 65535 bytes."""

    def check(self) -> None:
        """Raise ValueError for a record the format cannot hold, before it is buffered: a bad
        record found at flush time would be one nobody can fix any more."""
        if not isinstance(self.t_rx, float | int) or not math.isfinite(self.t_rx):
            raise ValueError(f"t_rx must be a finite number of unix seconds, not {self.t_rx!r}")
        for name in ("link", "flags"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= MAX_U16:
                raise ValueError(f"{name} must be an integer 0..{MAX_U16}, not {value!r}")
        if not isinstance(self.data, bytes | bytearray | memoryview) or len(self.data) > MAX_DATA_BYTES:
            raise ValueError(f"data must be at most {MAX_DATA_BYTES} bytes")


class SegmentHeader(NamedTuple):
    version: int
    dictionary_hash: str
    created_s: float


class HeaderError(ValueError):
    """The first HEADER_SIZE bytes are not a segment header this module can read; the message says
    which check failed."""


def encode_header(dictionary_hash: str, created_s: float) -> bytes:
    raw = dictionary_hash.encode("ascii")
    if len(raw) > DICT_HASH_BYTES or b"\0" in raw:
        raise ValueError(f"dictionary hash must be at most {DICT_HASH_BYTES} ASCII characters without NUL")
    body = _HEADER_BODY.pack(MAGIC, VERSION, raw, created_s)
    return body + _CRC.pack(zlib.crc32(body))


def decode_header(buf: bytes) -> SegmentHeader:
    if len(buf) < HEADER_SIZE:
        raise HeaderError(f"header truncated at {len(buf)} of {HEADER_SIZE} bytes "
                          "(the writer stopped while creating the file; it holds no records)")
    magic, version, raw_hash, created_s = _HEADER_BODY.unpack_from(buf)
    if magic != MAGIC:
        raise HeaderError(f"bad magic {magic.hex()} (expected {MAGIC.hex()}): not an archive segment")
    if version != VERSION:
        raise HeaderError(f"unknown format version {version} (this reader knows {VERSION})")
    (crc,) = _CRC.unpack_from(buf, _HEADER_BODY.size)
    if crc != zlib.crc32(buf[:_HEADER_BODY.size]):
        raise HeaderError("header CRC mismatch")
    try:
        dictionary_hash = raw_hash.rstrip(b"\0").decode("ascii")
    except UnicodeDecodeError:
        raise HeaderError("dictionary hash is not ASCII") from None
    return SegmentHeader(version, dictionary_hash, created_s)


def encode_record(rec: Record) -> bytes:
    head = _RECORD_HEAD.pack(SYNC, len(rec.data), rec.t_rx, rec.link, rec.flags)
    head += _CRC.pack(zlib.crc32(head))
    body = head + bytes(rec.data)
    return body + _CRC.pack(zlib.crc32(body))


class Status(Enum):
    OK = "ok"
    NEED = "need more bytes"
    BAD = "no intact record here"


class Parse(NamedTuple):
    status: Status
    record: Record | None = None
    size: int = 0
    """OK: bytes the record takes. NEED: bytes needed from pos, counting those already there."""
    header_ok: bool = False
    """A record header with a good CRC starts here (worth counting as one damaged record)."""


def parse_record(buf: bytes | memoryview, pos: int) -> Parse:
    """Decide whether an intact record starts at buf[pos]; never trusts its length before the
    header CRC has vouched for it."""
    avail = len(buf) - pos
    if avail < RECORD_HEADER_SIZE:
        head = bytes(buf[pos:pos + len(SYNC_BYTES)])
        return Parse(Status.NEED, size=RECORD_HEADER_SIZE) if SYNC_BYTES.startswith(head) else Parse(Status.BAD)
    sync, n, t_rx, link, flags = _RECORD_HEAD.unpack_from(buf, pos)
    if sync != SYNC:
        return Parse(Status.BAD)
    (head_crc,) = _CRC.unpack_from(buf, pos + _RECORD_HEAD.size)
    if head_crc != zlib.crc32(buf[pos:pos + _RECORD_HEAD.size]) or n > MAX_DATA_BYTES or not math.isfinite(t_rx):
        return Parse(Status.BAD)
    total = RECORD_OVERHEAD + n
    if avail < total:
        return Parse(Status.NEED, size=total, header_ok=True)
    end = pos + total - _CRC.size
    (crc,) = _CRC.unpack_from(buf, end)
    if crc != zlib.crc32(buf[pos:end]):
        return Parse(Status.BAD, header_ok=True)
    data = bytes(buf[pos + RECORD_HEADER_SIZE:end])
    return Parse(Status.OK, Record(t_rx, link, flags, data), total, header_ok=True)


def segment_name(seq: int, created_s: float) -> str:
    """seg-<seq>-<unix ms>.gfa, zero-padded so that names sort in append order. The sequence
    number comes first because a wall clock that steps back must not reorder the archive."""
    return f"seg-{seq:010d}-{max(0, int(created_s * 1000)):013d}.gfa"


def segment_seq(path: Path) -> int | None:
    """The sequence number in a segment's name, or None for a name the writer does not make."""
    m = _NAME.fullmatch(path.name)
    return int(m[1]) if m else None


def index_path(segment: Path) -> Path:
    return segment.with_suffix(".idx")
