"""Assembling a node: components from configuration, their declarations into one dictionary,
the services wired to each other, and the rate groups filled with what each component schedules.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from gridfree.flight.app.config import ConfigError, NodeConfig, Table
from gridfree.flight.app.radio import Radio
from gridfree.flight.core.bus import SoftwareBus
from gridfree.flight.hardware.eps import EpsComponent
from gridfree.flight.hardware.interfaces import open_board
from gridfree.flight.compute.manager import ComputeManager
from gridfree.flight.power.manager import PowerManager
from gridfree.flight.thermal.manager import ThermalManager
from gridfree.flight.core.clock import LockstepClock, RealClock
from gridfree.flight.core.component import Component
from gridfree.flight.core.context import NodeContext, TelemetryDb
from gridfree.flight.core.dispatch import Dispatcher
from gridfree.flight.core.downlink import Downlink
from gridfree.flight.core.modes import ModeMachine
from gridfree.flight.core.nodecomp import NodeComponent
from gridfree.flight.core.scheduler import RateGroup, Scheduler
from gridfree.flight.core.services.events import EventService
from gridfree.flight.core.services.health import HealthService
from gridfree.flight.core.services.largedata import LargeDataService
from gridfree.flight.core.services.housekeeping import HousekeepingService
from gridfree.flight.core.services.monitoring import EventAction, MonitoringService, Pmon
from gridfree.flight.core.services.parameters import ParameterService
from gridfree.flight.core.services.schedule import ScheduleService
from gridfree.flight.core.services.test import TestService
from gridfree.flight.core.services.time import TimeService
from gridfree.protocols.config import LinkConfig, LinkConfigError
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.pus import PusTc

DICTIONARY_VERSION = "0.2.0"


def build_dictionary(components: list[Component]) -> Dictionary:
    decls = [c.declarations() for c in components]
    return Dictionary(
        version=DICTIONARY_VERSION,
        channels=[x for d in decls for x in d.channels],
        commands=[x for d in decls for x in d.commands],
        events=[x for d in decls for x in d.events],
        parameters=[x for d in decls for x in d.parameters],
        housekeeping=[x for d in decls for x in d.housekeeping],
    )


def _pmons(t: Table) -> list[Pmon]:
    out = []
    for i, raw in enumerate(t.data.get("monitoring", [])):
        m = Table(raw, t.source, f"monitoring[{i}]")
        out.append(Pmon(id=m.get("id", int, min=1, max=0xFFFF), channel=m.get("channel", str),
                        low=m.get("low", float, None), high=m.get("high", float, None),
                        max_delta_per_s=m.get("max_delta_per_s", float, None, min=0.0),
                        repetitions=m.get("repetitions", int, 1, min=1, max=1000)))
        m.finish()
    t.get("monitoring", list, [])
    return out


@dataclass
class _ActionSpec:
    event: str
    command: str
    args: dict
    match: dict = field(default_factory=dict)


def _actions(t: Table) -> list[_ActionSpec]:
    out = []
    for i, raw in enumerate(t.data.get("event_action", [])):
        a = Table(raw, t.source, f"event_action[{i}]")
        out.append(_ActionSpec(a.get("event", str), a.get("command", str), a.get("args", dict, {}),
                               a.get("match", dict, {})))
        a.finish()
    t.get("event_action", list, [])
    return out


class Node:
    def __init__(self, cfg: NodeConfig, reset_cause: str = "power on", on_reboot=None):
        self.cfg = cfg
        raw = cfg.raw or Table({}, "<defaults>", "")
        try:
            self.link_config = LinkConfig.from_dict(raw.get("link", dict, {}), raw.source)
        except LinkConfigError as exc:
            raise ConfigError(raw.source, f"[link] {exc.key}", exc.problem) from None
        self.clock = LockstepClock() if cfg.clock == "lockstep" else RealClock()
        self.bus = SoftwareBus()
        self.stop_event = threading.Event()
        cfg.state_dir.mkdir(parents=True, exist_ok=True)

        self.node = NodeComponent(cfg.state_dir, reset_cause, on_reboot=on_reboot)
        self.dispatcher = Dispatcher()
        self.events = EventService()
        self.hk = HousekeepingService()
        self.params = ParameterService(cfg.state_dir / "parameters.bin")
        self.monitor = MonitoringService(_pmons(raw))
        self.radio = Radio(cfg.radio_url, self.link_config)
        self.health = HealthService()
        self.radio.health = self.health.monitor
        self.schedule = ScheduleService(cfg.state_dir / "schedule.bin")
        self.eps = EpsComponent(open_board(cfg.hardware_driver, cfg.hardware_url))
        self.power = PowerManager(self.eps)
        self.thermal = ThermalManager(self.eps)
        self.large_data = LargeDataService()
        self.compute = ComputeManager(self.power, self.thermal, self.eps, self.large_data, cfg.state_dir,
                                      bytes.fromhex(cfg.ledger_key_hex), cfg.ledger_key_id)
        # Order is the order of work within a tick: commands act, sensors are read, monitoring
        # checks them, housekeeping reports them, and the radio sends what was produced.
        self.components: list[Component] = [self.node, self.dispatcher, self.events, self.params, TestService(),
                                            TimeService(), self.schedule, self.large_data, self.eps, self.power,
                                            self.thermal, self.compute, self.monitor, self.hk, self.radio,
                                            self.health]
        action_specs = _actions(raw)
        if cfg.raw is not None:
            raw.finish()

        self.dictionary = build_dictionary(self.components)
        self.modes = ModeMachine(self.clock.now, self.bus.publish)
        self.downlink = Downlink(cfg.apid, self.clock, self.radio.sink)
        self.telemetry = TelemetryDb(self.dictionary)
        self.ctx = NodeContext(self.clock, self.bus, self.dictionary, self.telemetry, self.events, self.params,
                               self.downlink, self.modes)
        self.monitor.actions = [self._action(s, raw.source) for s in action_specs]
        for c in self.components:
            c.attach(self.ctx)
        self.dispatcher.route(self.components)
        self.node.dispatcher = self.dispatcher
        self.monitor.submit = self.radio.submit = self.schedule.submit = self.dispatcher.submit

        rates = cfg.rates
        self.groups = {"fast": RateGroup("fast", 1 / rates.fast_hz), "slow": RateGroup("slow", 1 / rates.slow_hz),
                       "background": RateGroup("background", 1 / rates.background_hz)}
        for c in self.components:
            for group, members in c.schedule().items():
                self.groups[group].members.extend(members)
        self.scheduler = Scheduler(self.clock, list(self.groups.values()), on_error=self._member_failed)
        self.member_errors: list[str] = []

    def _action(self, spec: _ActionSpec, source: str) -> EventAction:
        cmd = self.dictionary.command_by_name.get(spec.command)
        if cmd is None:
            raise ConfigError(source, "[[event_action]] command", f"no command {spec.command!r}")
        if spec.event not in self.dictionary.event_by_name:
            raise ConfigError(source, "[[event_action]] event", f"no event {spec.event!r}")
        try:
            data = cmd.encode_args(**spec.args)
        except ValueError as exc:
            raise ConfigError(source, "[[event_action]] args", str(exc)) from None
        packet = PusTc(apid=self.cfg.apid, service=cmd.service, subtype=cmd.subtype, app_data=data).pack()
        return EventAction(spec.event, packet, match=spec.match)

    def _member_failed(self, group, member, exc) -> None:
        self.member_errors.append(f"{group.name}: {member}: {type(exc).__name__}: {exc}")

    # ---- life cycle -------------------------------------------------------------------------------
    def start(self, open_radio: bool = True) -> None:
        if open_radio:
            self.radio.open()
        self.node.start()
        self.scheduler.start()

    def run(self) -> None:
        """Real time: run the rate groups until `stop_event` is set."""
        self.scheduler.run(self.stop_event)

    def step_to(self, t: float) -> int:
        """Lockstep: run every tick due up to onboard time `t`."""
        return self.scheduler.advance_to(t)

    def stop(self) -> None:
        self.stop_event.set()
        for c in reversed(self.components):
            c.stop()
        self.eps.board.close()


def default_dictionary() -> Dictionary:
    """The dictionary of a node built from the default configuration (what `gridfree dict` exports)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        node = Node(NodeConfig(state_dir=Path(tmp)))
        try:
            return node.dictionary
        finally:
            node.stop()
