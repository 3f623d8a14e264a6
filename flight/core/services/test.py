"""PUS service 17: are-you-alive and on-board connection tests."""
from __future__ import annotations

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.protocols.dictionary import Command, Field
from gridfree.protocols.services import test as pus17
from gridfree.protocols.services.verification import FailureCode


class TestService(Component):
    __test__ = False  # not a pytest test class, whatever its name
    commands = (
        Command("Ping", service=17, subtype=pus17.Subtype.ARE_YOU_ALIVE, description="TC[17,1] -> TM[17,2]"),
        Command("ConnectionTest", service=17, subtype=pus17.Subtype.CONNECTION_TEST,
                arguments=(Field("apid", "u16", max=0x7FE),), description="TC[17,3] -> TM[17,4]"),
    )

    def __init__(self, name: str, id_base: int):
        super().__init__(name, id_base)

    def cmd_Ping(self) -> None:
        self.ctx.downlink.send(17, pus17.Subtype.ARE_YOU_ALIVE_REPORT)

    def cmd_ConnectionTest(self, apid: int) -> None:
        if apid != self.ctx.downlink.apid:
            raise CommandFailed(FailureCode.ILLEGAL_APID, f"no on-board application with APID {apid}")
        self.ctx.downlink.send(17, pus17.Subtype.CONNECTION_TEST_REPORT, pus17.pack_apid(apid))
