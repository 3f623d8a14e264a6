"""The ground's client of a node: a live link's telemetry decoded, commands sent and followed.

Bytes from the link go to the shared sans-IO decoder (`Downlink`, `Decoder`), with the
dictionary the ground loaded; the client never imports flight code. Commands are sent by
dictionary name with typed, range-checked arguments, as PUS TCs in TC frames in CLTUs, and each
gets a `CommandHandle` that follows its PUS 1 reports (accepted, started, completed, or failed
with a reason) as they arrive.

The link comes back by itself (a TCP client reconnects, a serial line is reopened, with backoff);
`connection` says where it stands, `link_problem` why it is down in one line ("cannot connect
to 127.0.0.1:5100: Connection refused"), and `wait_connected` lets a tool find out at once that
nothing listens instead of waiting for telemetry that will never come.

With a `GroundSecurity` (the ground's keystore, `gridfree keys init`) every TC frame is an SDLS
frame under the security's TC SA, one TC packet per frame, each with the next IV of the SA's
crash-safe counter; TM frames are verified when the keystore has a TM SA; every command is
written to the ground audit (audit.py) before its bytes go out. Without one the frames are plain
(only a node run with --insecure takes them) and `security_note` says so; the client logs it once.
Hazardous commands can be sent with `arm=True`: node.Arm through the same SA right before them.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import replace
from typing import Any

from gridfree.ground.link.audit import AuditError, GroundAudit
from gridfree.ground.link.commands import CommandHandle, CommandTracker, UplinkError, WriteWatch
from gridfree.ground.link.downlink import Downlink
from gridfree.ground.link.records import EventRecord, PacketRecord, Sample, TransferRecord
from gridfree.protocols import sdls
from gridfree.protocols.config import LinkConfig, LinkConfigError
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.framing import TcFrameEncoder, encode_cltu
from gridfree.protocols.links import LinkReader, Protocol, open_link
from gridfree.protocols.pus import PEC_LEN, TC_SEC_HEADER_LEN, AckFlags
from gridfree.protocols.services import largedata as pus13
from gridfree.protocols.services import parameters as pus20
from gridfree.protocols.services import schedule as pus11
from gridfree.protocols.services.verification import VerificationReport
from gridfree.protocols.spacepacket import PRIMARY_HEADER_LEN

# The records and the handle are also importable from here, where scripts and the rig's tests
# have always found them.
__all__ = ["GroundClient", "CommandHandle", "UplinkError", "Sample", "PacketRecord", "EventRecord",
           "TransferRecord"]

UPLINK_COMMANDS = {pus13.Subtype.UPLINK_FIRST_PART: "lds.UplinkFirstPart",
                   pus13.Subtype.UPLINK_INTERMEDIATE_PART: "lds.UplinkIntermediatePart",
                   pus13.Subtype.UPLINK_LAST_PART: "lds.UplinkLastPart"}
#: How long the node.Arm sent before a hazardous command (arm=True) keeps the node armed.
ARM_WINDOW_S = 10
ARM_COMMAND = "node.Arm"
INSECURE_NOTE = ("unauthenticated link: commands go in plain TC frames and telemetry is not verified; "
                 "only a node run with --insecure accepts them (give the key directory to authenticate)")

log = logging.getLogger(__name__)


class GroundClient(Downlink, Protocol):
    """A `TelemetrySource` on a live link, which can command."""

    can_command = True
    can_arm = True  # send(..., arm=True) sends node.Arm through the same SA before a hazardous command
    replay = None  # a live link has no replay controls

    def __init__(self, url: str, dictionary: Dictionary, apid: int = 100, link_config: LinkConfig = LinkConfig(),
                 source_id: int = 1, security: Any = None, audit: GroundAudit | None = None):
        """`security`: a ground.keys.session.GroundSecurity, or None for an unauthenticated link.
        `audit`: where sent commands are recorded; by default KEYDIR/audit.jsonl with security,
        none without (AuditError, an OSError, if that file cannot be written)."""
        self.security = security
        tm_sa = getattr(security, "tm_sa", None)
        # A node with keys seals its TM frames whether or not this ground holds the TM key (a
        # tenant does not: it could forge the operator's telemetry with it); it reads them unchecked.
        super().__init__(url, dictionary, replace(link_config, sdls=link_config.sdls or security is not None))
        if tm_sa is not None:
            self.authenticate_tm(tm_sa)  # no frame is decoded before every one is checked
        self.apid, self.source_id = apid, source_id
        self.encoder = TcFrameEncoder(replace(link_config, sdls=False))  # plain frames; SDLS ones are made here
        #: The most octets of TC packet one frame carries (the SDLS header and MAC take their share).
        self.tc_data_octets = min(link_config.tc_max_data_octets, sdls.MAX_DATA_OCTETS)
        if audit is None and security is not None:
            audit = GroundAudit.for_security(security)
        self.audit = audit
        self.audit_errors = 0  # outcome lines the audit could not write (reported on the reader thread)
        self._send_lock = threading.Lock()  # one frame at a time: IVs go out in the order they were drawn
        self._noted_insecure = False
        self.commands = CommandTracker(apid, source_id)
        self.uplinks: dict[int, list[CommandHandle]] = {}  # transaction -> its parts' handles
        self._next_uplink = random.randrange(1, 0x10000)
        self.link = None
        self.reader: LinkReader | None = None

    # ---- connection ---------------------------------------------------------------------------
    def connect(self) -> "GroundClient":
        self.link = open_link(self.url)
        self.reader = LinkReader(self.link, self, name="ground-downlink")
        self.reader.start()
        return self

    def close(self) -> None:
        if self.reader is not None:
            self.reader.stop()
        if self.link is not None:
            self.link.close()

    @property
    def connection(self) -> str:
        """One line for a status bar: connected (and how often the link came back) or why not."""
        stats = getattr(self.link, "stats", None)
        if not hasattr(stats, "connected"):
            return "—"
        if stats.connected:
            back = getattr(stats, "reconnects", 0)
            return f"connected to {self.url}" + (f" (back {back}× after losing it)" if back else "")
        problem = self.link_problem
        return f"not connected: {problem}" if problem else f"no peer at {self.url}"

    @property
    def link_problem(self) -> str | None:
        """Why the link is down now, in one line an operator can act on, or None while it is up
        (and before `connect()`): e.g. "cannot connect to 127.0.0.1:5100: Connection refused",
        "device /dev/ttyUSB0 away (No such file or directory); retrying in 0.8 s"."""
        link = self.link
        if link is None or getattr(link.stats, "connected", True):
            return None
        if link.closed:
            return f"the link to {self.url} is closed"
        return link.down_reason or link.last_error or f"nothing connected at {self.url} yet"

    def wait_connected(self, timeout_s: float) -> bool:
        """True as soon as the link is up; False if it is still down after `timeout_s` seconds
        (then `link_problem` says why). A TCP client tries at once and then with backoff, so a
        refused connection is known within the first attempt."""
        deadline, tick = time.monotonic() + timeout_s, threading.Event()
        while self.link is not None and not self.link.closed:
            if self.link.stats.connected:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            tick.wait(min(0.02, left))
        return False

    @property
    def link_stats(self) -> dict:
        """The link's counters (bytes, drops, losses, reconnects, ...) with the decoder's frame
        counts as `tm.<name>`, for a status line or a log."""
        if self.link is None:
            return {}
        return self.link.stats.snapshot(tm=self.stats)

    @property
    def reader_errors(self) -> int:
        return self.reader.protocol_errors if self.reader is not None else 0

    # ---- security ---------------------------------------------------------------------------------
    @property
    def authenticated(self) -> bool:
        return self.security is not None

    @property
    def security_note(self) -> str:
        """One line: the SA commands go through, or that the link is unauthenticated."""
        if self.security is None:
            return INSECURE_NOTE
        tm = "telemetry verified" if self.security.tm_sa is not None else "telemetry not verified (no TM SA)"
        return f"authenticated through {self.security.origin_text}; {tm}"

    def warn_if_insecure(self) -> None:
        """Log INSECURE_NOTE once, if this client has no keys: the tools call it once the link is
        up (a link that never came up has a better line to say), the client at its first command."""
        if self.security is None and not self._noted_insecure:
            self._noted_insecure = True
            log.warning("warning: %s: %s", self.url, INSECURE_NOTE)

    def _verification(self, report: VerificationReport) -> None:
        handle = self.commands.find(report)
        if handle is None:
            return
        if self.audit is not None:  # on file before the handle moves on: whoever waits on it finds the line
            try:
                self.audit.outcome(handle.name, report)
            except AuditError as exc:  # on the reader thread: counted and logged, never a dead reader
                self.audit_errors += 1
                log.warning("%s", exc)
        handle.record(report)
        self._notify("verification", handle)

    # ---- uplink -----------------------------------------------------------------------------------
    def send_packet(self, name: str, service: int, subtype: int, data: bytes,
                    ack: AckFlags = AckFlags.ALL, *, args: dict | None = None) -> CommandHandle:
        """One TC packet in one frame (SDLS-protected with security), audited before it is
        written; `args` is what the audit records (by default the data's length)."""
        if len(data) + PRIMARY_HEADER_LEN + TC_SEC_HEADER_LEN + PEC_LEN > self.tc_data_octets:
            raise LinkConfigError("tc_max_frame_octets", f"{name}: {len(data)} octets of arguments do not fit "
                                                         f"in one TC frame ({self.tc_data_octets} octets of packet)")
        self.warn_if_insecure()
        packet, handle = self.commands.packet(name, service, subtype, data, ack)
        with self._send_lock:
            frame = self._frame(packet)
            if self.audit is not None:
                self.audit.sent(name, {"data_octets": len(data)} if args is None else args, handle.request)
            watch = WriteWatch(self)
            try:
                self.link.write(encode_cltu(frame))
            except (OSError, RuntimeError) as exc:  # a closed or broken link raises rather than drops
                if self.audit is not None:
                    self.audit.not_sent(name, handle.request, f"{type(exc).__name__}: {exc}")
                raise
        lost = watch.lost()
        if lost is not None and self.audit is not None:
            self.audit.not_sent(name, handle.request, lost)
        return handle

    def _frame(self, packet: bytes) -> bytes:
        """The TC frame carrying `packet`: under the TC SA with its next IV, or plain."""
        if self.security is None:
            return self.encoder.frame(packet)
        config = self.encoder.config
        frame = sdls.protect(self.security.tc_sa, self.security.next_iv(), config.spacecraft_id,
                             config.tc_virtual_channel, self.encoder.seq_num, packet)
        self.encoder.seq_num = (self.encoder.seq_num + 1) & 0xFF
        return frame

    def _encode(self, name: str, args: dict) -> tuple:
        cmd = self.dictionary.command_by_name.get(name)
        if cmd is None:
            raise KeyError(f"no command {name!r} in the dictionary "
                           f"(e.g. {', '.join(sorted(self.dictionary.command_by_name)[:5])})")
        data = self._raw_args(cmd.service, cmd.subtype, args) if cmd.raw else cmd.encode_args(**args)
        return cmd, data

    def schedule(self, activities: list[tuple[float, str, dict]], *, arm: bool = False
                 ) -> tuple[CommandHandle, list[CommandHandle]]:
        """Insert time-tagged commands (TC[11,4]); returns the insert's handle and one handle per
        scheduled command, which completes when the node releases and executes it. With `arm`,
        an insert holding a hazardous command is preceded by node.Arm, as `send` does."""
        packets, handles, hazardous = [], [], False
        for release_s, name, args in activities:
            cmd, data = self._encode(name, args)
            hazardous |= cmd.hazardous
            packet, handle = self.commands.packet(name, cmd.service, cmd.subtype, data)
            packets.append((release_s, packet))
            handles.append(handle)
        if arm and hazardous:
            self._arm()
        audited = {"activities": [{"release_s": t, "command": n, "args": a} for t, n, a in activities]}
        insert = self.send_packet("schedule.Insert", 11, pus11.Subtype.INSERT, pus11.pack_activities(packets),
                                  args=audited)
        return insert, handles

    def send(self, name: str, arm: bool = False, **args: Any) -> CommandHandle:
        """Send a dictionary command by name; arguments are checked before anything is sent.

        `arm=True` on a hazardous command sends node.Arm(window_s=ARM_WINDOW_S) through the same SA
        just before it (the node runs commands in the order they come, so nothing can slip
        between); the Arm's handle is the command handle's `armed_by`. A command that is not
        hazardous needs no arm, and gets none: an open arm window is a risk of its own."""
        cmd, data = self._encode(name, args)
        armed_by = self._arm() if arm and self._hazardous(cmd, args) else None
        handle = self.send_packet(name, cmd.service, cmd.subtype, data, args=args)
        handle.armed_by = armed_by
        return handle

    def _hazardous(self, cmd, args: dict) -> bool:
        """As the node judges it: a command declared hazardous, or a parameter set that sets a
        parameter declared hazardous (a power or thermal threshold)."""
        if cmd.hazardous:
            return True
        if (cmd.service, cmd.subtype) == (20, pus20.Subtype.SET_VALUES):
            params = self.dictionary.parameter_by_name
            return any(params[n].hazardous for n in args if n in params)
        return False

    def _arm(self) -> CommandHandle:
        cmd, data = self._encode(ARM_COMMAND, {"window_s": ARM_WINDOW_S})
        return self.send_packet(ARM_COMMAND, cmd.service, cmd.subtype, data, args={"window_s": ARM_WINDOW_S})

    def uplink(self, data: bytes, part_octets: int | None = None, *, window: int = 16,
               timeout: float = 10.0) -> int:
        """Send `data` up in TC[13,9..11] parts; returns the transaction id (the parts' handles are
        in `uplinks[tid]`, an abortion report in `uplink_aborts[tid]`).

        `part_octets` defaults to the most a TC frame carries. With `window` > 0 at most that many
        parts are out before the oldest has completed, so a fast link does not overrun the node's
        command queue; `window=0` sends every part at once (a caller that paces the link itself).
        Raises UplinkError if a part fails or is not verified within `timeout` seconds.
        """
        overhead = PRIMARY_HEADER_LEN + TC_SEC_HEADER_LEN + PEC_LEN + pus13.PART_HEAD_OCTETS
        part_octets = part_octets or self.tc_data_octets - overhead
        with self._cond:
            tid = self._next_uplink
            self._next_uplink = self._next_uplink % 0xFFFF + 1
        handles = self.uplinks[tid] = []
        for subtype, app_data in pus13.uplink_parts(tid, data, part_octets):
            if window and len(handles) >= window:
                self._await_part(tid, handles[-window], timeout)
            handles.append(self.send_packet(UPLINK_COMMANDS[subtype], pus13.SERVICE, subtype, app_data,
                                            args={"transaction": tid, "octets": len(app_data)}))
        return tid

    def _await_part(self, tid: int, handle: CommandHandle, timeout: float) -> None:
        handle.wait(timeout)
        if not handle.completed:
            raise UplinkError(tid, handle.describe() if handle.stages else f"{handle.name}: no report in {timeout} s")

    def _raw_args(self, service: int, subtype: int, args: dict) -> bytes:
        if (service, subtype) == (20, pus20.Subtype.SET_VALUES):
            return pus20.pack_values(self.dictionary, args)
        if (service, subtype) == (20, pus20.Subtype.REPORT_VALUES):
            return pus20.pack_ids(self.dictionary, list(args.get("names", [])))
        if (service, subtype) == (11, pus11.Subtype.DELETE):
            return pus11.pack_request_ids([(h.request.apid, h.request.seq_count) for h in args["handles"]])
        raise ValueError(f"no ground encoder for TC[{service},{subtype}]")
