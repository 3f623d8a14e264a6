"""The console's security status, on the real window: the SA commands go through, whether the
telemetry is authenticated (and red when it is not, or failing), the node's rejection counters;
and a hazardous command, once confirmed, goes with its node.Arm through the same SA."""
from __future__ import annotations

import pytest

from gridfree.ground.console.security import AUTHENTICATED, FAILING, NODE_COUNTERS, NOT_AUTHENTICATED
from gridfree.ground.keys.session import GroundSecurity
from gridfree.ground.link.client import ARM_WINDOW_S, GroundClient
from tests.console.conftest import FakeClient
from tests.links.fake_sdls_node import ground_copy, init_mission, node_radio

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")  # the offscreen platform, see test_window.py


def _window(qtbot, client, tmp_path, confirm=lambda cmd, args: True):
    from gridfree.ground.console.mainwindow import MainWindow

    w = MainWindow(client, settings_path=tmp_path / "console.ini", confirm=confirm)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return init_mission(tmp_path_factory.mktemp("mission"))


@pytest.fixture
def secured(qtbot, dictionary, keys, tmp_path):
    """A console on a live GroundClient with the ground's keys, and the node's radio (played by
    the test) that checks its frames with raw AES-GCM and seals its TM under the node's TM SA, or
    under `node_tm_key` when given (a key the ground does not hold)."""
    made = []
    ground = ground_copy(keys, tmp_path)

    def make(node_tm_key=None, confirm=lambda cmd, args: True):
        node = node_radio(keys, tm_key=node_tm_key)
        client = GroundClient(node.url, dictionary, security=GroundSecurity.load(ground)).connect()
        made.append((node, client))
        return node, client, _window(qtbot, client, tmp_path, confirm)

    yield make
    for node, client in made:
        client.close()
        node.close()


def test_the_panel_names_the_sa_and_says_telemetry_is_authenticated(qtbot, secured):
    node, client, w = secured()
    client.send("test.Ping")  # the fake node answers in sealed TM frames
    panel = w.security_panel
    qtbot.waitUntil(lambda: panel.values.get("tm_state") == AUTHENTICATED, timeout=10_000)
    assert panel.labels["uplink"].text() == "operator, SPI 1, encrypted"
    assert panel.labels["tm"].text().startswith("authenticated (")
    assert "SPI 1" in w.security_label.text() and "TM authenticated" in w.security_label.text()
    assert not panel.trouble
    assert panel.labels["audit"].text().endswith("audit.jsonl (1 sent this session)")


def test_telemetry_under_a_key_the_ground_does_not_hold_shows_failing_in_red(qtbot, secured):
    node, client, w = secured(node_tm_key=bytes(32))
    client.send("test.Ping")
    panel = w.security_panel
    qtbot.waitUntil(lambda: panel.values.get("tm_state") == FAILING, timeout=10_000)
    assert panel.labels["tm"].text().startswith("FAILING: ") and "failed" in panel.labels["tm"].text()
    assert "b3261e" in panel.labels["tm"].styleSheet() and "b3261e" in w.security_label.styleSheet()
    assert panel.trouble


def test_a_confirmed_hazardous_command_goes_with_its_arm_through_the_same_sa(qtbot, secured, dictionary):
    asked = []
    node, client, w = secured(confirm=lambda cmd, args: asked.append(cmd.name) or True)
    sender = w.command_sender
    sender.select("node.Reboot")
    assert "sends node.Arm" in sender.hazard.text()
    sender.send_button.click()
    got = node.wait_frames(2)
    arm, reboot = dictionary.command_by_name["node.Arm"], dictionary.command_by_name["node.Reboot"]
    assert asked == ["node.Reboot"]
    assert [(r.tc.service, r.tc.subtype) for r in got] == [(arm.service, arm.subtype), (reboot.service, reboot.subtype)]
    assert got[0].tc.app_data == arm.encode_args(window_s=ARM_WINDOW_S) and got[0].spi == got[1].spi == 1
    qtbot.waitUntil(lambda: w.history.rowCount() == 2)
    assert [w.history.handle(i).name for i in range(2)] == ["node.Arm", "node.Reboot"]


def test_a_declined_hazardous_command_sends_nothing_not_even_the_arm(qtbot, secured):
    node, client, w = secured(confirm=lambda cmd, args: False)
    w.command_sender.select("node.Reboot")
    w.command_sender.send_button.click()
    assert node.wait_frames(1, timeout_s=0.5) == [] and w.history.rowCount() == 0


