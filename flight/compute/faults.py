"""Upset injection for the compute payload (issue 9): bit flips where radiation puts them, at rates
a test campaign sets, so that every protection is exercised on the running node and a result that
would come down wrong shows in the ground's own check of it.

Four targets, each with its own rate:

- inputs: the operands a chunk reads (A and B, the samples, the tiles), hit after the chunk has
  taken their CRC-32C;
- intermediates: what a chunk makes on the way, at one of its sites (flight/compute/jobs.py,
  `SITES`) chosen at random: a product, inside `abft_matmul` through its `inject` hook before it
  is checked, or the output of an elementwise step (activations, cloud fractions);
- weights: the resident models' stored codewords, data words and check bytes alike, as an upset
  in DRAM leaves them, to be met by a scrub or by the chunk's read-path check;
- checkpoints: bits of a job's `.ckpt` file on disk, to be met by its CRC-32C when the job resumes.

A rate is a Poisson mean, per chunk or per second. Per chunk: inputs and intermediates per attempt
at a chunk; weights per attempt, landing in every resident model just before the chunk checks and
reads its own (what a model collects while it waits between chunks); checkpoints per checkpoint
written. Per second of node time: inputs and intermediates over the chunk's time on the payload;
weights and checkpoints at every tick, whatever is running, so a hit may land while a chunk reads
the model.

The bits of one batch of upsets are distinct (two hits on one bit would undo each other and test
nothing). Every draw comes from a generator keyed by the seed and a serial number (of the attempt,
the checkpoint, the tick), never from the order threads ran in, so a lockstep campaign replays
exactly. All rates zero, the default, draws nothing and touches nothing.
"""
from __future__ import annotations

import math
import os
from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import numpy as np

from gridfree.flight.compute.abft import Inject
from gridfree.native.edac import WORD_OCTETS, EdacBuffer

EXPOSURES_KEPT = 4096
MAX_RATE = 1000.0
_CHECK_BITS = 8  # one check byte per 64-bit word: a codeword is 72 bits
_ATTEMPT, _CHECKPOINT, _TICK = 1, 2, 3  # generator streams


class Target(IntEnum):
    INPUTS = 0
    INTERMEDIATES = 1
    WEIGHTS = 2
    CHECKPOINTS = 3


class Basis(IntEnum):
    CHUNK = 0
    SECOND = 1


@dataclass(frozen=True)
class UpsetRates:
    """Mean upsets per chunk or per second (`basis`), by target."""

    inputs: float = 0.0
    intermediates: float = 0.0
    weights: float = 0.0
    checkpoints: float = 0.0
    basis: Basis = Basis.CHUNK

    def __post_init__(self):
        for t in Target:
            rate = self.of(t)
            if not (isinstance(rate, (int, float)) and math.isfinite(rate) and 0.0 <= rate <= MAX_RATE):
                raise ValueError(f"upset rate for {t.name.lower()} must be 0..{MAX_RATE:g}, got {rate!r}")
        object.__setattr__(self, "basis", Basis(self.basis))

    def of(self, target: Target) -> float:
        return getattr(self, target.name.lower())

    @property
    def off(self) -> bool:
        return not any(self.of(t) for t in Target)


@dataclass
class Exposure:
    """What one attempt at a chunk met, and what became of it: the campaign's own record, which a
    test bench holds against the node's counters."""

    job: int
    chunk: int
    serial: int
    hits: list[tuple[Target, str]] = field(default_factory=list)  # (target, where) per upset
    outcome: str = ""  # "committed", or the check that threw the attempt away

    def hit(self, target: Target, where: str = "") -> bool:
        return any(t == target and where in w for t, w in self.hits)


