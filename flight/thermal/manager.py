"""The thermal manager: survival heaters in the cold and compute throttling in the heat, each with
hysteresis, plus the headroom figure the compute scheduler plans with.

The battery heater switches on below HeaterOnC and off above HeaterOffC (its power counts in the
power budget because the EPS measures it). The payload's utilisation is capped when it passes
ThrottleC and the cap is lifted only below ReleaseC, so the payload does not oscillate around its
limit. Radiator capacity at the present temperatures, eps*sigma*A*T^4 less what the Earth sends
back, tells how much more heat the node could reject.

It reads the temperatures from the EPS's `EpsReadings` (readingsIn), switches the heater through
switchOut, and publishes what compute needs to know, a `ThermalState`, every tick (stateOut).
"""
from __future__ import annotations

import math

from gridfree.flight.core.component import Component
from gridfree.flight.core.ports import InPort, OutPort
from gridfree.flight.hardware.interfaces import Quantity, Switch
from gridfree.flight.hardware.ports import NO_READINGS, EpsReadings, SwitchCommand
from gridfree.flight.thermal.state import ThermalState
from gridfree.protocols.dictionary import Channel, Event, Field, HousekeepingPacket, Parameter, Severity

STEFAN_BOLTZMANN_W_M2K4 = 5.670374419e-8
ZERO_C_K = 273.15


class ThermalManager(Component):
    channels = (
        Channel(1, "HeaterOn", "bool", description="Battery survival heater commanded on"),
        Channel(2, "Throttled", "bool", description="Compute utilisation capped for temperature"),
        Channel(3, "HeadroomC", "f32", "C", "Payload temperature margin to its throttle point"),
        Channel(4, "RadiatorCapacityW", "f32", "W", "Heat the radiator rejects at its present temperature"),
    )
    events = (
        Event(1, "HeaterSwitched", Severity.ACTIVITY_LO, "battery heater {state} at {temp_C:.1f} C",
              (Field("state", "string[4]"), Field("temp_C", "f32", "C"))),
        Event(2, "ThrottleChanged", Severity.WARNING_LO, "payload throttle {state} at {temp_C:.1f} C",
              (Field("state", "string[4]"), Field("temp_C", "f32", "C"))),
    )
    parameters = (
        Parameter(1, "HeaterOnC", "f32", 5.0, "C", "Battery heater on below", min=-20.0, max=30.0, hazardous=True),
        Parameter(2, "HeaterOffC", "f32", 10.0, "C", "Battery heater off above", min=-15.0, max=35.0, hazardous=True),
        Parameter(3, "ThrottleC", "f32", 75.0, "C", "Payload throttled above", min=30.0, max=100.0, hazardous=True),
        Parameter(4, "ReleaseC", "f32", 65.0, "C", "Payload throttle released below",
                  min=20.0, max=95.0, hazardous=True),
        Parameter(5, "ThrottleCap", "f32", 0.3, description="Utilisation cap while throttled",
                  min=0.0, max=1.0, hazardous=True),
        Parameter(6, "RadiatorAreaM2", "f32", 8.0, "m2", "Radiating area", min=0.1, max=100.0),
        Parameter(7, "RadiatorEmissivity", "f32", 0.88, description="Radiator emissivity", min=0.1, max=1.0),
    )
    ports = (
        InPort("readingsIn", EpsReadings, "the EPS's readings: battery, payload and radiator temperatures"),
        OutPort("switchOut", SwitchCommand, "the survival heater's switch", returns=bool),
        OutPort("stateOut", ThermalState, "heater, throttle and the cap on the payload, every tick", fan_out=True),
    )
    housekeeping = (HousekeepingPacket(1, "Status", ("HeaterOn", "Throttled", "HeadroomC", "RadiatorCapacityW"), 1.0,
                                       "Thermal management"),)

    def __init__(self, name: str, id_base: int):
        super().__init__(name, id_base)
        self._readings = NO_READINGS
        self.heater_on = False
        self.throttled = False

    def readingsIn_handler(self, readings: EpsReadings) -> None:
        self._readings = readings

    def schedule(self):
        return {"slow": [self.tick]}

    def tick(self, t: float) -> None:
        r = self._readings
        battery = r.get(Quantity.BATTERY_TEMP_C)
        if battery is not None:
            want = battery < self.param("HeaterOnC") or (self.heater_on and battery < self.param("HeaterOffC"))
            if want != self.heater_on and self.out("switchOut", SwitchCommand(Switch.HEATER, want)):
                self.heater_on = want
                self.log("HeaterSwitched", state="on" if want else "off", temp_C=battery)
        payload = r.get(Quantity.PAYLOAD_TEMP_C)
        if payload is not None:
            hot = payload > self.param("ThrottleC") or (self.throttled and payload > self.param("ReleaseC"))
            if hot != self.throttled:
                self.throttled = hot
                self.log("ThrottleChanged", state="on" if hot else "off", temp_C=payload)
            self.tlm("HeadroomC", self.param("ThrottleC") - payload)
        radiator = r.get(Quantity.RADIATOR_TEMP_C)
        if radiator is not None:
            t_K = radiator + ZERO_C_K
            self.tlm("RadiatorCapacityW", self.param("RadiatorEmissivity") * STEFAN_BOLTZMANN_W_M2K4
                     * self.param("RadiatorAreaM2") * t_K ** 4)
        self.tlm("HeaterOn", self.heater_on)
        self.tlm("Throttled", self.throttled)
        self.out("stateOut", ThermalState(
            t, self.heater_on, self.throttled, self.param("ThrottleCap") if self.throttled else 1.0,
            self.param("ThrottleC"), math.nan if payload is None else payload,
            math.nan if radiator is None else radiator))
