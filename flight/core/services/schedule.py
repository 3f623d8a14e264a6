"""PUS service 11: the time-tagged command schedule, kept across restarts.

Activities are stored whole (release time and the TC packet as uplinked) in an atomic store after
every change, so a node that reboots mid-pass still releases what the ground scheduled. A released
TC goes through the dispatcher like any other, with its own verification reports; an activity
whose release time passed while the node was down is released at boot (late, not lost), and the
late count says so. A released TC comes with the node's own origin (ONBOARD): the dispatcher
judged it, with the roles and arm of whoever inserted it, when the TC[11,4] holding it arrived.

Damage costs what it touches, never the node: a store that is not a schedule (torn, flipped, not
JSON, not the shape `_save` writes) is the store's `CorruptStoreError`, counted in `StoreDamaged`,
and the schedule starts empty; an activity the store holds but that could never have been inserted
(a release time no CUC can carry, a packet whose length field disagrees with its octets) is
dropped alone and counted in `ActivitiesLost`, and the others are kept. Either way the damaged
file is kept aside (`schedule.bin.damaged`) for the ground, and an event says what was wrong.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.messages import ONBOARD, CommandPacket
from gridfree.flight.core.ports import OutPort
from gridfree.flight.core.store import AtomicRecordFile, CorruptStoreError
from gridfree.protocols.dictionary import Channel, Command, DecodeError, Event, Field, HousekeepingPacket, Severity
from gridfree.protocols.pus import CucTime
from gridfree.protocols.services import schedule as pus11
from gridfree.protocols.services.verification import FailureCode
from gridfree.protocols.spacepacket import PRIMARY_HEADER_LEN, packet_len_at

MAX_ACTIVITIES = 512
REPORT_OCTETS = 3800  # a TM[11,10] application data field, well inside the ground's 4096-octet packets


class ScheduleService(Component):
    channels = (
        Channel(1, "Activities", "u16", description="Activities waiting for release"),
        Channel(2, "Released", "u32", description="Activities released since boot"),
        Channel(3, "ReleasedLate", "u32", description="Activities released after their time (node was down)"),
        Channel(4, "Enabled", "bool", description="Release function enabled"),
        Channel(5, "StoreDamaged", "u16", description="Schedule stores found unreadable since boot (started empty)"),
        Channel(6, "ActivitiesLost", "u32", description="Stored activities dropped at boot as malformed"),
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
    housekeeping = (HousekeepingPacket(1, "Status", ("Activities", "Released", "ReleasedLate", "Enabled",
                                                     "StoreDamaged", "ActivitiesLost"), 1.0, "Time-based schedule"),)

    def __init__(self, name: str, id_base: int, *, store_path: str | Path):
        super().__init__(name, id_base)
        self.store = AtomicRecordFile(store_path)
        self.activities: list[tuple[float, bytes]] = []
        self.enabled = True
        self.released = self.late = 0
        self._booted_at: float | None = None  # onboard time of the first tick after boot

    def attach(self, ctx) -> None:
        super().attach(ctx)
        self.damaged = self.lost = 0
        try:
            problems = self._stored()
        except CorruptStoreError as exc:
            self.activities, self.enabled, problems = [], True, [exc.reason]
            self.damaged += 1
        if problems:
            self.store.set_aside()
            if not self.damaged:
                try:
                    self._save()  # the activities kept survive the next reboot too
                except OSError:
                    pass  # the copy set aside still holds them; the next change saves again
            self.log("StoreCorrupt", reason=problems[0])
        self.tlm("StoreDamaged", self.damaged)
        self.tlm("ActivitiesLost", self.lost)

    def _stored(self) -> list[str]:
        """Load the stored schedule: CorruptStoreError if it is not one; what was wrong with the
        activities dropped (counted in `lost`) otherwise."""
        doc = self.store.load_json()
        if doc is None:
            return []
        if not (isinstance(doc, dict) and isinstance(doc.get("enabled"), bool)
                and isinstance(doc.get("activities"), list)):
            raise CorruptStoreError(self.store.path, "not a schedule: {enabled, activities} expected")
        kept, problems = [], []
        for k, item in enumerate(doc["activities"]):
            try:
                kept.append(_activity(item))
            except ValueError as exc:
                problems.append(f"activity {k}: {exc}")
        if len(kept) > MAX_ACTIVITIES:
            problems.append(f"{len(kept)} activities, more than {MAX_ACTIVITIES}: the latest dropped")
            kept = sorted(kept)[:MAX_ACTIVITIES]
        self.lost += len(doc["activities"]) - len(kept)
        self.enabled, self.activities = doc["enabled"], sorted(kept)
        return problems

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
                self.out("commandOut", CommandPacket(packet, ONBOARD))
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
        """As many TM[11,10] as the list needs: each within the count octet and REPORT_OCTETS."""
        report: list[tuple[float, bytes]] = []
        size = 1
        for activity in self.activities:
            octets = pus11.CUC_OCTETS + len(activity[1])
            if report and (len(report) == pus11.MAX_ACTIVITIES_PER_REPORT or size + octets > REPORT_OCTETS):
                self.ctx.downlink.send(11, pus11.Subtype.DETAIL_REPORT, pus11.pack_activities(report))
                report, size = [], 1
            report.append(activity)
            size += octets
        self.ctx.downlink.send(11, pus11.Subtype.DETAIL_REPORT, pus11.pack_activities(report))

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


def _activity(item) -> tuple[float, bytes]:
    """A stored [release time, packet hex] as `cmd_Insert` could have accepted it; ValueError if not."""
    if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], str)
            and isinstance(item[0], int | float) and not isinstance(item[0], bool)):
        raise ValueError("not [release time, packet hex]")
    try:
        release = float(item[0])
        if not math.isfinite(release):
            raise ValueError(f"release time {release!r}")
        CucTime.from_unix(release).pack()  # InvalidFieldError (a ValueError) before 1958
    except OverflowError:
        raise ValueError(f"release time {item[0]!r} beyond what a CUC time carries") from None
    packet = bytes.fromhex(item[1])
    if len(packet) < PRIMARY_HEADER_LEN or packet_len_at(packet) != len(packet):
        raise ValueError(f"packet of {len(packet)} octets does not match its length field")
    return release, packet
