"""PUS service 3: periodic housekeeping reports of the packets the dictionary declares.

Each packet is sampled from the telemetry database at its own period (changeable by TC[3,31]) on
the fast rate group, and can be switched off and on (TC[3,6]/TC[3,5]) or asked for once
(TC[3,27]).
"""
from __future__ import annotations

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.downlink import VC_REALTIME
from gridfree.protocols.dictionary import Channel, Command, Field, HousekeepingPacket
from gridfree.protocols.services import housekeeping as pus3
from gridfree.protocols.services.verification import FailureCode

_ONE_SID = (Field("count", "u8", min=1, max=1, description="N (one SID per command)"),
            Field("sid", "u16", description="Housekeeping structure id"))


class HousekeepingService(Component):
    channels = (Channel(1, "ReportsSent", "u32", description="Housekeeping reports downlinked"),)
    housekeeping = (HousekeepingPacket(1, "Status", ("ReportsSent",), 10.0, "Housekeeping service"),)
    commands = (
        Command("EnablePeriodic", service=3, subtype=pus3.Subtype.ENABLE_PERIODIC, arguments=_ONE_SID,
                description="TC[3,5]"),
        Command("DisablePeriodic", service=3, subtype=pus3.Subtype.DISABLE_PERIODIC, arguments=_ONE_SID,
                description="TC[3,6]"),
        Command("OneShot", service=3, subtype=pus3.Subtype.GENERATE_ONE_SHOT, arguments=_ONE_SID,
                description="TC[3,27]"),
        Command("ModifyInterval", service=3, subtype=pus3.Subtype.MODIFY_INTERVAL,
                arguments=_ONE_SID + (Field("interval_ms", "u32", "ms", min=100, max=86_400_000),),
                description="TC[3,31]"),
    )

    def __init__(self, name: str, id_base: int):
        super().__init__(name, id_base)
        self.sent = 0
        self.period_s: dict[int, float] = {}
        self.enabled: set[int] = set()
        self._next: dict[int, float] = {}

    def attach(self, ctx) -> None:
        super().attach(ctx)
        for h in ctx.dictionary.housekeeping:
            self.period_s[h.sid] = h.period_s
            self.enabled.add(h.sid)
            self._next[h.sid] = float("-inf")  # first report on the first tick, whenever that is

    def schedule(self):
        return {"fast": [self.tick]}

    def report(self, sid: int) -> bytes:
        d = self.ctx.dictionary
        values = self.ctx.telemetry.snapshot(d.hk_by_sid[sid].channels)
        packet = self.ctx.downlink.send(3, pus3.Subtype.HK_REPORT, pus3.HkReport(sid, d.encode_hk(sid, values)).pack(),
                                        VC_REALTIME)
        self.sent += 1
        self.tlm("ReportsSent", self.sent)
        return packet

    def tick(self, t: float) -> None:
        for sid in sorted(self.enabled):
            if t + 1e-9 >= self._next[sid]:
                self.report(sid)
                # Stay on the period's grid; after a stall (or at the first tick), restart the grid
                # from now rather than bursting through the missed reports.
                nxt = self._next[sid] + self.period_s[sid]
                self._next[sid] = nxt if nxt > t else t + self.period_s[sid]

    def _sid(self, sid: int) -> int:
        if sid not in self.ctx.dictionary.hk_by_sid:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, f"no housekeeping structure with SID {sid}")
        return sid

    def cmd_EnablePeriodic(self, count: int, sid: int) -> None:
        self.enabled.add(self._sid(sid))
        self._next[sid] = self.ctx.clock.now()

    def cmd_DisablePeriodic(self, count: int, sid: int) -> None:
        self.enabled.discard(self._sid(sid))

    def cmd_OneShot(self, count: int, sid: int) -> None:
        self.report(self._sid(sid))

    def cmd_ModifyInterval(self, count: int, sid: int, interval_ms: int) -> None:
        self.period_s[self._sid(sid)] = interval_ms / 1000.0
        self._next[sid] = self.ctx.clock.now() + self.period_s[sid]
