"""The radio: TM packets to frames on the downlink, CLTUs to telecommands on the uplink.

Downlink packets are multiplexed onto virtual channels (realtime housekeeping, events, bulk data)
and the frames are flushed every fast tick, so a report waits at most one tick plus its frame's
share of the link; when there is nothing to send, an idle frame goes out once a second to keep
the ground's frame clock and counters alive. The uplink is read on its own thread: CLTUs become TC
frames, which are checked for our spacecraft and virtual channel and handed, as the octets
received, to the security component (`frameOut`), which checks their SDLS MAC before any command
in them reaches the dispatcher. The radio never opens a TC frame's data itself.

With SDLS on the TM link (`LinkConfig.sdls`, set when the node has keys) every TM frame is sealed
by the `TmProtector` the security component hands in through `tmProtectionIn`; until one arrives,
or if sealing fails (the IV store damaged or spent), frames go out with SPI 0, which the ground
refuses, and `TmUnprotected` says why.

A radio that goes away and comes back (a serial device replugged, the last ground peer gone and a
new one connected) is the link's to find again (protocols/links: reopened with backoff); the radio
reports it: `LinkUp` and `Reopens` in its housekeeping, a `LinkLost` event when the link goes
down and `LinkRestored` when it returns, so the node is never deaf without the ground learning
why and for how long. A TCP radio is down whenever no ground station is connected, which is the
normal state of a satellite out of view: those events are WARNING_LO and ACTIVITY_HI, not alarms.
"""
from __future__ import annotations

import threading

from gridfree.flight.core.component import Component
from gridfree.flight.core.messages import TmProtection, UplinkFrame
from gridfree.flight.core.health import Pong, WatchRequest
from gridfree.flight.core.ports import InPort, OutPort
from gridfree.protocols.config import LinkConfig
from gridfree.protocols.deframing import CltuDecoder
from gridfree.protocols.dictionary import Channel, Command, Event, Field, HousekeepingPacket, Severity
from gridfree.protocols.framing import TmFrameEncoder
from gridfree.protocols.sdls_tm import TmProtector
from gridfree.protocols.links import Link, LinkReader, Protocol, open_link


class _Uplink(Protocol):
    def __init__(self, radio: "Radio"):
        self.radio = radio

    def data_received(self, data: bytes) -> None:
        self.radio.uplink(data)


