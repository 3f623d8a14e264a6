"""The compute manager's hand on the payload board's item queue: chunks go to the board as work
items, several per decision, and each is billed the energy the board reports it drew.

Each chunk in flight is one item on the board (its board work is the chunk's work units times the
node's `work_scale`: one host operation stands for that many board operations) and one attempt on
the host (runner.py), which computes the real result the item stands for. A chunk commits when
the board reports its item done and its host result has passed its checks; the board's report
alone never commits anything. What the board did and what the host computed are counted apart
(BoardWork*, HostWork*) so that nothing is claimed that was not computed.

Up to PAYLOAD_QUEUE_DEPTH items are kept on the board while compute is allowed. When it is not
(shed, throttled, SAFE, the payload off) or a chunk fails its check, the queue is cleared: the
running item's energy so far is billed to its job, and its chunk and every later one are started
again when compute resumes (workqueue.py has the bookkeeping). A board without a work interface
(the `none` and `linux` drivers) runs one chunk per decision billed by the datasheet, as before,
and `BilledByBoard` says so.
"""
from __future__ import annotations

from typing import Callable

from gridfree.flight.compute.kinds import KIND_MODELS
from gridfree.flight.compute.runner import Attempt
from gridfree.flight.compute.workqueue import BoardQueue, Fate
from gridfree.flight.hardware.interfaces import Switch
from gridfree.flight.hardware.ports import EpsReadings, PayloadWork
from gridfree.protocols.compute import Kind
from gridfree.protocols.dictionary import Channel, HousekeepingPacket
from gridfree.protocols.registers import PAYLOAD_QUEUE_DEPTH

CHANNELS = (
    Channel(60, "BilledByBoard", "bool", description="The payload board reports each item's energy and chunks are "
            "billed by it (False: no work interface, billed by datasheet time)"),
    Channel(61, "ItemsQueued", "u16", description="Work items the payload board holds for the node"),
    Channel(62, "ItemsDone", "u32", description="Work items the payload board reported done since boot"),
    Channel(63, "ItemsDropped", "u32", description="Work items cleared from the board before their end since boot "
            "(their chunks are computed again)"),
    Channel(64, "BoardWorkMflop", "f64", "MFLOP", "Board work of the MATMUL and MLP items the board ran to their "
            "end since boot (host work x work_scale)"),
    Channel(65, "BoardWorkKpx", "f64", "kpx", "Board work of the TILES items the board ran to their end since boot"),
    Channel(66, "HostWorkMflop", "f64", "MFLOP", "MATMUL and MLP work the host computed and checked for committed "
            "chunks since boot"),
    Channel(67, "HostWorkKpx", "f64", "kpx", "TILES work the host computed and checked for committed chunks since "
            "boot"),
    Channel(68, "BoardResyncs", "u32", description="Times the board's item counts could not be explained and its "
            "queue was cleared and read afresh"),
)
HOUSEKEEPING = (HousekeepingPacket(8, "BoardWork", tuple(c.name for c in CHANNELS), 1.0,
                                   "Work items on the payload board: handed over, done, dropped; board and host work"),)
_PIXELS = {Kind.TILES}


