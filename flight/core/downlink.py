"""Telemetry packets out: PUS-C TM headers, sequence and message counters, onboard time.

The node's one APID counts its packets (14-bit sequence count) and each service its messages
(16-bit message type counter), as ECSS-E-ST-70-41C asks, so the ground can tell a lost packet from
a late one. Where the packets go (radio frames, a test's list) is the sink's business.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from typing import Callable

from gridfree.flight.core.clock import Clock
from gridfree.protocols.pus import CucTime, PusTm

VC_REALTIME, VC_EVENTS, VC_BULK = 0, 1, 2


class Downlink:
    def __init__(self, apid: int, clock: Clock, sink: Callable[[int, bytes], None]):
        self.apid, self.clock, self.sink = apid, clock, sink
        self._seq = 0
        self._counters: dict[int, int] = defaultdict(int)
        self._lock = threading.Lock()
        self.packets_out = 0

    def send(self, service: int, subtype: int, data: bytes = b"", vc: int = VC_REALTIME) -> bytes:
        with self._lock:
            packet = PusTm(apid=self.apid, service=service, subtype=subtype, app_data=data, seq_count=self._seq,
                           msg_counter=self._counters[service], time=CucTime.from_unix(self.clock.now())).pack()
            self._seq = (self._seq + 1) & 0x3FFF
            self._counters[service] = (self._counters[service] + 1) & 0xFFFF
            self.packets_out += 1
        self.sink(vc, packet)
        return packet
