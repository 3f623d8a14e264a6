"""The entry, record and header formats of protocols/ledger, and the tariff's rounding rule."""
from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from gridfree.protocols import ledger as L
from gridfree.protocols.tariff import Tariff, tokens_for
from gridfree.protocols.errors import CrcError, InvalidFieldError
from tests.tokens.conftest import KEY, KEYS, OTHER_KEY, PUBLIC

FP = L.fingerprint(PUBLIC)

finite = st.floats(allow_nan=False, allow_infinity=False)
energy = st.floats(min_value=0.0, allow_nan=False, allow_infinity=False)
u64 = st.integers(0, 2**64 - 1)


@st.composite
def entries(draw) -> L.Entry:
    kind = draw(st.sampled_from(L.Kind))
    job = 0 if kind in (L.Kind.QUOTA_SET, L.Kind.STATEMENT, L.Kind.HEAD) else draw(st.integers(0, 2**32 - 1))
    tenant = 0 if kind is L.Kind.HEAD else draw(st.integers(0, 0xFFFF))
    if kind is L.Kind.HEAD:
        e_Wh, units, tokens = 0.0, 0, 0
    elif kind is L.Kind.REFUND:
        e_Wh, units, tokens = 0.0, 0, draw(st.integers(-(2**63), 0))
    elif kind is L.Kind.QUOTA_SET:
        e_Wh, units, tokens = 0.0, 0, draw(st.integers(0, 2**63 - 1))
    else:
        e_Wh, units, tokens = draw(energy), draw(u64), draw(st.integers(0, 2**63 - 1))
    return L.Entry(seq=draw(u64), t_s=draw(finite), key=FP, tenant=tenant, job=job,
                   kind=kind, energy_Wh=e_Wh, work_units=units, tokens=tokens,
                   prev_hash=draw(st.binary(min_size=32, max_size=32)))


@given(entries())
def test_entry_and_record_round_trip(entry):
    entry_bytes = L.encode_entry(entry, KEY)
    assert len(entry_bytes) == L.ENTRY_OCTETS
    record = L.encode_record(entry_bytes)
    assert len(record) == L.RECORD_OCTETS
    back = L.decode_entry(L.decode_record(record), KEYS)
    assert back == replace(entry, signature=entry_bytes[-L.SIGNATURE_OCTETS:])
    assert back.kind is entry.kind and math.copysign(1, back.t_s) == math.copysign(1, entry.t_s)
    assert L.encode_entry(back, KEY) == entry_bytes
    assert L.chain_hash(entry_bytes) == hashlib.sha256(entry_bytes).digest()