class Radio(Component):
    channels = (
        Channel(1, "FramesOk", "u32", description="Uplink TC frames accepted"),
        Channel(2, "FramesBad", "u32", description="Uplink TC frames rejected (FECF, length, SCID, VC)"),
        Channel(3, "BitsCorrected", "u32", description="BCH single-bit corrections in CLTUs"),
        Channel(4, "TmFrames", "u32", description="Downlink TM frames sent"),
        Channel(5, "TmBytesOut", "u64", "B", "Octets written to the downlink"),
        Channel(6, "DroppedWrites", "u32", description="Downlink writes lost (no ground peer)"),
        Channel(7, "LinkErrors", "u32", description="Transport errors on the radio link"),
        Channel(8, "LinkUp", "bool", description="The radio link is up: its device is open, or a ground peer is "
                                                 "connected to its TCP port"),
        Channel(9, "Reopens", "u32", description="Times the radio link came back after it was lost (device "
                                                 "reopened, ground peer reconnected)"),
        Channel(10, "LinkLosses", "u32", description="Times the radio link went down (device gone, last ground "
                                                     "peer gone)"),
        Channel(11, "GroundPeers", "u16", description="Ground stations connected to a TCP radio now"),
        Channel(12, "PeersRefused", "u32", description="Ground stations a TCP radio turned away (too many at once)"),
        Channel(13, "TmAuthenticated", "u32", description="Downlink TM frames sealed with SDLS under the TM SA"),
        Channel(14, "TmUnprotected", "u32", description="Downlink TM frames of an SDLS link sent without an SA "
                                                        "(SPI 0, which the ground refuses)"),
    )
    events = (
        Event(1, "LinkLost", Severity.WARNING_LO, "radio link lost: {reason}", (Field("reason", "string[48]"),)),
        Event(2, "LinkRestored", Severity.ACTIVITY_HI, "radio link restored after {down_s} s (reopen {reopens})",
              (Field("down_s", "u32"), Field("reopens", "u32"))),
        Event(3, "TmUnprotected", Severity.WARNING_HI, "TM frames go out unauthenticated: {reason}",
              (Field("reason", "string[64]"),)),
        Event(4, "TmProtected", Severity.ACTIVITY_HI, "TM frames authenticated under SPI {spi}",
              (Field("spi", "u16"),)),
    )
    commands = (
        Command("InjectHang", opcode=0x01, hazardous=True,
                description="Fault injection for test benches: the uplink thread blocks on its next data, "
                            "so health monitoring must find it and restart it"),
    )
    ports = (
        OutPort("frameOut", UplinkFrame, "uplinked TC frames for our spacecraft and VC, as received, to the "
                                         "security component"),
        InPort("tmProtectionIn", TmProtection, "the SDLS protection for TM frames from now on (None: none)"),
        OutPort("watchOut", WatchRequest, "the uplink thread, for health monitoring"),
        OutPort("pongOut", Pong, "the uplink thread's answers to health pings"),
    )
    housekeeping = (
        HousekeepingPacket(1, "Link", ("FramesOk", "FramesBad", "BitsCorrected", "TmFrames", "TmBytesOut",
                                       "DroppedWrites", "LinkErrors", "LinkUp", "Reopens", "LinkLosses",
                                       "GroundPeers", "PeersRefused", "TmAuthenticated", "TmUnprotected"), 1.0,
                           "Radio link statistics"),
    )

    def __init__(self, name: str, id_base: int, *, url: str, link_config: LinkConfig = LinkConfig()):
        super().__init__(name, id_base)
        self.url, self.link_config = url, link_config
        self.encoder = TmFrameEncoder(link_config)
        self.cltu = CltuDecoder()
        self.link: Link | None = None
        self.reader: LinkReader | None = None
        self.frames_ok = self.frames_bad = 0
        self._lock = threading.Lock()
        self._sent_since_idle = True
        self._hang = threading.Event()
        self._release = threading.Event()
        self._losses_seen = 0  # link losses already reported by an event
        self._down_since: float | None = None  # node time the link was lost, while it is down
        self._tm_problem: str | None = None  # why TM frames go out unprotected, once reported
        self._unprotected_seen = 0

    def open(self) -> Link:
        self.link = open_link(self.url)
        self._start_reader()
        self.out("watchOut", WatchRequest(self.name, self._ping, self._restart_reader, timeout_s=3.0))
        return self.link

    def _start_reader(self) -> None:
        self.reader = LinkReader(self.link, _Uplink(self), name="radio-uplink")
        self.reader.start()

    def _ping(self, key: int) -> None:
        self.reader.call_soon(lambda: self.out("pongOut", Pong(self.name, key)))

    def _restart_reader(self) -> None:
        """Abandon a stuck uplink thread (it exits if it ever wakes) and read on a new one."""
        self.reader.stop(timeout=0)
        self._start_reader()

    def cmd_InjectHang(self) -> None:
        self._hang.set()

    def tmProtectionIn_handler(self, protection: TmProtection) -> None:  # noqa: N802 - port handler name
        p = protection.protector
        if p is not None and not isinstance(p, TmProtector):
            raise TypeError(f"tmProtectionIn takes a TmProtector or None, got {type(p).__name__}")
        with self._lock:
            self.encoder.protector = p
        if p is not None and not self.link_config.sdls:
            self._tm_report("TM SA set, but link sdls = false: no SDLS fields in TM frames")
        elif p is not None:
            self._tm_problem = None
            self.log("TmProtected", spi=p.sa.spi)

    def _tm_report(self, reason: str) -> None:
        """The event for TM frames going out unauthenticated, once per reason."""
        if reason != self._tm_problem:
            self._tm_problem = reason
            self.log("TmUnprotected", reason=reason)

    def schedule(self):
        return {"fast": [self.flush], "slow": [self.keepalive]}

    # ---- downlink ---------------------------------------------------------------------------
    def sink(self, vc: int, packet: bytes) -> None:
        with self._lock:
            self._write(self.encoder.add_packet(vc, packet))

    def flush(self, _t: float = 0.0) -> None:
        with self._lock:
            self._write(self.encoder.flush_all())
        self.tlm("TmFrames", self.encoder.frames_out)
        self.tlm("FramesOk", self.frames_ok)
        self.tlm("FramesBad", self.frames_bad)
        self.tlm("BitsCorrected", self.cltu.stats.bits_corrected)
        self.tlm("TmAuthenticated", self.encoder.authenticated)
        self.tlm("TmUnprotected", self.encoder.unprotected)
        if self.encoder.unprotected > self._unprotected_seen:
            self._unprotected_seen = self.encoder.unprotected
            self._tm_report(self.encoder.protect_error)
        if self.link is not None:
            stats = self.link.stats
            self.tlm("TmBytesOut", stats.bytes_out)
            self.tlm("DroppedWrites", stats.dropped_writes)
            self.tlm("LinkErrors", stats.errors)
            self.tlm("LinkUp", stats.connected)
            self.tlm("Reopens", stats.reconnects)
            self.tlm("LinkLosses", stats.losses)
            self.tlm("GroundPeers", getattr(self.link, "peers", int(stats.connected)))
            self.tlm("PeersRefused", stats.refused_peers)
            self._report_link(_t, stats.connected, stats.losses)

    def _report_link(self, t: float, up: bool, losses: int) -> None:
        """An event when the link goes down (each loss the link counted, even one that came back
        between two ticks) and one when it is up again."""
        if losses > self._losses_seen:
            self._losses_seen = losses
            if self._down_since is None:
                self._down_since = t
                reason = self.link.down_reason or self.link.last_error or "unknown"
                self.log("LinkLost", reason=reason)
        if up and self._down_since is not None:
            down_s = max(0, int(round(t - self._down_since)))
            self._down_since = None
            self.log("LinkRestored", down_s=min(down_s, 0xFFFFFFFF), reopens=self.link.stats.reconnects)

    def keepalive(self, _t: float = 0.0) -> None:
        with self._lock:
            if not self._sent_since_idle:
                self._write([self.encoder.idle_frame()])
            self._sent_since_idle = False

    def _write(self, frames: list[bytes]) -> None:
        if frames and self.link is not None:
            self.link.write(b"".join(frames))
            self._sent_since_idle = True

    # ---- uplink (reader thread) ---------------------------------------------------------------
    def uplink(self, data: bytes) -> None:
        if self._hang.is_set():
            self._hang.clear()
            self._release.wait()  # the injected fault: blocks until the node stops
            return
        before_bad = self.cltu.stats.frames_bad
        for frame, raw in self.cltu.feed_raw(data):
            if frame.scid != self.link_config.spacecraft_id or frame.vcid != self.link_config.tc_virtual_channel:
                self.frames_bad += 1
                continue
            self.frames_ok += 1
            self.out("frameOut", UplinkFrame(raw))
        self.frames_bad += self.cltu.stats.frames_bad - before_bad

    def stop(self) -> None:
        self._release.set()
        if self.reader is not None:
            self.reader.stop()
        with self._lock:
            if self.link is not None:
                self._write(self.encoder.flush_all())
                self.link.close()
