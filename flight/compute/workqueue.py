"""The node's copy of the payload board's item queue: which items the board holds, which it has
done, and the energy it drew for each, from its registers (protocols/registers.py, 0x0040-0x0047).

The board numbers items itself: an item is enqueued by writing the number after the last one it
accepted, so a write repeated after a line error can never enqueue twice, and the node learns
whether an item went in by reading `accepted` back. Sequence numbers run 1 .. 2^32-1 and then 1
again (0 means "none yet"), so they are compared modulo 2^32-1.

The board's busy-energy counter (mJ, modulo 2^32) advances only while an item executes and is
latched when an item completes, so an item's energy is the difference between two latched values:
(done_energy(k) - done_energy(k-1)) mod 2^32. When several items completed between two reads the
difference is split among them by their declared cost. A cleared queue (a shed, a throttle, the
payload switched off, a failed check) drops the running item part-way: its energy so far is the
live counter after the clear minus the last latched value, billed to the item that was running.
Everything the board drew is billed to some item: the sum of what this module reports equals the
counter's advance, which is what the rig's truth measures.

After a reboot of the flight software (or a board that answers with numbers this copy cannot
explain, such as a board restarted under it) the board may hold items nobody remembers: the queue
is cleared and the counters read afresh before anything is submitted.

The torn-read rule (done, done_energy, done again) is the driver's (hardware/rig.py): what comes
here is either a consistent (done, done_energy) pair or None.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from gridfree.flight.hardware.interfaces import ItemRegisters

SEQ_MOD = 0xFFFFFFFF  # sequence numbers 1 .. 2^32-1, then 1 again; 0 is "none yet" (== 2^32-1 modulo this)
ENERGY_MOD = 1 << 32  # the energy counters, mJ


def next_seq(seq: int) -> int:
    """The number the board gives the item after `seq`."""
    return seq % SEQ_MOD + 1


def seq_ahead(a: int, b: int) -> int:
    """How many items `b` is after `a`."""
    return (b - a) % SEQ_MOD


def energy_mJ(before: int, after: int) -> int:
    """What a counter advanced from `before` to `after`, through a wrap."""
    return (after - before) % ENERGY_MOD


@dataclass
class BoardItem:
    """An item the node handed (or is handing) the board; `tag` is the caller's (its attempt)."""

    seq: int
    kind: int
    work_M: float
    tag: object = None
    accepted: bool = False  # the board has it (its `accepted` reached `seq`)


class Fate(Enum):
    DONE = "done"  # the board ran it to its end
    DROPPED = "dropped"  # cleared before its end (or lost with a board restarted under it)


@dataclass(frozen=True)
class Outcome:
    item: BoardItem
    fate: Fate
    energy_J: float


class Sync(Enum):
    UNKNOWN = "unknown"  # nothing read yet since boot: the board may hold items from before
    CLEARING = "clearing"  # a clear asked for: waiting for the reading after it
    SYNCED = "synced"


@dataclass
class BoardQueue:
    """What the node knows the board holds. `observe` each reading (in the order they were made),
    `take` items to submit, `cleared` after the board confirmed a clear."""

    items: deque[BoardItem] = field(default_factory=deque)  # in seq order, oldest first
    sync: Sync = Sync.UNKNOWN
    done: int = 0  # the last item done that was accounted for
    energy_mJ: int = 0  # the counter's value up to which energy has been billed
    resyncs: int = 0  # clears asked for because the board's numbers could not be explained
    torn_reads: int = 0  # readings without a consistent (done, energy) pair
    _next: int = 0  # the number the next new item gets

    @property
    def ready(self) -> bool:
        """New items may be submitted (the board's numbers are known and no clear is pending)."""
        return self.sync is Sync.SYNCED

    @property
    def needs_clear(self) -> bool:
        return self.sync is Sync.UNKNOWN

    def __len__(self) -> int:
        return len(self.items)

    def add(self, kind: int, work_M: float, tag: object = None) -> BoardItem:
        """A new item, numbered after the last: to be submitted (`unaccepted`) until the board has it."""
        item = BoardItem(self._next, kind, work_M, tag)
        self._next = next_seq(self._next)
        self.items.append(item)
        return item

    def unaccepted(self) -> BoardItem | None:
        """The first item the board has not taken yet: the only one a submit can enqueue now."""
        return next((i for i in self.items if not i.accepted), None)

    def accepted(self, item: BoardItem) -> None:
        """The driver read `accepted` back equal to the item's number."""
        item.accepted = True

    def cleared(self) -> None:
        """The board confirmed a clear: whatever it held is dropped; what it drew for the running
        item is known from the first reading after this one."""
        self.sync = Sync.CLEARING

    def observe(self, r: ItemRegisters, payload_on: bool | None = True) -> list[Outcome]:
        """What became of the items since the last reading. `payload_on` False: the switch is off,
        and the board cleared its queue with it."""
        if self.sync is not Sync.SYNCED or payload_on is False:
            return self._after_clear(r)
        if r.accepted is None or r.done is None or r.done_energy_mJ is None:
            self.torn_reads += r.accepted is not None  # a line error is the driver's to count
            return []
        ahead = seq_ahead(self.done, r.accepted)  # items the board holds or has done since the last reading
        finished = seq_ahead(self.done, r.done)
        taken = sum(i.accepted for i in self.items)
        if not taken <= ahead <= len(self.items) or finished > ahead:  # numbers this copy cannot explain
            return self._lost()
        for item in self.items:
            if seq_ahead(self.done, item.seq) <= ahead:
                item.accepted = True
        if finished == 0:
            return []
        done = [self.items.popleft() for _ in range(finished)]
        total_mJ = energy_mJ(self.energy_mJ, r.done_energy_mJ)
        self.done, self.energy_mJ = r.done, r.done_energy_mJ
        cost = sum(i.work_M for i in done)
        return [Outcome(i, Fate.DONE, total_mJ / 1e3 * (i.work_M / cost if cost > 0 else 1 / len(done)))
                for i in done]

    def _after_clear(self, r: ItemRegisters) -> list[Outcome]:
        """The board holds nothing now (a clear, the switch off, or a boot): what it drew since the
        last latched value goes to the item that was running; the counters are the new baseline."""
        if r.accepted is None or r.busy_energy_mJ is None or (r.done is not None and r.done != r.accepted):
            return []  # not read, or the clear not seen yet: the next reading
        outcomes = []
        if self.sync is not Sync.UNKNOWN and self.items:
            spent_J = energy_mJ(self.energy_mJ, r.busy_energy_mJ) / 1e3
            outcomes = [Outcome(i, Fate.DROPPED, spent_J if n == 0 else 0.0) for n, i in enumerate(self.items)]
        self.items.clear()
        self.done = r.accepted
        self._next = next_seq(r.accepted)
        self.energy_mJ = r.busy_energy_mJ
        self.sync = Sync.SYNCED
        return outcomes

    def _lost(self) -> list[Outcome]:
        """The board's numbers do not follow from what was handed to it (a board restarted, a
        second writer): every item is dropped unbilled (what the board drew for them cannot be
        known) and the queue is cleared and read afresh."""
        outcomes = [Outcome(i, Fate.DROPPED, 0.0) for i in self.items]
        self.items.clear()
        self.resyncs += 1
        self.sync = Sync.UNKNOWN
        return outcomes
