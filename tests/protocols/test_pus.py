"""Space packets and PUS-C packets: construct spec parity, round trips, and interop with the
independent `spacepackets` implementation (standard PUS tools must parse what we send)."""
import binascii

import pytest
from hypothesis import given, strategies as st
from spacepackets.ecss.tc import PusTc as SpPusTc
from spacepackets.ecss.tm import PusTm as SpPusTm

from gridfree.protocols.errors import BytesTooShortError, CrcError, InvalidFieldError
from gridfree.protocols.pus import AckFlags, CucTime, PusTc, PusTcSpec, PusTm, PusTmSpec, check_pec
from gridfree.protocols.spacepacket import (
    IDLE_APID, PacketType, SequenceFlags, SpacePacket, SpacePacketHeader, SpacePacketHeaderSpec, idle_packet,
)

apids = st.integers(0, 0x7FE)
u8, u16 = st.integers(0, 255), st.integers(0, 0xFFFF)
app_data = st.binary(max_size=300)


def test_primary_header_known_vector():
    # CCSDS 133.0-B-2 layout by hand: TC, sec header, APID 0x3FF, unsegmented, count 5, 10 octets.
    h = SpacePacketHeader(PacketType.TC, 0x3FF, 5, 9, True, SequenceFlags.UNSEGMENTED)
    assert h.pack().hex() == "1bffc0050009"
    assert SpacePacketHeader.unpack(bytes.fromhex("1bffc0050009")) == h
    assert h.packet_len == 16


@given(st.sampled_from(PacketType), st.integers(0, 0x7FF), st.integers(0, 0x3FFF), u16, st.booleans(),
       st.sampled_from(SequenceFlags))
def test_primary_header_agrees_with_construct_spec(ptype, apid, count, dlen, sec, flags):
    h = SpacePacketHeader(ptype, apid, count, dlen, sec, flags)
    raw = h.pack()
    for spec in (SpacePacketHeaderSpec, SpacePacketHeaderSpec.compile()):
        parsed = spec.parse(raw)
        assert (parsed.apid, parsed.seq_count, parsed.data_len, parsed.sec_header_flag) == (apid, count, dlen, sec)
        assert int(parsed.packet_type) == ptype and int(parsed.seq_flags) == flags
    assert SpacePacketHeaderSpec.build(dict(version=0, packet_type=int(ptype), sec_header_flag=sec, apid=apid,
                                            seq_flags=int(flags), seq_count=count, data_len=dlen)) == raw
    assert SpacePacketHeader.unpack(raw) == h


@pytest.mark.parametrize("field,kwargs", [
    ("apid", dict(apid=0x800, seq_count=0, data_len=0)),
    ("seq_count", dict(apid=1, seq_count=0x4000, data_len=0)),
    ("data_len", dict(apid=1, seq_count=0, data_len=0x10000)),
])
def test_out_of_range_header_fields_are_named(field, kwargs):
    with pytest.raises(InvalidFieldError) as err:
        SpacePacketHeader(PacketType.TM, **kwargs)
    assert err.value.field == field


@given(st.integers(7, 2000), st.integers(0, 0x3FFF))
def test_idle_packet(length, count):
    p = idle_packet(length, count)
    assert len(p) == length
    h = SpacePacketHeader.unpack(p)
    assert h.apid == IDLE_APID and h.packet_len == length and not h.sec_header_flag


def test_cuc_time_round_trip_and_epoch():
    assert CucTime.from_unix(-378_691_200.0) == CucTime(0, 0)
    t = CucTime.from_unix(1_700_000_000.5)
    assert t.coarse == 1_700_000_000 + 378_691_200 and t.fine == 0x8000
    assert t.to_unix() == 1_700_000_000.5
    assert CucTime.unpack(t.pack()) == t
    with pytest.raises(InvalidFieldError):
        CucTime.from_unix(-4e8)


