"""The neural-network models resident on board, as chunks read them: weights held in
SECDED-protected memory (native/edac.c) with a CRC-32C per layer taken when loaded.

A check scrubs a model and compares every layer with its CRC: EDAC corrects single-bit upsets;
a word it cannot correct, or a CRC that disagrees after the scrub (three or more flips in one
word, which SECDED may "correct" into a wrong value), drops the model, and the next read loads it
again from its source. The compute manager checks a model just before a chunk reads it and again
when the chunk commits, and scrubs the others in the background.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from gridfree.native.crc import crc32c
from gridfree.native.edac import EdacBuffer
from gridfree.protocols.compute import mlp_weights


class ResidentModels:
    def __init__(self, log: Callable[..., None]):
        self.buffers: dict[int, list[EdacBuffer]] = {}  # by model size; what upsets land in
        self._crcs: dict[int, list[int]] = {}
        self._log = log
        self.corrected = self.uncorrectable = self.crc_mismatches = 0

    def weights(self, size: int) -> list[np.ndarray]:
        """The model's weights, checked first (loaded if absent or dropped)."""
        self.check(size)
        if size not in self.buffers:
            self.buffers[size] = [EdacBuffer.protect(w) for w in mlp_weights(size)]
            self._crcs[size] = [crc32c(b.array) for b in self.buffers[size]]
        return [b.array for b in self.buffers[size]]

    def check(self, size: int) -> bool:
        """Scrub a resident model and check its CRCs; True if anything was found."""
        found = False
        for layer, (b, crc) in enumerate(zip(self.buffers.get(size, ()), self._crcs.get(size, ()))):
            report = b.scrub()
            self.corrected += report.corrected
            found = found or not report.clean
            if report.uncorrectable:
                self.uncorrectable += report.uncorrectable
                del self.buffers[size]
                self._log("WeightsReloaded", size=size, word=max(0, report.first_bad_word))
                return True
            if crc32c(b.array) != crc:
                self.crc_mismatches += 1
                del self.buffers[size]
                self._log("ModelCrcMismatch", size=size, layer=layer)
                return True
        return found

    def scrub(self, busy: int | None = None) -> None:
        """Check every resident model but `busy` (the one a chunk is reading: its own checks cover it)."""
        for size in [s for s in self.buffers if s != busy]:
            self.check(size)
