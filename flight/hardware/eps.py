"""The power and thermal sensor component: reads the board through whichever driver the node was
configured with and publishes the readings as telemetry. Battery voltage and current are read
every fast tick (under-voltage protection needs them quickly); temperatures and array power at 1 Hz.

It is the only component that talks to the board. After every sweep it sends a snapshot of the
readings (`EpsReadings`): every fast sweep through `fastReadingsOut` (to under-voltage protection,
which needs the battery's voltage and current at 10 Hz), every slow one through `readingsOut` (to
all who need the temperatures, array and payload power at 1 Hz). It switches
loads and sets the payload's clock for others through `switchIn` and `payloadIn`, so it always
knows what it last confirmed switched (the power budget counts the loads that are on). Work items
for the payload board come through `workIn`; the board's item registers are read on every fast
sweep (the compute manager bills each item the energy the board reports for it) and published
with that sweep only, so a count in a snapshot was always read in the sweep that sent it.
"""
from __future__ import annotations

import math

from types import MappingProxyType

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.ports import InPort, OutPort
from gridfree.flight.hardware.interfaces import ItemRegisters, PowerBoard, Quantity, Switch
from gridfree.flight.hardware.ports import EpsReadings, PayloadClock, PayloadWork, SwitchCommand
from gridfree.protocols.dictionary import Channel, Command, Event, Field, HousekeepingPacket, Severity
from gridfree.protocols.services.verification import FailureCode

from gridfree.flight.hardware.sensors import CHANNEL, EPS_SENSOR_CHANNELS, FAST, SLOW  # the register map's


NO_ITEMS = ItemRegisters(None, None, None, None)


class EpsComponent(Component):
    channels = (
        *EPS_SENSOR_CHANNELS,  # ids 1-9, from the register map
        Channel(10, "DriverOk", "bool", description="The board answers"),
        Channel(11, "DriverTimeouts", "u32", description="Board requests that timed out"),
        Channel(12, "Absent", "u16", description="Readings the driver could not make this cycle"),
        Channel(13, "LineUp", "bool", description="The line to the board is open"),
        Channel(14, "LineReopens", "u32", description="Times the line to the board came back after it was lost "
                                                      "(or was opened late, after failing at boot)"),
    )
    commands = (
        Command("SetHeater", opcode=0x01, arguments=(Field("on", "bool"),), hazardous=True,
                description="Survival heater switch"),
        Command("SetPayload", opcode=0x02, arguments=(Field("on", "bool"),), hazardous=True,
                description="Compute payload power"),
    )
    events = (
        Event(1, "DriverFault", Severity.WARNING_HI, "board not answering ({timeouts} timeouts); retrying",
              (Field("timeouts", "u32"),)),
        Event(2, "DriverRecovered", Severity.ACTIVITY_HI, "board answering again"),
    )
    ports = (
        OutPort("fastReadingsOut", EpsReadings, "a snapshot of the readings after every fast sweep (10 Hz)",
                fan_out=True),
        OutPort("readingsOut", EpsReadings, "a snapshot of the readings after every slow sweep (1 Hz)",
                fan_out=True),
        InPort("switchIn", SwitchCommand, "switch a load; True if the board confirmed", returns=bool),
        InPort("payloadIn", PayloadClock, "set the payload's utilisation; True if the board confirmed",
               returns=bool),
        InPort("workIn", PayloadWork, "hand the payload board a work item (True if it took it), or clear its "
               "queue (True if it confirmed)", returns=bool),
    )
    housekeeping = (
        HousekeepingPacket(1, "Power", ("BusVoltage", "BatteryVoltage", "BatteryCurrent", "ArrayPower",
                                        "PayloadPower"), 1.0, "Electrical power"),
        HousekeepingPacket(2, "Thermal", ("BatteryTemp", "PayloadTemp", "StructureTemp", "RadiatorTemp"), 1.0,
                           "Temperatures"),
        HousekeepingPacket(3, "Driver", ("DriverOk", "DriverTimeouts", "Absent", "LineUp", "LineReopens"), 1.0,
                           "Board driver health"),
    )

    def __init__(self, name: str, id_base: int, *, board: PowerBoard):
        super().__init__(name, id_base)
        self._board = board
        self._was_ok = True
        self._readings: dict[Quantity, float] = {}
        self._switched: dict[Switch, bool] = {}  # what the board last confirmed, for the power budget

    def schedule(self):
        return {"fast": [self.fast], "slow": [self.slow]}

    def _read(self, quantities) -> int:
        absent = 0
        for q, value in self._board.read_many(quantities).items():
            if value is None:  # a stale value must not pass for a fresh one, on board or below
                absent += 1
                self._readings.pop(q, None)
                self.tlm(CHANNEL[q], math.nan)
                continue
            self._readings[q] = value
            self.tlm(CHANNEL[q], value)
        return absent

    def _publish(self, port: str, t: float, items: ItemRegisters | None = None) -> None:
        board = self._board
        i = items or NO_ITEMS
        self.out(port, EpsReadings(t, MappingProxyType(dict(self._readings)), MappingProxyType(dict(self._switched)),
                                   board.work_interface, i.accepted, i.done, i.done_energy_mJ, i.busy_energy_mJ))

    def fast(self, t: float) -> None:
        self._read(FAST)
        self._publish("fastReadingsOut", t, self._board.read_items() if self._board.work_interface else None)

    def slow(self, t: float) -> None:
        absent = self._read(SLOW)
        self._publish("readingsOut", t)
        health = self._board.health
        self.tlm("Absent", absent)
        self.tlm("DriverOk", health.ok)
        self.tlm("DriverTimeouts", health.timeouts)
        self.tlm("LineUp", health.line_up)
        self.tlm("LineReopens", health.reopens)
        if health.ok != self._was_ok:
            if health.ok:
                self.log("DriverRecovered")
            else:
                self.log("DriverFault", timeouts=health.timeouts)
            self._was_ok = health.ok

    def switchIn_handler(self, request: SwitchCommand) -> bool:
        """Every switch goes through here so the power budget knows which loads are on."""
        ok = self._board.set_switch(request.switch, request.on)
        if ok:
            self._switched[request.switch] = request.on
        return ok

    def payloadIn_handler(self, clock: PayloadClock) -> bool:
        return self._board.set_utilisation(clock.utilisation)

    def workIn_handler(self, work: PayloadWork) -> bool:  # noqa: N802
        if work.clear:
            return self._board.clear_items()
        return self._board.submit_item(work.seq, work.kind, work.work_M)

    def _switch(self, s: Switch, on: bool) -> None:
        if not self.switchIn_handler(SwitchCommand(s, on)):
            raise CommandFailed(FailureCode.EXECUTION_ERROR, f"the board did not confirm {s.value} {'on' if on else 'off'}")

    def cmd_SetHeater(self, on: bool) -> None:
        self._switch(Switch.HEATER, on)

    def cmd_SetPayload(self, on: bool) -> None:
        self._switch(Switch.PAYLOAD, on)

    def stop(self) -> None:
        self._board.close()