def _flip(array: np.ndarray, bit: int) -> None:
    """Flip bit `bit` of the memory of `array`'s elements laid end to end (8 per octet, in address
    order): a view's own elements, never what lies between them."""
    item_bits = 8 * array.itemsize
    where = np.unravel_index(bit // item_bits, array.shape)
    octets = array[tuple(slice(i, i + 1) for i in where)].view(np.uint8).reshape(-1)
    octets[bit % item_bits // 8] ^= np.uint8(1 << (bit % 8))


def _distinct(rng: np.random.Generator, population: int, n: int) -> np.ndarray:
    return rng.choice(population, size=min(n, population), replace=False) if population and n else np.empty(0, int)


def _scatter(rng: np.random.Generator, sizes: list[int], n: int):
    """`n` distinct bits drawn uniformly over pieces of `sizes` bits laid end to end, each as
    (piece, bit within it)."""
    ends = np.cumsum(sizes)
    for bit in _distinct(rng, int(ends[-1]) if len(ends) else 0, n):
        k = int(np.searchsorted(ends, bit, side="right"))
        yield k, int(bit - (ends[k - 1] if k else 0))


def flip_bits(rng: np.random.Generator, arrays: list[np.ndarray], n: int) -> list[int]:
    """Flip `n` distinct bits chosen uniformly over all of `arrays`, in place; how many landed in each."""
    if not all(a.flags.writeable for a in arrays):
        raise ValueError("upsets land in memory as it lies: the arrays must be writable")
    landed = [0] * len(arrays)
    for k, local in _scatter(rng, [8 * a.nbytes for a in arrays], n):
        _flip(arrays[k], local)
        landed[k] += 1
    return landed


def flip_codeword_bits(rng: np.random.Generator, buffers: list[EdacBuffer], n: int) -> int:
    """Flip `n` distinct bits of the stored codewords of `buffers` (72 per word: 64 data bits and
    the word's check byte), where radiation would flip them; how many were flipped."""
    flipped = 0
    for k, local in _scatter(rng, [b.nwords * (8 * WORD_OCTETS + _CHECK_BITS) for b in buffers], n):
        data_bits = 8 * WORD_OCTETS * buffers[k].nwords
        if local < data_bits:
            buffers[k].flip_bit(local)
        else:
            buffers[k].flip_bit(local - data_bits, in_check=True)
        flipped += 1
    return flipped


def flip_file_bits(rng: np.random.Generator, path: Path, n: int) -> int:
    """Flip `n` distinct bits of a file in place (no rename, no fsync: the medium itself changed)."""
    try:
        data = bytearray(Path(path).read_bytes())
    except FileNotFoundError:
        return 0
    bits = _distinct(rng, 8 * len(data), n)
    for bit in bits:
        data[bit // 8] ^= 1 << (bit % 8)
    if len(bits):
        fd = os.open(path, os.O_WRONLY)
        try:
            os.pwrite(fd, bytes(data), 0)
        finally:
            os.close(fd)
    return len(bits)


class ChunkUpsets:
    """The upsets one attempt at a chunk meets, drawn when it starts and applied by the chunk's own
    code at its sites (flight/compute/jobs.py), on the worker thread."""

    def __init__(self, injector: "UpsetInjector", rng: np.random.Generator, inputs: int, intermediates: int,
                 sites: tuple[str, ...], exposure: Exposure):
        self._injector, self._rng, self.exposure = injector, rng, exposure
        self._inputs = inputs
        self._at: dict[str, int] = {}
        for k in rng.integers(0, len(sites), intermediates) if sites else ():
            self._at[sites[k]] = self._at.get(sites[k], 0) + 1

    def _count(self, target: Target, where: str, n: int) -> None:
        self._injector.injected[target] += n
        self.exposure.hits.extend([(target, where)] * n)

    def weights(self, models: dict[int, list[EdacBuffer]], rate: float) -> None:
        """Chunk basis: the upsets the resident models collected since the last chunk."""
        buffers = [b for size in sorted(models) for b in models[size]]
        n = flip_codeword_bits(self._rng, buffers, int(self._rng.poisson(rate)))
        self._count(Target.WEIGHTS, "model", n)

    def inputs(self, *arrays: np.ndarray) -> None:
        """This attempt's input upsets, spread over `arrays` by size (their checksums already taken)."""
        landed = flip_bits(self._rng, list(arrays), self._inputs)
        self._inputs = 0
        for k, n in enumerate(landed):
            self._count(Target.INPUTS, f"input {k}", n)

    def at(self, site: str, array: np.ndarray) -> None:
        """The intermediate upsets drawn for `site`, into `array` in place."""
        n = self._at.pop(site, 0)
        if n:
            self._count(Target.INTERMEDIATES, site, sum(flip_bits(self._rng, [array], n)))

    def product(self, site: str) -> Inject | None:
        """The `abft_matmul` hook for the product at `site`: its upsets land in the framed product
        (its checksum column included) before it is checked, in the first computation only; None
        when this product is not hit."""
        if not self._at.get(site):
            return None

        def inject(stage: str, array: np.ndarray, attempt: int) -> None:
            if stage == "product" and attempt == 0:
                self.at(site, array)
        return inject


class UpsetInjector:
    """The node's upset campaign: rates set by `compute.SetUpsetRates`, counts of what was injected
    per target for telemetry, and the record of the last EXPOSURES_KEPT chunk attempts."""

    def __init__(self):
        self.rates = UpsetRates()
        self.seed = 0
        self.injected = {t: 0 for t in Target}
        self.exposures: deque[Exposure] = deque(maxlen=EXPOSURES_KEPT)
        self._serials = {_ATTEMPT: 0, _CHECKPOINT: 0, _TICK: 0}
        self._last_tick: float | None = None

    def set_rates(self, rates: UpsetRates, seed: int = 0) -> None:
        """New rates from now on; the generator streams start again from `seed`."""
        self.rates, self.seed = rates, int(seed)
        self._serials = dict.fromkeys(self._serials, 0)
        self._last_tick = None

    def _rng(self, stream: int) -> np.random.Generator:
        self._serials[stream] += 1
        return np.random.default_rng([self.seed, stream, self._serials[stream]])

    def chunk(self, job: int, chunk: int, duration_s: float, sites: tuple[str, ...]) -> ChunkUpsets | None:
        """The upsets of an attempt at a chunk that will spend `duration_s` on the payload; None
        when no target a chunk meets is being hit."""
        r = self.rates
        per_chunk = r.basis is Basis.CHUNK
        if not (r.inputs or r.intermediates or (per_chunk and r.weights)):
            return None
        exposure = 1.0 if per_chunk else max(0.0, duration_s)
        rng = self._rng(_ATTEMPT)
        record = Exposure(job, chunk, self._serials[_ATTEMPT])
        self.exposures.append(record)
        return ChunkUpsets(self, rng, int(rng.poisson(r.inputs * exposure)),
                           int(rng.poisson(r.intermediates * exposure)), sites, record)

    def checkpoint_written(self, path: Path) -> None:
        """Chunk basis: the upsets a checkpoint meets on disk before the job resumes from it."""
        if self.rates.basis is Basis.CHUNK and self.rates.checkpoints:
            rng = self._rng(_CHECKPOINT)
            self.injected[Target.CHECKPOINTS] += flip_file_bits(rng, path, int(rng.poisson(self.rates.checkpoints)))

    def tick(self, t: float, models: dict[int, list[EdacBuffer]], checkpoints: list[Path]) -> None:
        """Per-second basis: what resident models and checkpoint files met since the last tick."""
        r = self.rates
        dt = 0.0 if self._last_tick is None else max(0.0, t - self._last_tick)
        self._last_tick = t
        if r.basis is not Basis.SECOND or not (r.weights or r.checkpoints) or dt == 0.0:
            return
        rng = self._rng(_TICK)
        buffers = [b for size in sorted(models) for b in models[size]]
        self.injected[Target.WEIGHTS] += flip_codeword_bits(rng, buffers, int(rng.poisson(r.weights * dt)))
        for path in sorted(checkpoints):
            self.injected[Target.CHECKPOINTS] += flip_file_bits(rng, path, int(rng.poisson(r.checkpoints * dt)))
