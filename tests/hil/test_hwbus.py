"""The hardware register protocol: round trips, and a decoder that survives line noise."""
from hypothesis import given, strategies as st

from gridfree.protocols.hwbus import HwBusDecoder, Op, Reg, Request, Response, Status

requests = st.one_of(
    st.builds(Request, st.just(Op.READ), st.integers(0, 255), st.sampled_from(list(Reg))),
    st.builds(Request, st.just(Op.WRITE), st.integers(0, 255), st.just(Reg.HEATER_SWITCH), st.sampled_from([0, 1])),
)
responses = st.builds(Response, st.sampled_from([Op.READ, Op.WRITE]), st.integers(0, 255), st.just(Reg.BATTERY_VOLTAGE_V),
                      st.sampled_from(list(Status)), st.sampled_from([0.0, 28.25, -3.5]))


@given(st.lists(st.one_of(requests, responses), max_size=20), st.lists(st.binary(max_size=12), max_size=20))
def test_messages_survive_noise_between_them(msgs, noise):
    stream = b""
    for i, m in enumerate(msgs):
        stream += (noise[i % len(noise)] if noise else b"") + m.pack()
    # A false sync in the noise may hold decoding until its declared length (at most 66 octets)
    # has arrived and failed its CRC; the line's next bytes release it.
    got = HwBusDecoder().feed(stream + bytes(70))
    assert [m for m in got if m in msgs] == msgs


@given(st.binary(max_size=500))
def test_random_bytes_never_raise(blob):
    dec = HwBusDecoder()
    dec.feed(blob)
    dec.feed(b"\xa5\x5a\xff" + blob)


def test_a_corrupted_length_costs_one_message():
    a, b = Request(Op.READ, 1, Reg.BUS_VOLTAGE_V).pack(), Request(Op.READ, 2, Reg.BATTERY_TEMP_C).pack()
    bad = bytearray(a)
    bad[2] = 12  # claims a longer body: its CRC fails, the hunt resumes
    dec = HwBusDecoder()
    got = dec.feed(bytes(bad) + b + bytes(20))
    assert got == [Request(Op.READ, 2, Reg.BATTERY_TEMP_C)]
    assert dec.stats.crc_errors + dec.stats.malformed >= 1


def test_block_reads_round_trip():
    req = Request(Op.READ_BLOCK, 9, Reg.BUS_VOLTAGE_V, 6)
    resp = Response(Op.READ_BLOCK, 9, Reg.BUS_VOLTAGE_V, Status.OK, values=(28.5, 28.25, -3.0, 12.5, 4000.0, 140.0))
    assert HwBusDecoder().feed(req.pack() + resp.pack()) == [req, resp]
