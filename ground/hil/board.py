"""The emulated EPS/thermal/payload board: the rig's side of the hardware register protocol.

Reads come from the truth model through a sensor model (Gaussian noise, a bias, ADC quantisation,
and optionally a response latency) and writes switch the truth's loads. Faults a scenario can inject: a sensor stuck at a value,
extra noise or bias on one register, and a silent board (the serial line dropped).
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from gridfree.ground.hil.truth import Truth
from gridfree.protocols.hwbus import (
    HwBusDecoder, INTEGER_REGS, Op, Reg, Request, Response, Status, WRITABLE_REGS,
)
from gridfree.protocols.links import Link, LinkReader, Protocol

BOARD_ID = 0x47460001  # "GF" board, revision 1


@dataclass(frozen=True)
class SensorModel:
    sigma: float  # 1-sigma Gaussian noise, in the register's unit
    lsb: float  # ADC quantisation step


# Typical of a 12-bit housekeeping ADC on an EPS board.
SENSORS = {
    Reg.BUS_VOLTAGE_V: SensorModel(0.02, 0.01), Reg.BATTERY_VOLTAGE_V: SensorModel(0.02, 0.01),
    Reg.BATTERY_CURRENT_A: SensorModel(0.2, 0.05), Reg.BATTERY_TEMP_C: SensorModel(0.3, 0.1),
    Reg.ARRAY_POWER_W: SensorModel(5.0, 1.0), Reg.ARRAY_CURRENT_A: SensorModel(0.1, 0.05),
    Reg.PAYLOAD_TEMP_C: SensorModel(0.3, 0.1), Reg.STRUCTURE_TEMP_C: SensorModel(0.3, 0.1),
    Reg.RADIATOR_TEMP_C: SensorModel(0.3, 0.1), Reg.PAYLOAD_POWER_W: SensorModel(3.0, 1.0),
}


@dataclass
class Faults:
    stuck: dict[int, float] = field(default_factory=dict)
    extra_sigma: dict[int, float] = field(default_factory=dict)
    bias: dict[int, float] = field(default_factory=dict)
    silent: bool = False


class EmulatedBoard:
    def __init__(self, truth: Truth, seed: int = 0):
        self.truth = truth
        self.rng = random.Random(seed)
        self.faults = Faults()
        self.lock = threading.Lock()  # the truth is stepped by another thread
        self.requests = 0

    def true_value(self, reg: int) -> float | None:
        t = self.truth
        n = t.thermal.nodes
        return {
            Reg.BOARD_ID: BOARD_ID, Reg.BUS_VOLTAGE_V: t.bus_V, Reg.BATTERY_VOLTAGE_V: t.bus_V,
            Reg.BATTERY_CURRENT_A: t.battery_A, Reg.BATTERY_TEMP_C: n["battery"].temp_C,
            Reg.ARRAY_POWER_W: t.solar_W, Reg.ARRAY_CURRENT_A: t.solar_W / t.bus_V if t.bus_V > 0 else 0.0,
            Reg.PAYLOAD_TEMP_C: n["payload"].temp_C, Reg.STRUCTURE_TEMP_C: n["structure"].temp_C,
            Reg.RADIATOR_TEMP_C: n["radiator"].temp_C, Reg.PAYLOAD_POWER_W: t.loads.compute_W,
            Reg.HEATER_SWITCH: int(t.loads.heaters_on), Reg.PAYLOAD_SWITCH: int(t.loads.compute_on),
            Reg.PAYLOAD_UTILISATION: t.loads.compute_utilisation, Reg.RADIO_TX_SWITCH: int(t.loads.radio_tx_on),
        }.get(reg)

    def measure(self, reg: int) -> float | None:
        value = self.true_value(reg)
        if value is None or reg in INTEGER_REGS or reg not in SENSORS:
            return value
        if reg in self.faults.stuck:
            return self.faults.stuck[reg]
        model = SENSORS[reg]
        sigma = model.sigma + self.faults.extra_sigma.get(reg, 0.0)
        noisy = value + self.faults.bias.get(reg, 0.0) + self.rng.gauss(0.0, sigma)
        return round(noisy / model.lsb) * model.lsb

    def handle(self, req: Request) -> Response | None:
        if self.faults.silent:
            return None
        self.requests += 1
        with self.lock:
            if req.op is Op.READ_BLOCK:
                values = [self.measure(req.reg + i) for i in range(int(req.value))]
                if any(v is None for v in values):
                    return Response(Op.READ_BLOCK, req.seq, req.reg, Status.UNKNOWN_REGISTER)
                return Response(Op.READ_BLOCK, req.seq, req.reg, Status.OK, values=tuple(values))
            if req.op is Op.READ:
                value = self.measure(req.reg)
                if value is None:
                    return Response(Op.READ, req.seq, req.reg, Status.UNKNOWN_REGISTER)
                return Response(Op.READ, req.seq, req.reg, Status.OK, value)
            if req.reg not in WRITABLE_REGS:
                known = self.true_value(req.reg) is not None
                return Response(Op.WRITE, req.seq, req.reg, Status.READ_ONLY if known else Status.UNKNOWN_REGISTER)
            loads = self.truth.loads
            if req.reg == Reg.PAYLOAD_UTILISATION:
                if not 0.0 <= req.value <= 1.0:
                    return Response(Op.WRITE, req.seq, req.reg, Status.BAD_VALUE, req.value)
                loads.compute_utilisation = req.value
            elif req.value not in (0, 1):
                return Response(Op.WRITE, req.seq, req.reg, Status.BAD_VALUE, req.value)
            elif req.reg == Reg.HEATER_SWITCH:
                loads.heaters_on = bool(req.value)
            elif req.reg == Reg.PAYLOAD_SWITCH:
                loads.compute_on = bool(req.value)
            elif req.reg == Reg.RADIO_TX_SWITCH:
                loads.radio_tx_on = bool(req.value)
            return Response(Op.WRITE, req.seq, req.reg, Status.OK, req.value)


class BoardServer(Protocol):
    """Serves the board on a link (the rig's end of the node's hardware serial line).

    `latency_s` delays each answer by that much wall time, as a board's microcontroller and a slow
    UART would; lockstep runs leave it at zero because the node's timeouts are wall-clock.
    """

    def __init__(self, board: EmulatedBoard, link: Link, latency_s: float = 0.0):
        self.board, self.link, self.latency_s = board, link, latency_s
        self._delay = threading.Event()
        self.decoder = HwBusDecoder()
        self.reader = LinkReader(link, self, name="board-server")

    def start(self) -> "BoardServer":
        self.reader.start()
        return self

    def stop(self) -> None:
        self.reader.stop()

    def data_received(self, data: bytes) -> None:
        for msg in self.decoder.feed(data):
            if isinstance(msg, Request):
                resp = self.board.handle(msg)
                if resp is not None:
                    if self.latency_s:
                        self._delay.wait(self.latency_s)  # modelled latency, not synchronisation
                    self.link.write(resp.pack())
