"""A lockstep node flying the rig's truth in-process, for benchmarks that measure the node on the
rig's emulated board (the same rig as tests/compute/rigboard.py and tests/compute/ground_link.py,
which tests import from the tests tree; an installed benchmark cannot).

Nothing is stubbed: the node's own register driver talks to the emulated board's own register
logic, exchange by exchange, without the serial line (so a run is repeatable and quick), and the
ground talks to the node through the node's own radio (CLTUs up, TM frames down) with no clock
between them but the run's. Commands are sent as an operator would: a hazardous parameter is set
with node.Arm first.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from gridfree.flight.app.config import NodeConfig
from gridfree.flight.app.node import Node
from gridfree.flight.core.modes import Mode
from gridfree.flight.hardware.interfaces import DriverHealth
from gridfree.flight.hardware.rig import RegisterBoard
from gridfree.ground.hil.board import EmulatedBoard
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.power import Battery, Loads
from gridfree.ground.hil.truth import Truth
from gridfree.ground.link.client import GroundClient
from gridfree.protocols.compute import JobSpec
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.hwbus import Request
from gridfree.protocols.links import LinkStats

EPOCH = 1_774_018_000.0  # iss500 is in sunlight here for well over ten minutes
TENANT = 3
QUOTA_TOKENS = 1_000_000_000


class DirectBoard(RegisterBoard):
    """The node's register driver with each request handed straight to the emulated board."""

    def __init__(self, board: EmulatedBoard):
        self.board, self.health = board, DriverHealth()

    def _transact(self, op, reg, value=0.0):
        return self.board.handle(Request(op, 0, reg, value))


class Wire:
    """One direction of the radio path: what is written arrives at the other end's receiver."""

    def __init__(self, deliver: Callable[[bytes], None]):
        self.deliver, self.stats = deliver, LinkStats(connected=True)

    def write(self, data: bytes) -> None:
        self.stats.bytes_out += len(data)
        self.deliver(bytes(data))

    def close(self) -> None:
        pass


def link(node: Node) -> GroundClient:
    """The ground, with the dictionary as it loads it (the exported JSON), on the node's radio."""
    ground = GroundClient("inproc://radio", Dictionary.from_json(node.dictionary.to_json()),
                          apid=node.cfg.apid, link_config=node.link_config)
    ground.link = Wire(node.radio.uplink)
    node.radio.link = Wire(ground.data_received)
    return ground


@dataclass
class Rig:
    truth: Truth
    node: Node
    ground: GroundClient

    def run(self, seconds: float, step_s: float = 1.0, until: Callable[[], bool] | None = None) -> float:
        """Step the truth and the node in lockstep for up to `seconds`, stopping after the first
        step at which `until()` holds; returns the simulated seconds run."""
        t0 = self.truth.time_s
        for _ in range(int(round(seconds / step_s))):
            self.truth.step(step_s)
            self.node.step_to(self.truth.time_s)
            if until is not None and until():
                break
        return self.truth.time_s - t0

    def tlm(self, name: str):
        return self.node.telemetry.read(name)

    def set_param(self, name: str, value: float) -> None:
        """Set a node parameter as the operator does (armed first: the power limits are hazardous)."""
        self.ground.send("node.Arm", window_s=10)
        h = self.ground.send("params.Set", **{name: value})
        self.run(1.0)
        if not h.completed:
            raise RuntimeError(f"params.Set {name} = {value}: {h.describe()}")

    def submit(self, spec: JobSpec, priority: int = 1):
        return self.ground.send("compute.Submit", job_id=spec.job_id, tenant=spec.tenant, kind=spec.kind.name,
                                seed=spec.seed, size=spec.size, batch=spec.batch, chunks=spec.chunks,
                                priority=priority, deadline_unix_s=0.0, threshold=spec.threshold,
                                input_id=spec.input_id)

    def events(self, name: str) -> list[dict]:
        """The arguments of every event `name` the ground heard."""
        return [e.args for e in self.ground.events if e.event is not None and e.event.name == name]

    def stop(self) -> None:
        self.node.stop()


def fly(state_dir: Path, work_scale: float = 1.0, soc: float = 0.8) -> Rig:
    """The rig's truth (iss500, in sunlight) and a lockstep node on it in NOMINAL, its compute
    manager handing the board items of `work_scale` board operations per host operation, with a
    tenant (TENANT) allowed to submit."""
    truth = Truth.from_elements(preset("iss500", EPOCH), EPOCH, battery=Battery(soc=soc),
                                loads=Loads(compute_utilisation=0.0))
    node = Node(NodeConfig(state_dir=Path(state_dir) / "state", clock="lockstep", work_scale=work_scale),
                board=DirectBoard(EmulatedBoard(truth, seed=5)), insecure=True)
    node.clock.set(EPOCH)
    node.start(open_radio=False)
    node.step_to(EPOCH)  # the first reading: the battery is known before anyone asks for NOMINAL
    rig = Rig(truth, node, link(node))
    node.modes.request(Mode.NOMINAL, "bench")
    rig.ground.send("compute.SetQuota", arm=True, tenant=TENANT, tokens=QUOTA_TOKENS)
    rig.run(1.0)
    return rig