tm_strategy = st.builds(PusTm, apid=apids, service=u8, subtype=u8, app_data=app_data,
                        seq_count=st.integers(0, 0x3FFF), msg_counter=u16, dest_id=u16,
                        time=st.builds(CucTime, st.integers(0, 2**32 - 1), u16),
                        time_ref_status=st.integers(0, 15))
tc_strategy = st.builds(PusTc, apid=apids, service=u8, subtype=u8, app_data=app_data,
                        seq_count=st.integers(0, 0x3FFF), source_id=u16,
                        ack=st.sampled_from(list(AckFlags)))


@given(tm_strategy)
def test_tm_round_trip_construct_parity_and_spacepackets_interop(tm):
    raw = tm.pack()
    assert PusTm.unpack(raw) == tm
    assert binascii.crc_hqx(raw, 0xFFFF) == 0  # a packet with its CRC appended checks to zero
    parsed = PusTmSpec.parse(raw).body.value
    assert (parsed.primary.apid, parsed.secondary.service, parsed.secondary.subtype) == (tm.apid, tm.service, tm.subtype)
    assert (parsed.secondary.time_coarse, parsed.secondary.time_fine) == (tm.time.coarse, tm.time.fine)
    assert parsed.app_data == tm.app_data
    other = SpPusTm.unpack(raw, timestamp_len=6)
    assert (other.apid, other.service, other.message_subtype) == (tm.apid, tm.service, tm.subtype)
    assert (other.seq_count, other.source_data, other.timestamp) == (tm.seq_count, tm.app_data, tm.time.pack())
    sec = other.pus_tm_sec_header
    assert (sec.message_counter, sec.dest_id, sec.spacecraft_time_ref) == (tm.msg_counter, tm.dest_id, tm.time_ref_status)


@given(tc_strategy)
def test_tc_round_trip_construct_parity_and_spacepackets_interop(tc):
    raw = tc.pack()
    assert PusTc.unpack(raw) == tc
    parsed = PusTcSpec.parse(raw).body.value
    assert (parsed.primary.apid, parsed.secondary.source_id, parsed.app_data) == (tc.apid, tc.source_id, tc.app_data)
    other = SpPusTc.unpack(raw)
    assert (other.apid, other.service, other.message_subtype, other.source_id) == (tc.apid, tc.service, tc.subtype, tc.source_id)
    assert (other.seq_count, other.app_data) == (tc.seq_count, tc.app_data)
    assert other.pack() == raw


@given(st.builds(SpPusTc, apid=apids, service=u8, message_subtype=u8, app_data=app_data,
                 seq_count=st.integers(0, 0x3FFF), source_id=u16))
def test_we_parse_what_spacepackets_sends(sp):
    tc = PusTc.unpack(bytes(sp.pack()))
    assert (tc.apid, tc.service, tc.subtype, tc.app_data, tc.source_id) == (sp.apid, sp.service, sp.message_subtype, sp.app_data, sp.source_id)


@given(tm_strategy, st.data())
def test_any_bit_flip_is_a_crc_or_length_error(tm, data):
    raw = bytearray(tm.pack())
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises((CrcError, BytesTooShortError, InvalidFieldError)):
        PusTm.unpack(bytes(raw))


def test_truncated_and_wrong_kind_packets_give_specific_errors():
    raw = PusTm(apid=5, service=3, subtype=25, app_data=b"\x00\x01").pack()
    with pytest.raises(BytesTooShortError):
        PusTm.unpack(raw[:-1])
    with pytest.raises(BytesTooShortError):
        PusTm.unpack(raw[:3])
    with pytest.raises(InvalidFieldError, match="not a PUS TC"):
        PusTc.unpack(raw)
    assert check_pec(raw + b"trailing") == len(raw)


def test_space_packet_build_and_unpack():
    p = SpacePacket.build(PacketType.TM, 42, 7, b"abc")
    assert SpacePacket.unpack(p.pack() + b"xx") == p
    with pytest.raises(InvalidFieldError):
        SpacePacket.build(PacketType.TM, 42, 7, b"")
