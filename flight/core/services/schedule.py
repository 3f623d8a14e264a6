"""PUS service 11: the time-tagged command schedule, kept across restarts.

Activities are stored whole (release time and the TC packet as uplinked) in an atomic store after
every change, so a node that reboots mid-pass still releases what the ground scheduled. A released
TC goes through the dispatcher like any other, with its own verification reports; an activity
whose release time passed while the node was down is released at boot (late, not lost), and the
late count says so.
"""
from __future__ import annotations

import json
from pathlib import Path

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.messages import CommandPacket
from gridfree.flight.core.ports import OutPort
from gridfree.flight.core.store import AtomicRecordFile, CorruptStoreError
from gridfree.protocols.dictionary import Channel, Command, DecodeError, Event, Field, HousekeepingPacket, Severity
from gridfree.protocols.services import schedule as pus11
from gridfree.protocols.services.verification import FailureCode

MAX_ACTIVITIES = 512


class ScheduleService(Component):
    channels = (
        Channel(1, "Activities", "u16", description="Activities waiting for release"),
        Channel(2, "Released", "u32", description="Activities released since boot"),
        Channel(3, "ReleasedLate", "u32", description="Activities released after their time (node was down)"),
        Channel(4, "Enabled", "bool", description="Release function enabled"),
    )
    commands = (
        Command("Enable", service=11, subtype=pus11.Subtype.ENABLE, description="TC[11,1]"),
        Command("Disable", service=11, subtype=pus11.Subtype.DISABLE, description="TC[11,2]"),
        Command("Reset", service=11, subtype=pus11.Subtype.RESET, description="TC[11,3]: delete every activity"),
        Command("Insert", service=11, subtype=pus11.Subtype.INSERT, raw=True,
                description="TC[11,4]: N x (release time CUC 4+2, TC packet)"),
        Command("Delete", service=11, subtype=pus11.Subtype.DELETE, raw=True,
                description="TC[11,5]: N x (APID, sequence count) of the scheduled TCs"),
        Command("ReportAll", service=11, subtype=pus11.Subtype.REPORT_ALL,
                description="TC[11,16]: list every activity in TM[11,10]"),
    )
    events = (Event(1, "StoreCorrupt", Severity.WARNING_HI, "schedule store unusable ({reason}); schedule empty",
                    (Field("reason", "string[48]"),)),)
    ports = (OutPort("commandOut", CommandPacket, "released TCs, to the dispatcher", returns=bool),)
    housekeeping = (HousekeepingPacket(1, "Status", ("Activities", "Released", "ReleasedLate", "Enabled"), 1.0,
                                       "Time-based schedule"),)

    def __init__(self, name: str, id_base: int, *, store_path: str | Path):
        super().__init__(name, id_base)
        self.store = AtomicRecordFile(store_path)
        self.activities: list[tuple[float, bytes]] = []
        self.enabled = True
        self.released = self.late = 0
        self._booted_at: float | None = None  # onboard time of the first tick after boot

    def attach(self, ctx) -> None:
        super().attach(ctx)
        try:
            body = self.store.load()
            if body is not None:
                doc = json.loads(body)
                self.enabled = bool(doc["enabled"])
                self.activities = sorted((float(t), bytes.fromhex(p)) for t, p in doc["activities"])
        except (CorruptStoreError, ValueError, KeyError, TypeError) as exc:
            self.activities = []
            self.log("StoreCorrupt", reason=str(exc)[:48])

    def _save(self) -> None:
        self.store.save(json.dumps({"enabled": self.enabled,
                                    "activities": [[t, p.hex()] for t, p in self.activities]}).encode())

    def schedule(self):
        return {"fast": [self.tick]}

    def tick(self, t: float) -> None:
        if self._booted_at is None:
            self._booted_at = t
        if self.enabled and self.activities and self.activities[0][0] <= t:
            due = [a for a in self.activities if a[0] <= t]
            self.activities = self.activities[len(due):]
            for release, packet in due:
                self.released += 1
                if release < self._booted_at:
                    self.late += 1
                self.out("commandOut", CommandPacket(packet))
            self._save()
        self.tlm("Activities", len(self.activities))
        self.tlm("Released", self.released)
        self.tlm("ReleasedLate", self.late)
        self.tlm("Enabled", self.enabled)

    def cmd_Enable(self) -> None:
        self.enabled = True
        self._save()

    def cmd_Disable(self) -> None:
        self.enabled = False
        self._save()

    def cmd_Reset(self) -> None:
        self.activities = []
        self._save()

    def cmd_Insert(self, data: bytes) -> None:
        try:
            new = pus11.unpack_activities(data)
        except DecodeError as exc:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, str(exc)) from None
        if len(self.activities) + len(new) > MAX_ACTIVITIES:
            raise CommandFailed(FailureCode.BUSY, f"schedule full ({MAX_ACTIVITIES} activities)")
        self.activities = sorted(self.activities + new)
        self._save()

    def cmd_ReportAll(self) -> None:
        self.ctx.downlink.send(11, pus11.Subtype.DETAIL_REPORT, pus11.pack_activities(self.activities))

    def cmd_Delete(self, data: bytes) -> None:
        try:
            ids = set(pus11.unpack_request_ids(data))
        except DecodeError as exc:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, str(exc)) from None

        def request_id(packet: bytes) -> tuple[int, int]:
            return (int.from_bytes(packet[0:2], "big") & 0x7FF, int.from_bytes(packet[2:4], "big") & 0x3FFF)

        kept = [a for a in self.activities if request_id(a[1]) not in ids]
        if len(kept) == len(self.activities):
            raise CommandFailed(FailureCode.BAD_ARGUMENT, "no scheduled activity has those request ids")
        self.activities = kept
        self._save()
