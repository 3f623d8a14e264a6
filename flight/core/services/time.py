"""PUS service 9: time reports for ground correlation, and a correlation offset from the ground.

The onboard clock is never stepped underneath the rate groups: a correlation adjusts the offset
the clock reports, which is what TM time stamps use.
"""
from __future__ import annotations

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.protocols.dictionary import Channel, Command, Field, HousekeepingPacket
from gridfree.protocols.pus import CucTime
from gridfree.protocols.services import time as pus9
from gridfree.protocols.services.verification import FailureCode


class TimeService(Component):
    channels = (Channel(1, "OffsetUs", "i64", "us", "Correlation offset applied by the ground"),)
    housekeeping = (HousekeepingPacket(1, "Status", ("OffsetUs",), 10.0, "Time management"),)
    commands = (
        Command("SetReportRate", service=9, subtype=pus9.Subtype.SET_REPORT_RATE,
                arguments=(Field("exponent", "u8", max=pus9.MAX_RATE_EXPONENT, description="one report per 2**n s"),),
                description="TC[9,1]"),
        Command("Correlate", service=9, subtype=pus9.Subtype.CORRELATE,
                arguments=(Field("offset_us", "i64", "us", min=-86_400_000_000, max=86_400_000_000),),
                hazardous=True, description="TC[9,128]: add a signed offset to onboard time (hazardous: "
                                            "every time tag, the schedule and the ledger follow it)"),
    )

    def __init__(self, name: str, id_base: int, *, exponent: int = 3):
        super().__init__(name, id_base)
        self.exponent = exponent
        self.offset_us = 0
        self._next = 0.0

    def schedule(self):
        return {"slow": [self.tick]}

    def tick(self, t: float) -> None:
        if t + 1e-9 >= self._next:
            self.ctx.downlink.send(9, pus9.Subtype.CUC_TIME_REPORT,
                                   bytes([self.exponent]) + CucTime.from_unix(self.ctx.clock.now()).pack())
            self._next = t + 2 ** self.exponent

    def cmd_SetReportRate(self, exponent: int) -> None:
        self.exponent = exponent
        self._next = 0.0

    def cmd_Correlate(self, offset_us: int) -> None:
        clock = self.ctx.clock
        if not hasattr(clock, "offset_s"):
            raise CommandFailed(FailureCode.WRONG_MODE, "the lockstep clock is set by the rig, not by correlation")
        clock.offset_s += offset_us / 1e6
        self.offset_us += offset_us
        self.tlm("OffsetUs", self.offset_us)
