"""A live node's downlink recorded once, shared by the archive's replay, bulk and export tests."""
import pytest

from gridfree.ground.archive.recorder import Recorder
from gridfree.ground.link.client import GroundClient
from tests.integration.conftest import NodeProcess
from tests.keys import operator


def _same(value):
    """NaN (a measurement not made yet) compares equal to itself here, as it should in a log."""
    return "nan" if isinstance(value, float) and value != value else value


def collect(client):
    seen = []
    client.subscribe(lambda kind, item: seen.append(
        (kind, item.channel, _same(item.value), item.time_s) if kind == "sample" else
        (kind, item.event_id, item.text, item.time_s) if kind == "event" else (kind,)))
    return seen


@pytest.fixture(scope="package")
def recorded(tmp_path_factory, dictionary):
    """Five seconds of a live node's downlink, with a command in the middle, recorded through the
    operator's authenticated link: the node has keys, so its TM frames carry SDLS fields."""
    tmp = tmp_path_factory.mktemp("rec")
    node = NodeProcess(tmp)
    try:
        g = GroundClient(node.url, dictionary, security=operator(node.keys))
        live = collect(g)
        rec = Recorder(tmp / "log", dictionary).attach(g)
        with g:
            assert g.wait_until(lambda: "node.Mode" in g.latest, 15)
            assert g.send("test.Ping").wait(5).completed
            g.wait_until(lambda: False, 4.0)
        rec.close()
        stats = g.decoder.stats
    finally:
        node.stop()
    live = [x for x in live if x[0] != "verification"]  # a replay has no commands of its own to verify
    assert stats.auth_ok > 0 and stats.auth_failed == 0  # every frame recorded was authenticated live
    return tmp / "log", live, stats, rec.stats