@given(entries(), st.data())
def test_any_flipped_bit_fails_the_signature(entry, data):
    entry_bytes = bytearray(L.encode_entry(entry, KEY))
    bit = data.draw(st.integers(0, 8 * L.ENTRY_OCTETS - 1))
    entry_bytes[bit // 8] ^= 1 << (bit % 8)
    # A flip in the key fingerprint names a key we do not hold; anywhere else the signature fails.
    in_fingerprint = 17 <= bit // 8 < 17 + L.FINGERPRINT_OCTETS
    with pytest.raises(L.UnknownKeyError if in_fingerprint else L.SignatureError):
        L.decode_entry(bytes(entry_bytes), KEYS)


def test_an_entry_is_signed_only_by_the_key_it_names():
    entry = L.Entry(0, 1.0, FP, 2, 3, L.Kind.CHARGE, 1.0, 1, 11, bytes(32))
    with pytest.raises(InvalidFieldError, match="fingerprint of the key that signs"):
        L.encode_entry(entry, OTHER_KEY)
    # What is signed is the domain and the body: a signature the key made over anything else fails.
    entry_bytes = L.encode_entry(entry, KEY)
    body = entry_bytes[:-L.SIGNATURE_OCTETS]
    assert L.signature_valid(PUBLIC, L.SIGNING_DOMAIN + body, entry_bytes[-L.SIGNATURE_OCTETS:])
    with pytest.raises(L.SignatureError):
        L.decode_entry(body + L.sign(KEY, body), KEYS)


@given(st.integers(0, 400).filter(lambda n: n != L.ENTRY_OCTETS))
def test_decode_refuses_wrong_lengths_before_anything_else(n):
    with pytest.raises(L.LengthError, match=f"exactly {L.ENTRY_OCTETS} octets, got {n}"):
        L.decode_entry(bytes(n), KEYS)
    if n != L.RECORD_OCTETS:
        with pytest.raises(L.LengthError, match=f"exactly {L.RECORD_OCTETS} octets, got {n}"):
            L.decode_record(bytes(n))


def test_record_crc_catches_a_flipped_octet():
    entry = L.Entry(0, 1.0, FP, 2, 3, L.Kind.CHARGE, 1.0, 1, 11, bytes(32))
    record = bytearray(L.encode_record(L.encode_entry(entry, KEY)))
    record[40] ^= 0x01
    with pytest.raises(CrcError, match="record CRC-32"):
        L.decode_record(bytes(record))


@pytest.mark.parametrize("change, field", [
    (dict(tenant=0x10000), "tenant"), (dict(job=2**32), "job"), (dict(seq=-1), "seq"),
    (dict(t_s=math.nan), "t_s"), (dict(energy_Wh=-0.5), "energy_Wh"), (dict(energy_Wh=math.inf), "energy_Wh"),
    (dict(tokens=-1), "tokens"), (dict(tokens=2**63), "tokens"), (dict(kind=9), "kind"),
    (dict(prev_hash=bytes(31)), "prev_hash"), (dict(kind=L.Kind.REFUND, tokens=5), "tokens"),
    (dict(kind=L.Kind.QUOTA_SET, job=4), "job"), (dict(kind=L.Kind.REFUND, tokens=0), "energy_Wh"),
    (dict(kind=L.Kind.STATEMENT, job=4), "job"), (dict(key=FP[:7]), "key"),
    (dict(kind=L.Kind.HEAD, energy_Wh=0.0, work_units=0, tokens=0), "tenant"),
    (dict(kind=L.Kind.HEAD, tenant=0, energy_Wh=0.0, work_units=0), "tokens"),
])
def test_encode_refuses_fields_the_format_cannot_hold(change, field):
    entry = replace(L.Entry(0, 1.0, FP, 2, 0, L.Kind.CHARGE, 1.0, 1, 11, bytes(32)), **change)
    with pytest.raises(InvalidFieldError) as info:
        L.encode_entry(entry, KEY)
    assert info.value.field == field


def test_header_round_trip_and_refusals():
    header = L.encode_header("node-é")
    assert len(header) == L.HEADER_OCTETS and L.decode_header(header + b"records") == "node-é"
    with pytest.raises(L.LengthError):
        L.decode_header(header[:-1])
    bad_length = bytearray(header)
    bad_length[5] = 200  # the id length, which must not be believed before the CRC
    with pytest.raises(CrcError, match="header"):
        L.decode_header(bytes(bad_length))
    with pytest.raises(L.LedgerFormatError, match="magic"):
        L.decode_header(b"GFTX" + header[4:])
    with pytest.raises(InvalidFieldError):
        L.encode_header("x" * 63)


def test_a_header_whose_crc_checks_but_whose_id_is_not_utf8_is_a_format_error():
    body = bytearray(L.encode_header("node-1")[:-4])
    body[7] = 0xFF  # inside the id: no UTF-8 octet, and a writer that computed its CRC over it
    forged = bytes(body) + L.crc32(bytes(body)).to_bytes(4, "big")
    with pytest.raises(L.LedgerFormatError, match="not UTF-8"):
        L.decode_header(forged)


def test_genesis_depends_on_the_ledger_id():
    assert L.genesis_hash("a") != L.genesis_hash("b")
    assert L.genesis_hash("a") == hashlib.sha256(b"gridfree compute token ledger v1\x00a").digest()


@pytest.mark.parametrize("energy_Wh, units, tariff, tokens", [
    (2.5, 30, Tariff(10, 1), 55),
    (1.25, 100, Tariff(10, 1), 113),           # 112.5: halves round up
    (3.0, 0, Tariff("0.5", 0), 2),             # 1.5 -> 2
    (1.0, 0, Tariff("0.5", 0), 1),             # 0.5 -> 1
    (0.0, 1, Tariff(0, "0.49"), 0),
    (0.1, 0, Tariff(10, 0), 1),                # 0.1 Wh's binary value is a hair above 1/10
    (0.0, 10, Tariff(0, 0.1), 1),              # a float rate means the decimal it prints as
    (0.0, 3, Tariff(0, Fraction(1, 6)), 1),    # 0.5 -> 1
    (1e6, 10**12, Tariff(1000, 7), 10**9 + 7 * 10**12),
])
def test_tokens_for_is_exact_and_rounds_halves_up(energy_Wh, units, tariff, tokens):
    assert tokens_for(energy_Wh, units, tariff) == tokens


@pytest.mark.parametrize("energy_Wh, units", [(-1.0, 0), (math.nan, 0), (1.0, -1), (1.0, 1.5)])
def test_tokens_for_refuses_negative_or_nonsense_amounts(energy_Wh, units):
    with pytest.raises(ValueError):
        tokens_for(energy_Wh, units, Tariff(1, 1))


def test_tariff_refuses_negative_rates():
    with pytest.raises(ValueError, match="tokens_per_unit"):
        Tariff(1, -1)
