"""Assembling a node: components from configuration, their declarations into one dictionary,
the services wired to each other, and the rate groups filled with what each component schedules.
"""
from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field

from gridfree.flight.app import topology
from gridfree.flight.app.config import ConfigError, NodeConfig, Table
from gridfree.flight.app.keys import ledger_signing_key
from gridfree.flight.core.bus import SoftwareBus
from gridfree.flight.core.clock import LockstepClock, RealClock
from gridfree.flight.core.component import Component
from gridfree.flight.core.context import NodeContext, TelemetryDb
from gridfree.flight.core.messages import INSECURE, CommandPacket, Origin
from gridfree.flight.core.downlink import Downlink
from gridfree.flight.core.modes import ModeMachine
from gridfree.flight.core.scheduler import RateGroup, Scheduler
from gridfree.flight.core.services.monitoring import EventAction, Pmon
from gridfree.flight.hardware.energy import discover_energy_meter
from gridfree.flight.hardware.drivers import open_board
from gridfree.flight.hardware.interfaces import PowerBoard
from gridfree.protocols.config import LinkConfig, LinkConfigError
from gridfree.protocols.pus import PusTc


def _pmons(t: Table) -> list[Pmon]:
    out = []
    for i, raw in enumerate(t.data.get("monitoring", [])):
        m = Table(raw, t.source, f"monitoring[{i}]")
        out.append(Pmon(id=m.get("id", int, min=1, max=0xFFFF), channel=m.get("channel", str),
                        low=m.get("low", float, None), high=m.get("high", float, None),
                        max_delta_per_s=m.get("max_delta_per_s", float, None, min=0.0),
                        repetitions=m.get("repetitions", int, 1, min=1, max=1000),
                        window_s=m.get("window_s", float, None, min=0.1, max=86400.0)))
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
    """A node built from its configuration by the topology table (flight/app/topology.py).

    `board` replaces the configured hardware driver and `tm_sink(vc, packet)` the radio's downlink
    (a test bench wiring a board or a ground in-process); `on_reboot`, `watchdog` and `heartbeat`
    are the hooks of the process that runs the node."""

    def __init__(self, cfg: NodeConfig, reset_cause: str = "power on", *, board: PowerBoard | None = None,
                 tm_sink=None, on_reboot=None, watchdog=None, heartbeat=None, insecure: bool = False):
        self.cfg = cfg
        if cfg.keys_dir is None and not insecure:
            raise ConfigError(cfg.raw.source if cfg.raw else "<defaults>", "[security] keys",
                              "this node has no keys: make them with `gridfree keys init DIR` and set "
                              "[security] keys = \"DIR/node\", or run the node with --insecure")
        self.insecure = cfg.keys_dir is None
        raw = cfg.raw or Table({}, "<defaults>", "")
        try:
            self.link_config = LinkConfig.from_dict(raw.get("link", dict, {}), raw.source)
        except LinkConfigError as exc:
            raise ConfigError(raw.source, f"[link] {exc.key}", exc.problem) from None
        self.clock = LockstepClock() if cfg.clock == "lockstep" else RealClock()
        self.bus = SoftwareBus()
        self.stop_event = threading.Event()
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        signing_key = ledger_signing_key(cfg.keys_dir, cfg.state_dir)
        if "sdls" in raw.data.get("link", {}):
            raise ConfigError(raw.source, "[link] sdls", "follows [security] keys (a node with keys seals every "
                                                         "TM frame, an --insecure one none); remove the key")
        self.link_config = dataclasses.replace(self.link_config, sdls=not self.insecure)
        self.dictionary = topology.dictionary()
        pmons, action_specs = _pmons(raw), _actions(raw)
        actions = [self._action(s, raw.source) for s in action_specs]
        if cfg.raw is not None:
            raw.finish()

        arguments = {
            "node": dict(state_dir=cfg.state_dir, reset_cause=reset_cause, on_reboot=on_reboot, watchdog=watchdog),
            "params": dict(store_path=cfg.state_dir / "parameters.bin"),
            "schedule": dict(store_path=cfg.state_dir / "schedule.bin"),
            "monitor": dict(pmons=pmons, actions=actions),
            "power": dict(battery_fitted=cfg.battery_fitted),
            "radio": dict(url=cfg.radio_url, link_config=self.link_config),
            "eps": dict(board=board if board is not None else open_board(cfg.hardware_driver, cfg.hardware_url)),
            "compute": dict(state_dir=cfg.state_dir, signing_key=signing_key, energy_meter=discover_energy_meter(),
                            work_scale=cfg.work_scale),
            "sec": dict(keys_dir=cfg.keys_dir),
            "audit": dict(state_dir=cfg.state_dir),
        }
        self.components: dict[str, Component] = {
            i.name: i.component(i.name, i.id_base, **arguments.get(i.name, {})) for i in topology.INSTANCES}
        topology.wire(self.components)

        self.modes = ModeMachine(self.clock.now, self.bus.publish)
        self.downlink = Downlink(cfg.apid, self.clock, tm_sink or self.components["radio"].sink)
        self.telemetry = TelemetryDb(self.dictionary)
        self.ctx = NodeContext(self.clock, self.bus, self.dictionary, self.telemetry, self.components["events"],
                               self.components["params"], self.downlink, self.modes)
        for c in self.components.values():
            c.attach(self.ctx)
        self.components["cmdDisp"].route(list(self.components.values()))

        rates = cfg.rates
        self.groups = {"fast": RateGroup("fast", 1 / rates.fast_hz), "slow": RateGroup("slow", 1 / rates.slow_hz),
                       "background": RateGroup("background", 1 / rates.background_hz)}
        for c in self.components.values():
            for group, members in c.schedule().items():
                self.groups[group].members.extend(members)
        if heartbeat is not None:
            self.groups["slow"].members.append(heartbeat)
        self.scheduler = Scheduler(self.clock, list(self.groups.values()), on_error=self._member_failed)
        self.member_errors: list[str] = []

    def __getattr__(self, name: str) -> Component:
        """`node.power` is the instance called "power": for test benches and tools that observe."""
        components = self.__dict__.get("components", {})
        if name in components:
            return components[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or component instance {name!r}")

    def submit(self, packet: bytes, origin: Origin = INSECURE) -> bool:
        """Hand a TC packet to the dispatcher as if it had come through SA `origin` (test benches,
        in-process drivers: the operator's by default)."""
        return self.components["cmdDisp"].commandIn_handler(CommandPacket(packet, origin))

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
            self.components["radio"].open()
        self.components["sec"].start()  # TM protection in place before the first frame goes down
        self.components["node"].start()
        self.scheduler.start()

    def run(self) -> None:
        """Real time: run the rate groups until `stop_event` is set."""
        self.scheduler.run(self.stop_event)

    def step_to(self, t: float) -> int:
        """Lockstep: run every tick due up to onboard time `t`."""
        return self.scheduler.advance_to(t)

    def stop(self) -> None:
        self.stop_event.set()
        for c in reversed(list(self.components.values())):
            c.stop()
