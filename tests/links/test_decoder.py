"""The ground's sans-IO decoder: bytes in, typed records out, however the bytes are cut.

A live link delivers whatever chunks its transport reads, a replay one frame at a time: the
records must be the same either way, in the order the node sent them, and damage must cost
only what it touched."""
from __future__ import annotations

from gridfree.ground.link.commands import CommandTracker
from gridfree.ground.link.decoder import Decoder
from gridfree.ground.link.records import EventRecord, PacketRecord, Pong, Sample, TransferRecord
from gridfree.protocols.framing import TmFrameEncoder
from gridfree.protocols.pus import CucTime, PusTm
from gridfree.protocols.services import events as pus5
from gridfree.protocols.services import housekeeping as pus3
from gridfree.protocols.services import largedata as pus13
from gridfree.protocols.services.verification import Subtype, VerificationReport

T0 = 1_795_000_000.0


def _tm(service: int, subtype: int, data: bytes, i: int) -> bytes:
    return PusTm(apid=100, service=service, subtype=subtype, seq_count=i, app_data=data,
                 time=CucTime.from_unix(T0 + i)).pack()


def downlink(d, request) -> tuple[bytes, list[type]]:
    """A pass's worth of frames: housekeeping, an event, a verification, a ping reply and a
    two-part transfer; and the record types a decoder must give for it, in order."""
    sid = d.housekeeping[0].sid
    names = d.hk_by_sid[sid].channels
    values = {n: d.channel_by_name[n].enum and min(d.channel_by_name[n].enum.values()) or 0 for n in names}
    ev = next(e for e in d.events if not e.arguments)
    packets = [
        _tm(3, pus3.Subtype.HK_REPORT, pus3.HkReport(sid, d.encode_hk(sid, values)).pack(), 0),
        _tm(5, ev.severity.pus_subtype, pus5.EventReport(ev.severity.pus_subtype, ev.id).pack(), 1),
        _tm(1, Subtype.ACCEPTANCE_OK, VerificationReport(Subtype.ACCEPTANCE_OK, request).pack(), 2),
        _tm(17, 2, b"", 3),
        _tm(13, pus13.Subtype.FIRST_PART, pus13.pack_part(7, 0, b"GFRS" + b"a" * 300), 4),
        _tm(13, pus13.Subtype.LAST_PART, pus13.pack_part(7, 1, b"b" * 10), 5),
    ]
    enc, frames = TmFrameEncoder(), b""
    for p in packets:
        frames += b"".join(enc.add_packet(0, p) + enc.flush(0))
    expected = ([PacketRecord] + [Sample] * len(names) + [PacketRecord, EventRecord, PacketRecord, VerificationReport,
                PacketRecord, Pong, PacketRecord, PacketRecord, TransferRecord])
    return frames, expected


def test_records_come_out_typed_and_in_order_however_the_bytes_are_cut(dictionary):
    request = CommandTracker(100, 1).packet("test.Ping", 17, 1, b"")[1].request
    frames, expected = downlink(dictionary, request)
    whole = Decoder(dictionary).feed(frames).records
    assert [type(r) for r in whole] == expected
    transfer = whole[-1]
    assert transfer.transaction == 7 and transfer.data == b"GFRS" + b"a" * 300 + b"b" * 10
    assert transfer.time_s == T0 + 5 and isinstance(whole[-4], Pong)
    assert next(r for r in whole if isinstance(r, VerificationReport)).request == request

    chopped, decoder = [], Decoder(dictionary)
    for at in range(0, len(frames), 37):  # a transport's reads: cut anywhere, frames span them
        chopped += decoder.feed(frames[at:at + 37]).records
    assert chopped == whole
    assert decoder.packets == 6 and decoder.decode_errors == 0 and decoder.stats.frames_bad == 0


def test_a_damaged_frame_costs_its_packets_and_is_counted(dictionary):
    request = CommandTracker(100, 1).packet("test.Ping", 17, 1, b"")[1].request
    frames, expected = downlink(dictionary, request)
    damaged = bytearray(frames)
    damaged[40] ^= 0xFF  # inside the first frame: the housekeeping report
    d = Decoder(dictionary)
    out = d.feed(bytes(damaged))
    s = d.stats
    assert s.frames_ok == 5 and (s.frames_bad or s.bytes_skipped)  # counted as bad or skipped, never silent
    assert not any(isinstance(r, Sample) for r in out.records)
    assert [type(r) for r in out.records][-1] is TransferRecord  # what came after is whole


def test_a_transfer_part_without_its_first_is_a_decode_error_not_a_crash(dictionary):
    enc = TmFrameEncoder()
    lone = _tm(13, pus13.Subtype.LAST_PART, pus13.pack_part(9, 3, b"x"), 0)
    d = Decoder(dictionary)
    records = d.feed(b"".join(enc.add_packet(0, lone) + enc.flush(0))).records
    assert [type(r) for r in records] == [PacketRecord] and d.decode_errors == 1
