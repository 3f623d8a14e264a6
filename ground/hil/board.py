"""The emulated EPS/thermal/payload board: the rig's side of the hardware register protocol.

It answers the registers of the register map (`protocols/registers.py`). Sensors read the truth
model through their sensor model (`ground/hil/sensors.py`: Gaussian noise, ADC quantisation, and
optionally a response latency); writes switch the truth's loads. What is wrong with the board at
the moment (a stuck or noisy or biased sensor, a silent line) is `faults`, which the scenario's
faults (`ground/hil/faults.py`) set and clear.

The payload's work-item registers (0x0040-0x0047) are the truth's `WorkingBoard`: writes fill the
next item's kind and work and submit it, reads report what it has accepted and completed and the
energy it drew. Reads never change anything and a retried write changes nothing more (the node's
driver retries after line errors).
"""
from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field

from gridfree.ground.hil.payload import KIND_FIELDS
from gridfree.ground.hil.sensors import SENSORS, SensorModel
from gridfree.ground.hil.truth import Truth
from gridfree.protocols.hwbus import HwBusDecoder, Op, Request, Response, Status
from gridfree.protocols.links import Link, LinkReader, Protocol
from gridfree.protocols.registers import INTEGER_REGS, WRITABLE_REGS, Reg

__all__ = ["BOARD_ID", "SENSORS", "SensorModel", "BoardFaults", "EmulatedBoard", "BoardServer"]

BOARD_ID = 0x47460001  # "GF" board, revision 1
# The registers that are the truth's loads: switches read back what was last written.
_LOAD_SWITCHES = {Reg.HEATER_SWITCH: "heaters_on", Reg.PAYLOAD_SWITCH: "compute_on", Reg.RADIO_TX_SWITCH: "radio_tx_on"}
# The work-item registers' readings, from the truth's WorkingBoard.
_ITEM_READS = {Reg.PAYLOAD_ITEM_KIND: lambda w: w.next_kind, Reg.PAYLOAD_ITEM_WORK_M: lambda w: w.next_work_M,
               Reg.PAYLOAD_ITEM_SUBMIT: lambda w: w.last_submit, Reg.PAYLOAD_ITEM_ACCEPTED: lambda w: w.accepted,
               Reg.PAYLOAD_ITEM_DONE: lambda w: w.done, Reg.PAYLOAD_DONE_ENERGY_MJ: lambda w: w.done_energy_mJ,
               Reg.PAYLOAD_BUSY_ENERGY_MJ: lambda w: w.busy_counter_mJ, Reg.PAYLOAD_QUEUE_CLEAR: lambda w: 0}
MAX_ITEM_WORK_M = 1e12  # a bound on one item's work (1e18 MFLOP: days of the board at full clock)


@dataclass
class BoardFaults:
    """What is wrong with the board now, by register."""

    stuck: dict[int, float] = field(default_factory=dict)
    extra_sigma: dict[int, float] = field(default_factory=dict)
    bias: dict[int, float] = field(default_factory=dict)
    silent: bool = False


class EmulatedBoard:
    def __init__(self, truth: Truth, seed: int = 0):
        self.truth = truth
        self.rng = random.Random(seed)
        self.faults = BoardFaults()
        self.lock = threading.Lock()  # the truth is stepped by another thread
        self.requests = 0
        self.refused = 0  # requests answered with an error status (unknown register, read-only, bad value)

    def true_value(self, reg: int) -> float | None:
        """The register's true value, or None for a register the board does not have."""
        t = self.truth
        if reg in SENSORS:
            return SENSORS[reg].truth(t)
        if reg in _LOAD_SWITCHES:
            return int(getattr(t.loads, _LOAD_SWITCHES[reg]))
        if reg == Reg.PAYLOAD_UTILISATION:
            return t.loads.compute_utilisation
        if reg == Reg.BOARD_ID:
            return BOARD_ID
        if reg in _ITEM_READS:
            return _ITEM_READS[reg](t.payload)
        return None

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
            resp = self._answer(req)
        self.refused += resp.status is not Status.OK
        return resp

    def _answer(self, req: Request) -> Response:
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
        ok = self._write(req.reg, req.value)
        return Response(Op.WRITE, req.seq, req.reg, Status.OK if ok else Status.BAD_VALUE, req.value)

    def _write(self, reg: int, value: float) -> bool:
        """Apply a write to a writable register; False for a value the register cannot take (nothing
        changes then). A write of the value a register already holds changes nothing."""
        loads, work = self.truth.loads, self.truth.payload
        if reg == Reg.PAYLOAD_UTILISATION:
            if not 0.0 <= value <= 1.0:
                return False
            loads.compute_utilisation = value
        elif reg == Reg.PAYLOAD_ITEM_KIND:
            if value not in KIND_FIELDS:
                return False
            work.next_kind = int(value)
        elif reg == Reg.PAYLOAD_ITEM_WORK_M:
            if not (math.isfinite(value) and 0.0 < value <= MAX_ITEM_WORK_M):
                return False
            work.next_work_M = value
        elif reg == Reg.PAYLOAD_ITEM_SUBMIT:
            work.submit(int(value), powered=loads.compute_on)
        elif reg == Reg.PAYLOAD_QUEUE_CLEAR:
            if value not in (0, 1):
                return False
            if value == 1:
                work.clear()
        elif value not in (0, 1):
            return False
        else:
            setattr(loads, _LOAD_SWITCHES[reg], bool(value))
            if reg == Reg.PAYLOAD_SWITCH and not value:
                work.clear()  # its queue goes with its power
        return True


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
