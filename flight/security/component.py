"""`SecurityComponent` ("sec"): nothing from the uplink becomes a command until SDLS says whose it is.

The radio hands over every TC frame it decoded for this spacecraft (`frameIn`, on the radio's
reader thread). The frame is opened with the keystore's TC security associations
(protocols/sdls.py: lengths, FECF, SPI and SA state, MAC, then the anti-replay window), the SA's
anti-replay state is written to KEYDIR/rx-replay.bin (fsynced) and only then does the TC packet
go to the dispatcher, with the SA's SPI, role and tenant as its `Origin`. A refused frame is
counted by reason, recorded in the command audit ("TC frame", "rejected", the reason) and
reported by an event at most once per kind every 10 s (refusals.py): a replay flood costs
counters, never the downlink.

The downlink is protected under the keystore's operational TM SA: at start, and after any change
to a TM SA, the radio gets a `TmProtection` whose IVs come from a crash-safe counter
(KEYDIR/tm-iv-<spi>.bin, protocols/ivcounter.py).

Without a key directory (a node run with --insecure) every frame goes through as the operator's
(messages.INSECURE), TM goes out plain, `sec.Insecure` is true and a WARNING_HI event says so at
start and once a minute, so nobody mistakes that node for a protected one.

Threads: `frameIn` runs on the radio's reader thread, commands and ticks on the scheduler's. The
state both touch (the SAs, their anti-replay state, the counters, what is waiting to be reported)
is guarded by one lock; events, telemetry and audit records are only sent from the scheduler's
thread, so the reader thread never writes the downlink.
"""
from __future__ import annotations

import struct
import threading
from pathlib import Path

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.messages import INSECURE, CommandAudit, CommandPacket, Origin, TmProtection, UplinkFrame
from gridfree.flight.core.ports import InPort, OutPort
from gridfree.flight.security.keycmds import COMMANDS, EVENTS, KeyCommands
from gridfree.flight.security.refusals import RefusalLog
from gridfree.flight.security.replay import ReplayState, ReplayStore, ReplayStoreDamaged, restored
from gridfree.protocols.dictionary import Channel, Event, Field, HousekeepingPacket, Severity
from gridfree.protocols.errors import ProtocolError
from gridfree.protocols.ivcounter import IvCounter, IvStoreDamaged
from gridfree.protocols.keystore import KEYSTORE_FILE, KeyState, KeyStateError, Keystore, KeystoreError, SaState
from gridfree.protocols.sdls import KEY_OCTETS, Refusal, SdlsRejected, SecurityAssociation, unprotect
from gridfree.protocols.sdls_tm import TmProtector
from gridfree.protocols.services.verification import FailureCode
from gridfree.protocols.tcframe import PRIMARY_HEADER_OCTETS, TcFrame

INSECURE_REMINDER_S = 60.0
AUDIT_PERIOD_S = 1.0  # refused frames of one kind: at most one audit record per second
STORE_FAILED = "anti-replay store"  # a RefusalLog kind besides the Refusals: a good frame not obeyed
_COUNTERS = {Refusal.LENGTH: "RejectedLength", Refusal.FECF: "RejectedFecf", Refusal.UNKNOWN_SPI: "RejectedUnknownSpi",
             Refusal.SA_NOT_OPERATIONAL: "RejectedSaStopped", Refusal.MAC: "RejectedMac",
             Refusal.REPLAY: "RejectedReplay"}
_SPI_KNOWN = (Refusal.UNKNOWN_SPI, Refusal.SA_NOT_OPERATIONAL, Refusal.MAC, Refusal.REPLAY)


class SecurityConfigError(ValueError):
    """The node's key material cannot be used (keystore or anti-replay state missing or damaged):
    one line naming the file, for the node to report as a configuration error."""


