"""Lockstep time from outside the process: the HIL rig (or a test) steps the node over a link.

The protocol is as small as it can be: the driver sends an 8-octet big-endian IEEE-754 double,
the onboard time to advance to; the node runs every rate-group tick due up to then and answers
with the same 8 octets once it has. The driver therefore always knows the node has caught up
before it moves the environment on, which is what makes a lockstep run repeatable.
"""
from __future__ import annotations

import struct

from gridfree.protocols.links import Protocol

STEP = struct.Struct(">d")


class ClockDriver(Protocol):
    def __init__(self, step_to, reply):
        self.step_to, self.reply = step_to, reply
        self._buf = bytearray()
        self.steps = 0
        self.rejected = 0

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while len(self._buf) >= STEP.size:
            raw = bytes(self._buf[:STEP.size])
            del self._buf[:STEP.size]
            (t,) = STEP.unpack(raw)
            if t != t or t in (float("inf"), float("-inf")):
                self.rejected += 1
                continue
            try:
                self.step_to(t)
            except ValueError:  # backwards in time: refused, and the driver is told by silence
                self.rejected += 1
                continue
            self.steps += 1
            self.reply(raw)
