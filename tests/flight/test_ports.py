"""Typed ports and the topology: a wiring mistake fails at build, with the names in the message;
a call through a port checks its value's type; fan-out reaches every input in order."""
from dataclasses import dataclass

import pytest

from gridfree.flight.app import topology
from gridfree.flight.core.component import Component
from gridfree.flight.core.ports import InPort, OutPort, PortError


@dataclass(frozen=True)
class Reading:
    value: float


@dataclass(frozen=True)
class Other:
    value: float


class Sensor(Component):
    ports = (OutPort("readingOut", Reading, fan_out=True), OutPort("askOut", Reading, returns=bool))


class Consumer(Component):
    ports = (InPort("readingIn", Reading), InPort("askIn", Reading, returns=bool))

    def __init__(self, name, id_base=0):
        super().__init__(name, id_base)
        self.got = []

    def readingIn_handler(self, r: Reading) -> None:
        self.got.append(r.value)

    def askIn_handler(self, r: Reading) -> bool:
        return r.value > 0


class Listener(Consumer):
    ports = (InPort("readingIn", Reading),)


class WrongType(Component):
    ports = (InPort("readingIn", Other),)

    def readingIn_handler(self, r):
        pass


class NoHandler(Component):
    ports = (InPort("readingIn", Reading),)


def build(*pairs, **components):
    topology.wire(components, pairs)
    return components


def test_fan_out_reaches_every_connected_input_in_topology_order():
    c = build(("s.readingOut", "a.readingIn"), ("s.readingOut", "b.readingIn"), ("s.askOut", "a.askIn"),
              s=Sensor("s"), a=Consumer("a"), b=Listener("b"))
    assert c["s"].out("readingOut", Reading(1.5)) is None
    assert c["a"].got == [1.5] and c["b"].got == [1.5]
    assert c["s"].out("askOut", Reading(2.0)) is True and c["s"].out("askOut", Reading(-1.0)) is False


def test_a_value_of_the_wrong_type_is_refused_at_the_call():
    c = build(("s.readingOut", "a.readingIn"), ("s.askOut", "a.askIn"), s=Sensor("s"), a=Consumer("a"))
    with pytest.raises(PortError, match=r"s.readingOut takes Reading, got Other"):
        c["s"].out("readingOut", Other(1.0))


@pytest.mark.parametrize("pairs, parts, message", [
    ((("s.readingOut", "w.readingIn"),), dict(s=Sensor("s"), w=WrongType("w")), "sends Reading, w.readingIn takes Other"),
    ((("s.readingOut", "n.readingIn"),), dict(s=Sensor("s"), n=NoHandler("n")), "has no readingIn_handler"),
    ((("s.nope", "a.readingIn"),), dict(s=Sensor("s"), a=Consumer("a")), "s has no output port 'nope'"),
    ((("s.readingOut", "x.readingIn"),), dict(s=Sensor("s")), "no instance 'x'"),
    ((("s.readingOut", "a.askIn"),), dict(s=Sensor("s"), a=Consumer("a")), "expects nothing back, a.askIn returns bool"),
    ((("s.askOut", "a.readingIn"),), dict(s=Sensor("s"), a=Consumer("a")), "expects bool back, a.readingIn returns nothing"),
    ((("s.askOut", "a.askIn"), ("s.askOut", "b.askIn")), dict(s=Sensor("s"), a=Consumer("a"), b=Consumer("b")),
     "connected twice but is not a fan-out port"),
    ((("s.readingOut", "a.readingIn"),), dict(s=Sensor("s"), a=Consumer("a")), "is not connected in the topology"),
])
def test_wiring_mistakes_fail_at_build_and_say_where(pairs, parts, message):
    with pytest.raises(PortError, match=message):
        topology.wire(parts, pairs)


def test_an_unconnected_port_that_must_answer_is_a_wiring_error_at_the_call():
    s = Sensor("s")
    with pytest.raises(PortError, match="s.askOut is not connected"):
        s.out("askOut", Reading(1.0))
    assert s.out("readingOut", Reading(1.0)) is None  # a notification nobody listens to is allowed


def test_the_node_topology_connects_every_declared_port_with_matching_types():
    instances = {i.name: i for i in topology.INSTANCES}
    assert len(instances) == len(topology.INSTANCES)
    assert len({i.id_base for i in topology.INSTANCES}) == len(topology.INSTANCES)
    declared = {(i.name, p.name) for i in topology.INSTANCES for p in i.component.ports}
    used = {tuple(ref.split(".")) for pair in topology.CONNECTIONS for ref in pair}
    assert declared == used
    for out_ref, in_ref in topology.CONNECTIONS:
        (src, out_name), (dst, in_name) = out_ref.split("."), in_ref.split(".")
        out_port = {p.name: p for p in instances[src].component.ports}[out_name]
        in_port = {p.name: p for p in instances[dst].component.ports}[in_name]
        assert (out_port.direction, in_port.direction) == ("out", "in")
        assert issubclass(out_port.type, in_port.type), (out_ref, in_ref)


def test_the_dictionary_comes_from_declarations_without_building_a_node_or_opening_a_driver(monkeypatch):
    from gridfree.flight import dictionary as flight_dictionary
    from gridfree.flight.hardware import drivers

    def no_driver(*_a, **_k):
        raise AssertionError("the dictionary opened a hardware driver")

    monkeypatch.setattr(drivers, "open_board", no_driver)
    d = flight_dictionary.node_dictionary()
    assert d.channel_by_name["power.Soc"].id == 0x0200 + 1
    assert d.command_by_name["compute.Submit"].opcode == 0x0400 + 1
    assert {n.partition(".")[0] for n in d.channel_by_name} == {i.name for i in topology.INSTANCES
                                                                 if i.component.channels}