class SecurityComponent(KeyCommands, Component):
    channels = (
        Channel(1, "FramesAccepted", "u32", description="Uplink TC frames that passed SDLS and went to dispatch"),
        Channel(2, "RejectedLength", "u32", description="Frames refused: a length outside what a protected "
                                                        "frame can be"),
        Channel(3, "RejectedFecf", "u32", description="Frames refused: FECF"),
        Channel(4, "RejectedUnknownSpi", "u32", description="Frames refused: no SA with that SPI"),
        Channel(5, "RejectedSaStopped", "u32", description="Frames refused: their SA is stopped"),
        Channel(6, "RejectedMac", "u32", description="Frames refused: the MAC does not check (forged, "
                                                     "damaged, wrong key)"),
        Channel(7, "RejectedReplay", "u32", description="Frames refused: IV already used or behind the window"),
        Channel(8, "Insecure", "bool", description="The node runs without keys (--insecure): every frame "
                                                   "is obeyed as the operator's"),
        Channel(9, "StoreErrors", "u32", description="Good frames not obeyed because their anti-replay state "
                                                     "could not be saved"),
    )
    housekeeping = (
        HousekeepingPacket(1, "Status", ("FramesAccepted", "RejectedLength", "RejectedFecf", "RejectedUnknownSpi",
                                         "RejectedSaStopped", "RejectedMac", "RejectedReplay", "Insecure",
                                         "StoreErrors"), 1.0, "Uplink security (SDLS)"),
    )
    events = (
        Event(1, "Insecure", Severity.WARNING_HI, "INSECURE NODE: no keys (--insecure); every uplinked frame "
                                                  "is obeyed as the operator's and TM is not authenticated"),
        Event(2, "FrameRejected", Severity.WARNING_LO, "TC frame refused ({reason}): {detail}; {suppressed} "
                                                       "more of this kind since the last report",
              (Field("reason", "string[20]"), Field("detail", "string[96]"), Field("suppressed", "u32"))),
        Event(3, "ReplayStoreFailed", Severity.WARNING_HI, "a good TC frame was not obeyed: anti-replay state "
                                                           "not saved ({reason}); {suppressed} more",
              (Field("reason", "string[96]"), Field("suppressed", "u32"))),
        Event(4, "TmProtected", Severity.ACTIVITY_HI, "TM {service} under SA {spi} (key {key_id})",
              (Field("spi", "u16"), Field("key_id", "u16"), Field("service", "string[14]"))),
        Event(5, "TmUnprotected", Severity.WARNING_HI, "TM goes down without SDLS: {reason}",
              (Field("reason", "string[96]"),)),
        Event(6, "SaUnusable", Severity.WARNING_HI, "SA {spi} cannot be used: {reason}",
              (Field("spi", "u16"), Field("reason", "string[96]"))),
    ) + EVENTS
    commands = COMMANDS
    ports = (
        InPort("frameIn", UplinkFrame, "TC frames off the radio (its reader thread)"),
        OutPort("commandOut", CommandPacket, "authenticated TC packets, with their origin, to dispatch",
                returns=bool),
        OutPort("tmOut", TmProtection, "the SDLS protection for TM frames, to the radio"),
        OutPort("auditOut", CommandAudit, "refused frames, to the command audit"),
    )

    def __init__(self, name: str, id_base: int, *, keys_dir: Path | None):
        super().__init__(name, id_base)
        self.keys_dir = None if keys_dir is None else Path(keys_dir)
        self.keystore: Keystore | None = None
        self._lock = threading.Lock()
        self.refusals = RefusalLog()
        self._audited: dict[Refusal, tuple[float, int]] = {}  # kind -> (last audited, refused since)
        self.accepted = self.store_errors = 0
        self._tc: dict[int, SecurityAssociation] = {}
        self._unusable: list[tuple[int, str]] = []  # (spi, why) found when the SAs were built
        self._unusable_said: set[tuple[int, str]] = set()
        self._replay: dict[int, ReplayState] = {}
        self._started = False
        # One IV counter per TM SPI for the life of the process: a protector replaced while the radio
        # still seals with the old one must not hand out IVs the old one also will.
        self._tm_counters: dict[int, IvCounter] = {}
        self._insecure_said_at = 0.0
        if self.keys_dir is not None:
            self._store = ReplayStore(self.keys_dir)
            try:
                self.keystore = Keystore.load(self.keys_dir / KEYSTORE_FILE)
                self._replay = self._store.load()
            except (KeystoreError, ReplayStoreDamaged) as exc:
                raise SecurityConfigError(str(exc)) from None
            self._build_tc()

    @property
    def insecure(self) -> bool:
        return self.keys_dir is None

    # ---- security associations --------------------------------------------------------------------
    def _build_tc(self) -> None:
        """The TC SAs from the keystore, each with its key's anti-replay state. A stopped SA is
        kept (so its frames are refused as not operational, not as unknown); one whose key
        cannot be used is kept stopped, with a placeholder key no frame is ever checked with."""
        sas, unusable = {}, []
        for spi, entry in sorted(self.keystore.sas.items()):
            if entry.direction != "tc":
                continue
            try:
                key, operational = self.keystore.session_key(entry.key_id), entry.state is SaState.OPERATIONAL
            except KeyStateError as exc:
                key, operational = bytes(KEY_OCTETS), False
                if entry.state is SaState.OPERATIONAL:
                    unusable.append((spi, str(exc)))
            sa = SecurityAssociation(spi, key, encrypt=entry.encrypt, window=entry.window, operational=operational)
            sas[spi] = restored(sa, self._replay.get(entry.key_id))
        live = {k.key_id for k in self.keystore.keys.values() if k.state is not KeyState.DESTROYED}
        self._replay = {k: s for k, s in self._replay.items() if k in live}
        self._tc, self._unusable = sas, unusable

    def sa_highest_iv(self, spi: int) -> int:
        with self._lock:
            sa = self._tc.get(spi)
            return 0 if sa is None else sa.highest_iv

    def _commit(self, draft: Keystore, *, changed_tm: bool, rekeyed_tm: int | None = None) -> None:
        """Save `draft` as the keystore, then use it; a save the disk refuses changes nothing."""
        with self._lock:
            try:
                draft.save(self.keys_dir / KEYSTORE_FILE)
            except (OSError, ValueError) as exc:
                raise CommandFailed(FailureCode.EXECUTION_ERROR,
                                    f"keystore not saved ({getattr(exc, 'strerror', None) or exc}); nothing changed")
            self.keystore = draft
            self._build_tc()
        self._report_unusable()
        if changed_tm:
            if rekeyed_tm is not None:
                self._set_aside_damaged_counter(rekeyed_tm)
            self._send_tm_protection()

    def _report_unusable(self) -> None:
        """An event for each operational SA whose key cannot be used, once per SA and reason."""
        for spi, why in self._unusable:
            if (spi, why) not in self._unusable_said:
                self.log("SaUnusable", spi=spi, reason=why)
        self._unusable_said = set(self._unusable)

    # ---- uplink (the radio's reader thread) ------------------------------------------------------
    def frameIn_handler(self, uplink: UplinkFrame) -> None:
        now = self.ctx.clock.now()
        if self.insecure:
            self._pass_insecure(uplink.frame, now)
            return
        with self._lock:  # one section: a command may not rebuild the SAs between the check and the save
            origin = refused = None
            try:
                tc, data = unprotect(uplink.frame, self._tc)
            except SdlsRejected as exc:
                refused = self._refused(exc.reason, str(exc), uplink.frame, now)
            else:
                origin = self._kept(struct.unpack_from(">H", tc.data)[0])
        if refused is not None:
            self._audit(refused)
        elif origin is not None:
            self.out("commandOut", CommandPacket(data, origin))

    def _kept(self, spi: int) -> Origin | None:
        """Save the anti-replay state after an accepted frame (lock held); the frame's origin, or
        None if the state could not be saved (then the frame is not obeyed)."""
        entry = self.keystore.sas[spi]
        self._replay[entry.key_id] = ReplayState.of(self._tc[spi])
        try:
            self._store.save(self._replay)
        except (OSError, ValueError) as exc:
            self.store_errors += 1
            self.refusals.record(STORE_FAILED, f"SPI {spi}: {getattr(exc, 'strerror', None) or exc}")
            return None
        self.accepted += 1
        return Origin(spi, entry.role, entry.tenant)

    def _pass_insecure(self, frame: bytes, now: float) -> None:
        try:
            tc = TcFrame.unpack(frame)
        except ProtocolError as exc:
            with self._lock:
                refused = self._refused(Refusal.FECF, str(exc), frame, now)
            self._audit(refused)
            return
        with self._lock:
            self.accepted += 1
        self.out("commandOut", CommandPacket(tc.data, INSECURE))

    def _audit(self, refused: CommandAudit | None) -> None:
        if refused is not None:
            self.out("auditOut", refused)

    def _refused(self, refusal: Refusal, reason: str, frame: bytes, now: float) -> CommandAudit | None:
        """Count the refusal, queue its event for the scheduler's thread (lock held) and make its
        audit record. The record names the SA the frame claimed, when its SPI names one; a frame
        that names none is recorded as from an unknown sender."""
        self.refusals.record(refusal, reason.removeprefix("SDLS: "))
        spi, entry = 0, None
        if refusal in _SPI_KNOWN:
            (spi,) = struct.unpack_from(">H", frame, PRIMARY_HEADER_OCTETS)
            entry = self.keystore.sas.get(spi) if self.keystore is not None else None
        origin = Origin(spi, entry.role, entry.tenant) if entry is not None else Origin(spi, "unknown")
        # A flood must not fill the node's disk with audit records: one per kind of refusal per
        # AUDIT_PERIOD_S, carrying how many of that kind it stands for (the counters have them all).
        last, waiting = self._audited.get(refusal, (None, 0))
        if last is not None and now - last < AUDIT_PERIOD_S:
            self._audited[refusal] = (last, waiting + 1)
            return None
        self._audited[refusal] = (now, 0)
        if waiting:
            reason = f"{reason} (and {waiting} more refused so since the last record)"
        return CommandAudit(now, origin, "TC frame", "rejected", int(FailureCode.AUTHENTICATION_FAILED), reason)

    # ---- scheduler thread ---------------------------------------------------------------------------
    def schedule(self):
        return {"fast": [self.report], "slow": [self.housekeeping_tick]}

    def start(self) -> None:
        """Announce the node's security and give the radio its TM protection (once; the first
        tick calls it if the node did not)."""
        if self._started:
            return
        self._started = True
        if self.insecure:
            self._insecure_said_at = self.ctx.clock.now()
            self.tlm("Insecure", True)
            self.log("Insecure")
            self.out("tmOut", TmProtection(None))
            return
        self.tlm("Insecure", False)
        self._report_unusable()
        self._send_tm_protection()

    def report(self, t: float = 0.0) -> None:
        """Send the refusal events the reader thread left, at most one per kind per 10 s."""
        self.start()
        with self._lock:
            due = self.refusals.due(t)
        for r in due:
            if r.kind == STORE_FAILED:
                self.log("ReplayStoreFailed", reason=r.detail, suppressed=r.suppressed)
            else:
                self.log("FrameRejected", reason=r.kind.value, detail=r.detail, suppressed=r.suppressed)

    def housekeeping_tick(self, t: float = 0.0) -> None:
        self.start()
        with self._lock:
            counts, accepted, store_errors = dict(self.refusals.counts), self.accepted, self.store_errors
        self.tlm("FramesAccepted", accepted)
        for refusal, channel in _COUNTERS.items():
            self.tlm(channel, counts.get(refusal, 0))
        self.tlm("StoreErrors", store_errors)
        self.tlm("Insecure", self.insecure)
        if self.insecure and t - self._insecure_said_at >= INSECURE_REMINDER_S:
            self._insecure_said_at = t
            self.log("Insecure")

    # ---- TM -----------------------------------------------------------------------------------
    def _tm_counter_path(self, spi: int) -> Path:
        return self.keys_dir / f"tm-iv-{spi}.bin"

    def _set_aside_damaged_counter(self, spi: int) -> None:
        """After a TM rekey: a counter that was damaged (TM went plain, the operator was told to
        rekey) is set aside, so the new key's IVs start again from 1."""
        path = self._tm_counter_path(spi)
        try:
            IvCounter(path)
        except IvStoreDamaged:
            path.replace(path.with_name(path.name + ".damaged"))

    def _send_tm_protection(self) -> None:
        self.out("tmOut", TmProtection(self._tm_protector()))

    def _tm_protector(self):
        """The protector for the first operational TM SA, or None (with an event saying why)."""
        tm = [s for _, s in sorted(self.keystore.sas.items()) if s.direction == "tm" and s.state is SaState.OPERATIONAL]
        if not tm:
            self.log("TmUnprotected", reason="no operational TM SA")
            return None
        entry = tm[0]
        path = self._tm_counter_path(entry.spi)
        try:
            key = self.keystore.session_key(entry.key_id)
            counter = self._tm_counters.get(entry.spi) or self._tm_counters.setdefault(entry.spi, IvCounter(path))
        except IvStoreDamaged:
            self.log("TmUnprotected", reason=f"SA {entry.spi}: IV counter {path.name} damaged; rekey the TM SA")
            return None
        except (KeyStateError, OSError) as exc:
            self.log("TmUnprotected", reason=f"SA {entry.spi}: {getattr(exc, 'strerror', None) or exc}")
            return None
        sa = SecurityAssociation(entry.spi, key, encrypt=entry.encrypt, window=entry.window)
        self.log("TmProtected", spi=entry.spi, key_id=entry.key_id,
                 service="encrypted" if entry.encrypt else "authenticated")
        return TmProtector(sa, counter.next)