class BoardWork:
    def __init__(self, work_scale: float = 1.0):
        if not work_scale >= 1.0:
            raise ValueError(f"work_scale {work_scale} must be at least 1 (board operations per host operation)")
        self.work_scale = work_scale
        self.queue = BoardQueue()
        self.on_board = False  # the latest readings say the board takes work items
        self.items_done = self.items_dropped = 0
        self.board_units = {False: 0.0, True: 0.0}  # by "in kilo-pixels"
        self.host_units = {False: 0.0, True: 0.0}

    def observe(self, readings: EpsReadings) -> list[Attempt]:
        """A reading of the board: attempts whose items the board finished are marked done with
        their energy; those it dropped are returned, their energy so far on them."""
        self.on_board = readings.work_interface
        if not self.on_board:
            return []
        dropped = []
        for o in self.queue.observe(readings.items, readings.is_on(Switch.PAYLOAD)):
            a: Attempt = o.item.tag
            a.board_J += o.energy_J
            if o.fate is Fate.DONE:
                a.board_done = True
                self.items_done += 1
                self.board_units[a.spec.kind in _PIXELS] += o.item.work_M * 1e6
            else:
                self.items_dropped += 1
                dropped.append(a)
        return dropped

    def committed(self, a: Attempt) -> None:
        """The chunk's host result checked and kept: its host work counts as done."""
        self.host_units[a.spec.kind in _PIXELS] += a.spec.work_units()

    def fill(self, next_attempt: Callable[[], Attempt | None], send: Callable[[PayloadWork], bool]) -> None:
        """Keep the board's queue full: an item not yet taken is offered again first (its number
        makes that harmless), then new chunks while the board has room and there are chunks."""
        q = self.queue
        if q.needs_clear:  # a boot, or numbers that did not add up: the board may hold items nobody knows
            self.clear(send)
            return
        if not q.ready:
            return
        item = q.unaccepted()
        if item is not None:
            if not send(PayloadWork(item.seq, item.kind, item.work_M)):
                return
            q.accepted(item)
        while len(q) < PAYLOAD_QUEUE_DEPTH:
            a = next_attempt()
            if a is None:
                return
            a.on_board = True
            item = q.add(int(a.spec.kind), a.work_M, a)
            if not send(PayloadWork(item.seq, item.kind, item.work_M)):
                return  # offered again at the next decision
            q.accepted(item)

    def clear(self, send: Callable[[PayloadWork], bool]) -> None:
        """Drop everything on the board; the dropped items are billed at the next reading."""
        if send(PayloadWork(clear=True)):
            self.queue.cleared()

    def telemetry(self):
        return (("BilledByBoard", self.on_board), ("ItemsQueued", len(self.queue)), ("ItemsDone", self.items_done),
                ("ItemsDropped", self.items_dropped), ("BoardWorkMflop", self.board_units[False]),
                ("BoardWorkKpx", self.board_units[True]), ("HostWorkMflop", self.host_units[False]),
                ("HostWorkKpx", self.host_units[True]), ("BoardResyncs", self.queue.resyncs))


class BoardFeeding:
    """The compute manager's side of the board's queue, mixed into it: its readings, its clock,
    the first job's chunks handed over while compute is allowed."""

    def readingsIn_handler(self, readings: EpsReadings) -> None:  # noqa: N802
        self._readings = readings
        for a in self.work.observe(readings):  # cleared off the board: its energy so far to its job, redone later
            self.runner.drop(a)
            self._bill(self.queue.get(a.job), a.billed_Wh(readings.t))
            a.outcome("dropped")

    def _feed_board(self, t: float, allowed: bool, u: float) -> None:
        """Keep the board's queue full while compute is allowed: the first job's chunks, then those
        of the jobs after it of the same kind (which run at the clock chosen for it, drawing what it
        draws), so the board does not idle at a job's tail; clear it when not allowed (what the
        dropped items drew is billed at the next reading)."""
        jobs = self._next_jobs(t) if allowed else []
        if not allowed and self.runner.attempts:
            self.work.clear(lambda w: self.out("payloadWorkOut", w))
        if not jobs and not self.runner.attempts:
            if self.utilisation != 0.0:
                self._set_utilisation(0.0)
            return
        if jobs:  # the clock at which the first job's kind draws what compute may draw
            u = min(self._thermal.utilisation_cap, KIND_MODELS[jobs[0].spec.kind].clock_for(self._power_W))
        if allowed and self.utilisation != u:
            self._set_utilisation(u)
        if allowed:
            alike = [j for j in jobs if j.spec.kind == jobs[0].spec.kind]
            self.work.fill(lambda: self._next_attempt(alike, t, u), lambda w: self.out("payloadWorkOut", w))

    def _next_attempt(self, jobs: list, t: float, u: float):
        """An attempt at the next chunk not in flight of the first of `jobs` that has one, or None
        when all of theirs are."""
        for job in jobs:
            if job.job_id in self.queue and job.done + self.runner.in_flight(job.job_id) < job.spec.chunks:
                return self._start(job, t, u)
        return None
