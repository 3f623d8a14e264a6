"""PUS 13 uplink in the large-data service, driven alone by the component tester: TC[13,9..11]
parts reassembled in any order, handed whole through `uplinkOut` to the component that takes
their kind, and every way a transfer can end early reported in TM[13,16], an event and a counter,
with nothing already delivered touched."""
import random

import pytest

from gridfree.flight.core.clock import J2000_UNIX_S
from gridfree.flight.core.services import largedata as lds
from gridfree.flight.core.tester import ComponentTester
from gridfree.protocols.services import largedata as pus13
from gridfree.protocols.services.largedata import UplinkFailure
from gridfree.protocols.services.verification import FailureCode

NAMES = {pus13.Subtype.UPLINK_FIRST_PART: "UplinkFirstPart", pus13.Subtype.UPLINK_INTERMEDIATE_PART:
         "UplinkIntermediatePart", pus13.Subtype.UPLINK_LAST_PART: "UplinkLastPart"}


class Sent:
    """What became of one TC, as its PUS 1 report would say."""

    def __init__(self, result):
        self.completed, self.failed = result.ok, not result.ok
        self.failure = None if result.ok else (result.code, result.reason)


class Bench:
    def __init__(self):
        self.t = J2000_UNIX_S
        self.tester = ComponentTester(lds.LargeDataService("lds", 0x00B0), t0=self.t)
        self.got: list[bytes] = []
        self.tester.answer("uplinkOut", self._take)

    def _take(self, uplinked: lds.UplinkedData) -> bool:
        if not uplinked.data.startswith(b"TEST"):
            return False  # not this consumer's kind of data
        self.got.append(uplinked.data)
        return True

    def step(self, seconds: float = 0.5) -> None:
        self.t += seconds
        self.tester.run("fast", self.t)

    def send_part(self, subtype, data: bytes) -> Sent:
        return Sent(self.tester.command(NAMES[subtype], data=data))

    def send(self, tid: int, data: bytes, seqs=None, part_octets: int = 100):
        parts = pus13.uplink_parts(tid, data, part_octets)
        return [self.send_part(*parts[s]) for s in (range(len(parts)) if seqs is None else seqs)]

    def aborted(self) -> list[str]:
        return [f"uplink {e['transaction']} aborted ({UplinkFailure(e['reason']).name}): {e['detail']}"
                for e in self.tester.events("UplinkAborted")]

    @property
    def uplink_aborts(self) -> dict[int, UplinkFailure]:
        """TM[13,16] as downlinked: transaction -> reason."""
        out = {}
        for d in self.tester.downlinked(13):
            if d.subtype == pus13.UPLINK_ABORTION:
                tid, reason = pus13.unpack_abortion(d.data)
                out[tid] = UplinkFailure(reason)
        return out

    def tlm(self, local: str):
        return self.tester.tlm(local)


@pytest.fixture
def bench():
    return Bench()


def blob(n: int, salt: int = 0) -> bytes:
    return b"TEST" + bytes((i * 31 + salt) & 0xFF for i in range(n - 4))


def test_parts_in_any_order_and_repeated_come_out_whole_once(bench):
    data = blob(2500)
    order = list(range(25))
    random.Random(3).shuffle(order)
    handles = bench.send(0x0101, data, order[:12] + [order[0], order[5]] + order[12:] + [order[7]])
    bench.step()
    assert all(h.completed for h in handles) and bench.got == [data]
    assert bench.tlm("UplinkDuplicates") == 3 and bench.tlm("UplinksDone") == 1
    late = bench.send(0x0101, data, [3, 24])  # late copies, after the transfer ended
    bench.step()
    assert all(h.completed for h in late) and bench.got == [data] and bench.aborted() == []
    again = blob(300, salt=1)  # the same transaction id for new data: a new transfer
    bench.send(0x0101, again)
    bench.step()
    assert bench.got == [data, again] and bench.tlm("UplinkDuplicates") == 5


def test_a_short_message_goes_up_as_one_last_part(bench):
    data = blob(60)
    (only,) = pus13.uplink_parts(9, data, 100)
    assert only[0] == pus13.Subtype.UPLINK_LAST_PART
    (h,) = bench.send(9, data)
    bench.step()
    assert h.completed and bench.got == [data]


