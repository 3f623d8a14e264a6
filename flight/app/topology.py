"""The node as one table: its component instances, their ID bases, and their connections.

This is the only place that says which components a node has and who talks to whom (F Prime's
topology). The order of `INSTANCES` is the order of work within a tick: commands act, sensors are
read, managers decide, monitoring checks, housekeeping reports, and the radio sends what was
produced. Each instance's telemetry, command, event, parameter and housekeeping ids are its
component's local ids plus its ID base, so the dictionary follows from this table and the
components' class declarations alone, without building a node or opening a driver.

A connection joins an output port to an input port ("instance.port"); `wire` checks every one
against both declarations (types, what the call returns, fan-out) and that no declared port is
left unconnected, so a wiring mistake fails at build, never at the first uplink.
"""
from __future__ import annotations

from dataclasses import dataclass

from gridfree.flight.app.radio import Radio
from gridfree.flight.compute.manager import ComputeManager
from gridfree.flight.core.component import Component, build_dictionary
from gridfree.flight.core.dispatch import Dispatcher
from gridfree.flight.core.nodecomp import NodeComponent
from gridfree.flight.core.ports import PortError
from gridfree.flight.core.services.audit import AuditComponent
from gridfree.flight.core.services.events import EventService
from gridfree.flight.core.services.health import HealthService
from gridfree.flight.core.services.housekeeping import HousekeepingService
from gridfree.flight.core.services.largedata import LargeDataService
from gridfree.flight.core.services.monitoring import MonitoringService
from gridfree.flight.core.services.parameters import ParameterService
from gridfree.flight.core.services.schedule import ScheduleService
from gridfree.flight.core.services.test import TestService
from gridfree.flight.core.services.time import TimeService
from gridfree.flight.hardware.eps import EpsComponent
from gridfree.flight.power.manager import PowerManager
from gridfree.flight.security.component import SecurityComponent
from gridfree.flight.thermal.manager import ThermalManager
from gridfree.protocols.dictionary import Dictionary

DICTIONARY_VERSION = "0.4.0"  # 0.4.0: SDLS security, roles, audit


@dataclass(frozen=True)
class Instance:
    name: str
    component: type[Component]
    id_base: int


INSTANCES = (
    Instance("node", NodeComponent, 0x0000),
    Instance("cmdDisp", Dispatcher, 0x0010),
    Instance("events", EventService, 0x0040),
    Instance("params", ParameterService, 0x0050),
    Instance("test", TestService, 0x0020),
    Instance("time", TimeService, 0x0060),
    Instance("schedule", ScheduleService, 0x00A0),
    Instance("lds", LargeDataService, 0x00B0),
    Instance("sec", SecurityComponent, 0x00C0),
    Instance("audit", AuditComponent, 0x00D0),
    Instance("eps", EpsComponent, 0x0100),
    Instance("power", PowerManager, 0x0200),
    Instance("thermal", ThermalManager, 0x0300),
    Instance("compute", ComputeManager, 0x0400),
    Instance("monitor", MonitoringService, 0x0070),
    Instance("hk", HousekeepingService, 0x0030),
    Instance("radio", Radio, 0x0080),
    Instance("health", HealthService, 0x0090),
)

CONNECTIONS = (
    # uplinked frames through SDLS (authenticated, opened, their SA's role attached) to the one
    # dispatcher, with the node's own commands; TM protection back to the radio
    ("radio.frameOut", "sec.frameIn"),
    ("sec.commandOut", "cmdDisp.commandIn"),
    ("sec.tmOut", "radio.tmProtectionIn"),
    ("schedule.commandOut", "cmdDisp.commandIn"),
    ("monitor.commandOut", "cmdDisp.commandIn"),
    ("node.armOut", "cmdDisp.armIn"),
    # the command audit: every frame refused, every command's fate
    ("sec.auditOut", "audit.recordIn"),
    ("cmdDisp.auditOut", "audit.recordIn"),
    # health pings of the radio's uplink thread
    ("radio.watchOut", "health.watchIn"),
    ("radio.pongOut", "health.pongIn"),
    # the board, seen through the EPS
    ("eps.fastReadingsOut", "power.readingsIn"),  # 10 Hz: under-voltage protection
    ("eps.readingsOut", "power.readingsIn"),
    ("eps.readingsOut", "thermal.readingsIn"),
    ("eps.readingsOut", "compute.readingsIn"),
    ("eps.fastReadingsOut", "compute.readingsIn"),  # 10 Hz: the board's work items
    ("power.switchOut", "eps.switchIn"),
    ("thermal.switchOut", "eps.switchIn"),
    ("compute.payloadOut", "eps.payloadIn"),
    ("compute.payloadWorkOut", "eps.workIn"),
    # what power and thermal offer compute
    ("power.outlookOut", "compute.outlookIn"),
    ("thermal.stateOut", "compute.thermalIn"),
    # large data both ways
    ("compute.downlinkOut", "lds.queueIn"),
    ("audit.downlinkOut", "lds.queueIn"),
    ("lds.uplinkOut", "compute.uplinkIn"),
)


def dictionary(instances=INSTANCES) -> Dictionary:
    """The node's dictionary, from the class declarations of its instances."""
    return build_dictionary(DICTIONARY_VERSION, [i.component.declare(i.name, i.id_base) for i in instances])


def _end(components: dict[str, Component], ref: str) -> tuple[Component, str]:
    name, _, port = ref.partition(".")
    if name not in components or not port:
        raise PortError(f"connection end {ref!r}: no instance {name!r} (instances: {', '.join(components)})")
    return components[name], port


def wire(components: dict[str, Component], connections=CONNECTIONS) -> None:
    """Connect every output port to its input ports, checking both ends; then check that every
    declared port of every instance is used."""
    used: set[tuple[str, str]] = set()
    for out_ref, in_ref in connections:
        src, out_port = _end(components, out_ref)
        dst, in_port = _end(components, in_ref)
        port, handler = dst.input_port(in_port)
        src.port_set.connect(out_port, port, handler, in_ref)
        used |= {(src.name, out_port), (dst.name, in_port)}
    for comp in components.values():
        for p in comp.ports:
            if (comp.name, p.name) not in used:
                raise PortError(f"{comp.name}.{p.name} ({p.direction}put port) is not connected in the topology")
