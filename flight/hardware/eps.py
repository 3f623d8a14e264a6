"""The power and thermal sensor component: reads the board through whichever driver the node was
configured with and publishes the readings as telemetry. Battery voltage and current are read
every fast tick (under-voltage protection needs them quickly); temperatures and array power at 1 Hz.
"""
from __future__ import annotations

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.hardware.interfaces import PowerBoard, Quantity, Switch
from gridfree.protocols.dictionary import Channel, Command, Event, Field, HousekeepingPacket, Limits, Severity
from gridfree.protocols.services.verification import FailureCode

FAST = (Quantity.BATTERY_VOLTAGE_V, Quantity.BATTERY_CURRENT_A)
SLOW = (Quantity.BUS_VOLTAGE_V, Quantity.BATTERY_TEMP_C, Quantity.ARRAY_POWER_W, Quantity.PAYLOAD_TEMP_C,
        Quantity.STRUCTURE_TEMP_C, Quantity.RADIATOR_TEMP_C, Quantity.PAYLOAD_POWER_W)
CHANNEL = {
    Quantity.BUS_VOLTAGE_V: "BusVoltage", Quantity.BATTERY_VOLTAGE_V: "BatteryVoltage",
    Quantity.BATTERY_CURRENT_A: "BatteryCurrent", Quantity.BATTERY_TEMP_C: "BatteryTemp",
    Quantity.ARRAY_POWER_W: "ArrayPower", Quantity.PAYLOAD_TEMP_C: "PayloadTemp",
    Quantity.STRUCTURE_TEMP_C: "StructureTemp", Quantity.RADIATOR_TEMP_C: "RadiatorTemp",
    Quantity.PAYLOAD_POWER_W: "PayloadPower",
}


class EpsComponent(Component):
    channels = (
        Channel(1, "BusVoltage", "f32", "V", "Main bus voltage", Limits(24.0, 25.6, 33.8, 34.0)),
        Channel(2, "BatteryVoltage", "f32", "V", "Battery terminal voltage", Limits(24.0, 25.6, 33.8, 34.0)),
        Channel(3, "BatteryCurrent", "f32", "A", "Battery current, positive while charging"),
        Channel(4, "BatteryTemp", "f32", "C", "Battery temperature", Limits(-5.0, 0.0, 40.0, 45.0)),
        Channel(5, "ArrayPower", "f32", "W", "Solar array output"),
        Channel(6, "PayloadTemp", "f32", "C", "Compute payload temperature", Limits(-20.0, -10.0, 80.0, 90.0)),
        Channel(7, "StructureTemp", "f32", "C", "Structure temperature"),
        Channel(8, "RadiatorTemp", "f32", "C", "Radiator temperature"),
        Channel(9, "PayloadPower", "f32", "W", "Compute payload power"),
        Channel(10, "DriverOk", "bool", description="The board answers"),
        Channel(11, "DriverTimeouts", "u32", description="Board requests that timed out"),
        Channel(12, "Absent", "u16", description="Readings the driver could not make this cycle"),
    )
    commands = (
        Command("SetHeater", opcode=0x01, arguments=(Field("on", "bool"),), description="Survival heater switch"),
        Command("SetPayload", opcode=0x02, arguments=(Field("on", "bool"),), description="Compute payload power"),
    )
    events = (
        Event(1, "DriverFault", Severity.WARNING_HI, "board not answering ({timeouts} timeouts); retrying",
              (Field("timeouts", "u32"),)),
        Event(2, "DriverRecovered", Severity.ACTIVITY_HI, "board answering again"),
    )
    housekeeping = (
        HousekeepingPacket(1, "Power", ("BusVoltage", "BatteryVoltage", "BatteryCurrent", "ArrayPower",
                                        "PayloadPower"), 1.0, "Electrical power"),
        HousekeepingPacket(2, "Thermal", ("BatteryTemp", "PayloadTemp", "StructureTemp", "RadiatorTemp"), 1.0,
                           "Temperatures"),
        HousekeepingPacket(3, "Driver", ("DriverOk", "DriverTimeouts", "Absent"), 1.0, "Board driver health"),
    )

    def __init__(self, board: PowerBoard, name: str = "eps", id_base: int = 0x0100):
        super().__init__(name, id_base)
        self.board = board
        self._was_ok = True
        self.readings: dict[Quantity, float] = {}
        self.switched: dict[Switch, bool] = {}  # what the board last confirmed, for the power budget

    def schedule(self):
        return {"fast": [self.fast], "slow": [self.slow]}

    def _read(self, quantities) -> int:
        absent = 0
        for q, value in self.board.read_many(quantities).items():
            if value is None:
                absent += 1
                self.readings.pop(q, None)  # a stale value must not pass for a fresh one
                continue
            self.readings[q] = value
            self.tlm(CHANNEL[q], value)
        return absent

    def fast(self, _t: float) -> None:
        self._read(FAST)

    def slow(self, _t: float) -> None:
        absent = self._read(SLOW)
        health = self.board.health
        self.tlm("Absent", absent)
        self.tlm("DriverOk", health.ok)
        self.tlm("DriverTimeouts", health.timeouts)
        if health.ok != self._was_ok:
            if health.ok:
                self.log("DriverRecovered")
            else:
                self.log("DriverFault", timeouts=health.timeouts)
            self._was_ok = health.ok

    def set_switch(self, s: Switch, on: bool) -> bool:
        """Every switch goes through here so the power budget knows which loads are on."""
        ok = self.board.set_switch(s, on)
        if ok:
            self.switched[s] = on
        return ok

    def _switch(self, s: Switch, on: bool) -> None:
        if not self.set_switch(s, on):
            raise CommandFailed(FailureCode.EXECUTION_ERROR, f"the board did not confirm {s.value} {'on' if on else 'off'}")

    def cmd_SetHeater(self, on: bool) -> None:
        self._switch(Switch.HEATER, on)

    def cmd_SetPayload(self, on: bool) -> None:
        self._switch(Switch.PAYLOAD, on)
