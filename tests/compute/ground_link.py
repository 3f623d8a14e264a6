"""A GroundClient joined to an in-process lockstep node through the node's own radio.

Commands go up as CLTUs into the radio's BCH decoder and TC frame checks, and on to dispatch;
telemetry comes down as TM frames into the client's decoder: the bytes a ground station and the
node exchange, with no clock between them but the test's (each write is delivered at once, so
the node's fast tick is what paces the replies)."""
from __future__ import annotations

from gridfree.ground.link.client import GroundClient
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.links import LinkStats


class Wire:
    """One direction of the radio path: what is written arrives at the other end's receiver."""

    def __init__(self, deliver):
        self.deliver, self.stats = deliver, LinkStats(connected=True)

    def write(self, data: bytes) -> None:
        self.stats.bytes_out += len(data)
        self.deliver(bytes(data))

    def close(self) -> None:
        pass


def link(node) -> GroundClient:
    """The ground, with the dictionary as it loads it (from the exported JSON), on the node's radio."""
    ground = GroundClient("inproc://radio", Dictionary.from_json(node.dictionary.to_json()),
                          apid=node.cfg.apid, link_config=node.link_config)
    ground.link = Wire(node.radio.uplink)
    node.radio.link = Wire(ground.data_received)
    return ground