def test_without_keys_the_uplink_is_shown_unauthenticated_and_the_node_counters_come_from_its_housekeeping(
        qtbot, dictionary, tmp_path):
    fake = FakeClient(dictionary)
    w = _window(qtbot, fake, tmp_path)
    panel = w.security_panel
    qtbot.waitUntil(lambda: bool(panel.values))
    assert panel.labels["uplink"].text().startswith("NONE: unauthenticated link")
    assert panel.values["tm_state"] == NOT_AUTHENTICATED and panel.trouble
    assert panel.labels["sec.RejectedMac"].text() == "—"  # not reported yet: no number invented
    fake.sample("sec.RejectedMac", 3)
    fake.sample("sec.RejectedReplay", 0)
    fake.sample("sec.Insecure", True)
    qtbot.waitUntil(lambda: panel.labels["sec.RejectedMac"].text() == "3")
    assert "b3261e" in panel.labels["sec.RejectedMac"].styleSheet()
    assert panel.labels["sec.RejectedReplay"].text() == "0" and panel.labels["sec.RejectedReplay"].styleSheet() == ""
    assert panel.labels["node"].text().startswith("INSECURE")
    assert "node refused 3" in w.security_label.text()


def test_a_source_that_cannot_send_says_so_rather_than_unauthenticated(qtbot, dictionary, tmp_path):
    """A replayed log sends nothing: neither the panel nor the status bar may call that an
    unauthenticated uplink."""
    fake = FakeClient(dictionary)
    fake.can_command = False
    w = _window(qtbot, fake, tmp_path)
    panel = w.security_panel
    qtbot.waitUntil(lambda: bool(panel.values))
    assert panel.labels["uplink"].text() == "none: this source cannot send"
    assert w.security_label.text().startswith("no uplink · TM ")
    assert "UNAUTHENTICATED" not in w.security_label.text()


@pytest.mark.slow
def test_on_a_real_node_the_panel_shows_its_tm_authenticated_and_the_frames_it_refused(qtbot, dictionary, tmp_path):
    """A node with keys: the console sends through the operator SA and sees the node's TM
    authenticated; a ground without keys sends a plain frame, and the node's refusal shows up in
    the panel's counters from its sec.Status housekeeping."""
    from tests.integration.conftest import NodeProcess
    from tests.keys import operator

    node = NodeProcess(tmp_path)
    client = intruder = None
    try:
        client = GroundClient(node.url, dictionary, security=operator(node.keys)).connect()
        w = _window(qtbot, client, tmp_path)
        panel = w.security_panel
        qtbot.waitUntil(lambda: panel.values.get("tm_state") == AUTHENTICATED, timeout=15_000)
        ok = client.send("test.Ping")
        qtbot.waitUntil(lambda: ok.completed, timeout=10_000)
        qtbot.waitUntil(lambda: (panel.values["counters"]["sec.FramesAccepted"] or 0) >= 1, timeout=10_000)
        assert panel.labels["node"].text() == "checks every frame (SDLS)"
        sender = w.command_sender  # hazardous: confirmed, armed through the same SA, carried out
        sender.select("node.SetMode")
        sender.inputs["mode"].set("SAFE")
        rows = w.history.rowCount()
        sender.send_button.click()
        qtbot.waitUntil(lambda: w.history.rowCount() == rows + 2 and w.history.handle(rows + 1).final, timeout=10_000)
        arm, set_mode = w.history.handle(rows), w.history.handle(rows + 1)
        assert (arm.name, set_mode.name) == ("node.Arm", "node.SetMode") and set_mode.completed, set_mode.describe()
        intruder = GroundClient(node.url, dictionary).connect()  # no keys: a plain frame
        assert intruder.wait_connected(10)
        intruder.send("test.Ping")
        refused = [name for name, _ in NODE_COUNTERS if name != "sec.FramesAccepted"]
        qtbot.waitUntil(lambda: sum(panel.values["counters"][n] or 0 for n in refused) >= 1, timeout=15_000)
        assert "node refused" in w.security_label.text()
        assert any("b3261e" in panel.labels[n].styleSheet() for n in refused)
    finally:
        for c in (intruder, client):
            if c is not None:
                c.close()
        node.stop()