def test_transfers_beyond_the_bound_are_refused_and_those_in_progress_finish(bench):
    datas = {tid: blob(250, salt=tid) for tid in range(1, lds.UPLINK_MAX_TRANSFERS + 2)}
    first = {tid: bench.send(tid, d, [0]) for tid, d in datas.items()}
    bench.step()
    extra = lds.UPLINK_MAX_TRANSFERS + 1
    (refused,) = first[extra]
    assert refused.failed and refused.failure[0] == FailureCode.BUSY
    assert bench.uplink_aborts == {extra: UplinkFailure.TOO_MANY}
    later = bench.send(extra, datas[extra], [1])  # the rest of a refused transfer is refused too
    for tid in range(1, extra):
        bench.send(tid, datas[tid], [1, 2])
    bench.step()
    assert later[0].failed and "send it again from part 0" in later[0].failure[1]
    assert bench.got == [datas[tid] for tid in range(1, extra)]
    bench.send(extra, datas[extra])  # room again: from part 0 it goes through
    bench.step()
    assert bench.got[-1] == datas[extra] and bench.tlm("UplinksAborted") == 1


def test_a_transfer_too_large_is_aborted(bench, monkeypatch):
    monkeypatch.setattr(lds, "UPLINK_MAX_OCTETS", 1000)
    handles = bench.send(5, blob(1200))
    far = bench.send_part(pus13.Subtype.UPLINK_INTERMEDIATE_PART,
                          pus13.pack_part(6, lds.UPLINK_MAX_PARTS, b"x"))  # a part number past the bound
    bench.step()
    assert handles[10].failed and "TOO_LARGE" in handles[10].failure[1] and not handles[9].failed
    assert far.failed and bench.uplink_aborts == {5: UplinkFailure.TOO_LARGE, 6: UplinkFailure.TOO_LARGE}
    assert bench.got == []


def test_a_gap_never_filled_times_out_with_the_missing_parts_named(bench):
    bench.tester.set_parameter("UplinkTimeoutS", 5.0)
    data = blob(1000)
    bench.send(7, data, [0, 1, 2, 5, 6, 9])
    bench.step(3.0)
    assert bench.aborted() == [] and bench.tlm("UplinksInProgress") == 1
    bench.step(3.0)
    assert bench.uplink_aborts == {7: UplinkFailure.TIMED_OUT}
    assert bench.aborted() == ["uplink 7 aborted (TIMED_OUT): parts [3, 4, 7, 8] missing"]
    assert bench.tlm("UplinksInProgress") == 0 and bench.got == []


def test_a_contradicting_part_or_data_nobody_takes_is_reported(bench):
    data = blob(300)
    bench.send(11, data, [0, 1])
    other = bytearray(data)
    other[150] ^= 1
    (clash,) = bench.send(11, bytes(other), [1])  # part 1 again, other content
    short = bench.send_part(pus13.Subtype.UPLINK_LAST_PART, b"\x00\x0c\x00")
    bench.send(12, b"NOPE" + bytes(50))
    bench.step()
    assert clash.failed and "INCONSISTENT" in clash.failure[1]
    assert short.failed and short.failure[0] == FailureCode.INCOMPLETE_OR_BAD_LENGTH
    assert bench.uplink_aborts == {11: UplinkFailure.INCONSISTENT, 12: UplinkFailure.NO_CONSUMER}
    assert bench.tlm("UplinksAborted") == 2 and bench.got == []


def test_a_sender_starting_over_from_part_0_ends_the_old_transfer_and_runs_the_new(bench):
    old, new = blob(500, salt=1), blob(400, salt=2)
    bench.send(13, old, [0, 1, 2])
    restart = bench.send(13, new)
    bench.step()
    assert all(h.completed for h in restart) and bench.got == [new]
    assert bench.uplink_aborts == {13: UplinkFailure.INCONSISTENT}
    assert bench.aborted() == ["uplink 13 aborted (INCONSISTENT): restarted from part 0"]
