"""PUS 13 parts and their reassembly (ECSS-E-ST-70-41C §6.13): any arrival order gives the message
back, a contradicting part changes nothing held, and the bounds hold against any part number."""
import pytest
from hypothesis import given, strategies as st

from gridfree.protocols.dictionary import DecodeError
from gridfree.protocols.services import largedata as pus13
from gridfree.protocols.services.largedata import Reassembly, Subtype, TransferTooLarge, UplinkFailure


def feed(r: Reassembly, parts, order) -> None:
    for i in order:
        tid, seq, part = pus13.unpack_part(parts[i][1])
        assert tid == r.transaction
        r.add(parts[i][0], seq, part)


@given(data=st.binary(min_size=1, max_size=600), part_octets=st.integers(1, 64), rnd=st.randoms(use_true_random=False))
def test_parts_in_any_order_with_repeats_give_the_message_back(data, part_octets, rnd):
    parts = pus13.uplink_parts(0xBEEF, data, part_octets)
    order = list(range(len(parts))) + [rnd.randrange(len(parts)) for _ in range(3)]
    rnd.shuffle(order)
    r = Reassembly(0xBEEF)
    feed(r, parts, order)
    assert r.complete and r.data() == data and r.duplicates == 3 and r.missing == []


def test_the_wire_layout_is_transaction_sequence_part():
    parts = pus13.uplink_parts(0x0102, b"abcdefg", 3)
    assert [s for s, _ in parts] == [Subtype.UPLINK_FIRST_PART, Subtype.UPLINK_INTERMEDIATE_PART,
                                     Subtype.UPLINK_LAST_PART]
    assert parts[1][1] == bytes.fromhex("0102 00000001") + b"def"
    assert pus13.uplink_parts(7, b"x", 3) == [(Subtype.UPLINK_LAST_PART, bytes.fromhex("0007 00000000") + b"x")]
    assert pus13.pack_abortion(0x0102, UplinkFailure.TIMED_OUT) == bytes.fromhex("0102 0003")
    assert pus13.unpack_abortion(bytes.fromhex("0102 0003")) == (0x0102, UplinkFailure.TIMED_OUT)
    with pytest.raises(DecodeError):
        pus13.unpack_abortion(b"\x01\x02\x00")
    with pytest.raises(ValueError):
        pus13.uplink_parts(7, b"", 3)


@pytest.mark.parametrize("subtype,seq,part,why", [
    (Subtype.UPLINK_INTERMEDIATE_PART, 1, b"BBB", "differing"),  # held part, other content
    (Subtype.UPLINK_LAST_PART, 1, b"bbb", "differing"),  # held part, other role
    (Subtype.UPLINK_FIRST_PART, 2, b"ccc", "first part numbered 2"),
    (Subtype.UPLINK_INTERMEDIATE_PART, 0, b"aaa", "intermediate part numbered 0"),
    (Subtype.UPLINK_LAST_PART, 2, b"ccc", "yet part 3 was received"),
    (Subtype.UPLINK_LAST_PART, 5, b"fff", "a second last part"),
    (Subtype.UPLINK_INTERMEDIATE_PART, 7, b"hhh", "after the last part 4"),
])
def test_a_contradicting_part_is_refused_and_changes_nothing(subtype, seq, part, why):
    r = Reassembly(1)
    r.add(Subtype.UPLINK_FIRST_PART, 0, b"aaa")
    r.add(Subtype.UPLINK_INTERMEDIATE_PART, 1, b"bbb")
    r.add(Subtype.UPLINK_INTERMEDIATE_PART, 3, b"ddd")
    if "last part" in why:
        r.add(Subtype.UPLINK_LAST_PART, 4, b"eee")
    held = (dict(r.parts), r.last_seq, r.octets)
    with pytest.raises(DecodeError, match=why):
        r.add(subtype, seq, part)
    assert (r.parts, r.last_seq, r.octets) == held


def test_bounds_hold_whatever_the_part_number():
    r = Reassembly(1, max_octets=10, max_parts=4)
    with pytest.raises(TransferTooLarge):
        r.add(Subtype.UPLINK_LAST_PART, 2**32 - 1, b"x")
    r.add(Subtype.UPLINK_FIRST_PART, 0, b"123456")
    with pytest.raises(TransferTooLarge):
        r.add(Subtype.UPLINK_LAST_PART, 1, b"12345")
    r.add(Subtype.UPLINK_LAST_PART, 1, b"1234")
    assert r.complete and r.data() == b"1234561234"
