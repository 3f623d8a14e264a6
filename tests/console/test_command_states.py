"""Command states an operator can trust: each command's life in the history, every step timed,
a failure with its stage, code and whole reason, a command the link never took shown as not
sent, and an event log whose rows and messages are all there to read."""
from __future__ import annotations

import pytest
from PySide6.QtGui import QGuiApplication

from gridfree.ground.console.commanding import CommandSender
from gridfree.ground.console.logmodels import CommandHistoryModel
from gridfree.ground.console.models import TOOLTIP
from gridfree.ground.console.logviews import STATE_LABELS
from gridfree.ground.link.client import GroundClient
from gridfree.ground.link.commands import (ACCEPTED, COMPLETED, FAILED, QUEUED, SENT, STARTED, TIMEOUT,
                                           CommandTracker)
from gridfree.protocols.pus import AckFlags, PusTc
from gridfree.protocols.services.verification import FailureCode, Subtype, VerificationReport
from tests.console.conftest import T0, FakeClient
from tests.integration.conftest import free_port
from tests.keys import operator, tenant

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")  # the offscreen platform, see test_window.py

LONG_REASON = ("ClockWentBackwards: t=1774008001.0 is before the last entry's t=1774011601.0 in the ledger of "
               "tenant 7; the node keeps its tokens in time order, so correlate the clock (time.Correlate) or "
               "restart with a fresh state directory before setting the quota again. " * 2).strip()


class TrackerClient(FakeClient):
    """The fake source with the real client's command side: a real `CommandTracker` makes the
    TC packet and its handle; the test plays the node by feeding it PUS 1 reports as they come
    off the wire (packed, then decoded)."""

    def __init__(self, dictionary):
        super().__init__(dictionary)
        self.tracker = CommandTracker(apid=100, source_id=1)
        self.tc_packets: list[bytes] = []

    def send(self, name, **args):
        cmd = self.dictionary.command_by_name[name]
        packet, handle = self.tracker.packet(name, cmd.service, cmd.subtype, cmd.encode_args(**args))
        self.tc_packets.append(packet)
        self.sent.append((name, args))
        return handle

    def node_reports(self, handle, subtype: Subtype, code: FailureCode | None = None, reason: str = ""):
        rep = VerificationReport(subtype, handle.request, failure=code, failure_data=reason.encode())
        got = self.tracker.report(VerificationReport.unpack(int(subtype), rep.pack()))
        assert got is handle
        self.emit("verification", handle)


@pytest.fixture
def tracked(qtbot, dictionary, tmp_path):
    from gridfree.ground.console.mainwindow import MainWindow

    client = TrackerClient(dictionary)
    w = MainWindow(client, settings_path=tmp_path / "console.ini", confirm=lambda cmd, args: True)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w, client


def send(window, name, **args):
    window.command_sender.select(name)
    for k, v in args.items():
        window.command_sender.inputs[k].set(v)
    window.command_sender.send_button.click()
    return window.history.handle(window.history.rowCount() - 1)


def states(handle):
    return [t.state for t in handle.lifecycle()]


# ---- the life of a command, as the node reports it --------------------------------------------------

def test_a_command_the_node_completes_goes_queued_sent_accepted_started_completed(qtbot, tracked):
    w, client = tracked
    h = send(w, "test.Ping")
    assert PusTc.unpack(client.tc_packets[0]).ack == AckFlags.ALL  # the console asks for the reports it shows
    assert w.history.status(0) == SENT and states(h) == [QUEUED, SENT]
    client.node_reports(h, Subtype.ACCEPTANCE_OK)
    qtbot.waitUntil(lambda: w.history.status(0) == ACCEPTED)
    client.node_reports(h, Subtype.START_OK)
    client.node_reports(h, Subtype.COMPLETION_OK)
    qtbot.waitUntil(lambda: w.history.status(0) == COMPLETED)
    assert states(h) == [QUEUED, SENT, ACCEPTED, STARTED, COMPLETED]
    times = [t.time_s for t in h.lifecycle()]
    assert times == sorted(times)
    detail = w.history.index(0, w.history.DETAIL).data()
    assert detail.startswith("SENT → ACCEPTED +") and " → STARTED +" in detail and " → COMPLETED +" in detail
    full = w.history.details(0)
    assert [line.split()[1] for line in full.splitlines()[2:]] == states(h)  # each state with its UTC time
    assert w.history_table.details.toPlainText() == full  # nothing selected: the newest command, in full


def test_a_failure_shows_its_stage_code_and_whole_reason_however_long(qtbot, tracked):
    w, client = tracked
    h = send(w, "compute.SetQuota", tenant=7, tokens=1000)
    client.node_reports(h, Subtype.ACCEPTANCE_OK)
    client.node_reports(h, Subtype.START_OK)
    client.node_reports(h, Subtype.COMPLETION_FAILED, FailureCode.EXECUTION_ERROR, LONG_REASON)
    qtbot.waitUntil(lambda: w.history.status(0) == "FAILED (completion)")
    assert h.failed and states(h)[-1] == FAILED
    cell = w.history.index(0, w.history.DETAIL)
    assert cell.data() == f"EXECUTION_ERROR: {LONG_REASON}"
    view = w.history_table.view
    assert view.fontMetrics().horizontalAdvance(cell.data()) > view.columnWidth(w.history.DETAIL)  # it is cut...
    for col in range(w.history.columnCount()):  # ...but every cell's tooltip has all of it
        assert LONG_REASON in w.history.index(0, col).data(TOOLTIP)
    view.selectRow(0)
    assert LONG_REASON in w.history_table.details.toPlainText()
    assert LONG_REASON in w.history_table.copy() and LONG_REASON in QGuiApplication.clipboard().text()
    for label in STATE_LABELS + ("FAILED (acceptance)",):  # no more "FAILED (accept…"
        assert view.columnWidth(w.history.STATE) >= view.fontMetrics().horizontalAdvance(label)


def test_a_rejected_command_fails_at_acceptance_with_the_code_by_name(qtbot, tracked):
    w, client = tracked
    h = send(w, "node.Reboot")
    reason = "node.Reboot is hazardous: send node.Arm first"
    client.node_reports(h, Subtype.ACCEPTANCE_FAILED, FailureCode.NOT_ARMED, reason)
    qtbot.waitUntil(lambda: w.history.status(0) == "FAILED (acceptance)")
    assert w.history.index(0, 4).data() == f"NOT_ARMED: {reason}"
    assert states(h) == [QUEUED, SENT, FAILED]


def test_an_overdue_report_is_a_timeout_and_a_late_one_still_moves_the_command_on(qtbot, dictionary, clock):
    client = TrackerClient(dictionary)
    history = CommandHistoryModel(timeout_s=10.0, clock=clock)
    sender = CommandSender(client, history, confirm=lambda *_: True)
    qtbot.addWidget(sender)
    sender.select("test.Ping")
    h = sender.send()
    clock.advance(9.0)
    history.refresh()
    assert history.status(0) == SENT
    clock.advance(2.0)
    history.refresh()
    assert history.status(0) == "TIMEOUT (acceptance)"
    assert history.index(0, 4).data() == "no acceptance report 10 s after SENT"
    history.refresh()
    assert states(h).count(TIMEOUT) == 1  # once per overdue report, not once per tick
    client.tracker.report(VerificationReport(Subtype.ACCEPTANCE_OK, h.request))
    history.update([h])
    assert history.status(0) == ACCEPTED
    assert states(h) == [QUEUED, SENT, TIMEOUT, ACCEPTED]  # the timeout stays in its life
    clock.advance(10.5)
    history.refresh()
    assert history.status(0) == "TIMEOUT (start)"


def test_a_command_asking_for_no_start_report_is_not_timed_out_waiting_for_one(dictionary, clock):
    tracker = CommandTracker(apid=100, source_id=1)
    _, h = tracker.packet("test.Ping", 17, 1, b"", ack=AckFlags.ACCEPTANCE | AckFlags.COMPLETION)
    h.mark_sent()
    history = CommandHistoryModel(timeout_s=10.0, clock=clock)
    history.add(h)
    tracker.report(VerificationReport(Subtype.ACCEPTANCE_OK, h.request))
    history.update([h])
    assert h.expected_stage() == "completion"
    clock.advance(11)
    history.refresh()
    assert history.status(0) == "TIMEOUT (completion)"


# ---- a command the link never took ----------------------------------------------------------------

def test_a_command_with_no_peer_on_the_link_fails_not_sent_with_the_reason(qtbot, dictionary):
    url = f"tcp://127.0.0.1:{free_port()}"  # nothing listens here
    client = GroundClient(url, dictionary).connect()
    try:
        history = CommandHistoryModel()
        sender = CommandSender(client, history, confirm=lambda *_: True)
        qtbot.addWidget(sender)
        sender.select("test.Ping")
        h = sender.send()
        assert history.status(0) == "FAILED (not sent)" and h.failed and not h.completed
        assert states(h) == [QUEUED, FAILED]
        assert history.index(0, 4).data().startswith(f"not sent: the link dropped it: no peer at {url}")
        assert "Not sent: the link dropped it" in sender.error.text()
    finally:
        client.close()
    sender.select("test.Ping")
    h = sender.send()  # the link is closed now: nothing is even tried
    assert history.status(1) == "FAILED (not sent)"
    assert history.index(1, 4).data() == f"not sent: the link to {url} is closed"


def test_a_client_never_connected_fails_not_sent(qtbot, dictionary):
    client = GroundClient(f"tcp://127.0.0.1:{free_port()}", dictionary)  # connect() never called
    history = CommandHistoryModel()
    sender = CommandSender(client, history, confirm=lambda *_: True)
    qtbot.addWidget(sender)
    sender.select("test.Ping")
    sender.send()
    assert history.status(0) == "FAILED (not sent)"
    assert history.index(0, 4).data() == f"not sent: not connected to {client.url}"


# ---- a real node ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_against_a_real_node_completion_and_failure_with_their_times(qtbot, node, dictionary, tmp_path):
    from gridfree.ground.console.mainwindow import MainWindow

    client = GroundClient(node.url, dictionary, security=operator(node.keys)).connect()
    w = MainWindow(client, settings_path=tmp_path / "console.ini", confirm=lambda cmd, args: True)
    qtbot.addWidget(w)
    w.show()
    try:
        qtbot.waitUntil(lambda: client.link.stats.connected, timeout=10_000)
        ok = send(w, "test.Ping")
        bad = send(w, "test.ConnectionTest", apid=7)  # no such application on board: fails at completion
        h = w.history
        qtbot.waitUntil(lambda: all(x.final for x in (ok, bad)), timeout=15_000)
        qtbot.waitUntil(lambda: h.status(1).startswith(FAILED), timeout=5_000)
        assert states(ok) == [QUEUED, SENT, ACCEPTED, STARTED, COMPLETED] and h.status(0) == COMPLETED
        assert all(t.time_s > 0 for t in ok.lifecycle())
        assert h.status(1) == "FAILED (completion)"
        assert h.index(1, 4).data() == "ILLEGAL_APID: no on-board application with APID 7"
        assert states(bad) == [QUEUED, SENT, ACCEPTED, STARTED, FAILED]
    finally:
        w.close()
        client.close()
    # The console arms a confirmed hazardous command since issue 17, so a missing arm no longer
    # shows a failure at acceptance; a tenant's console sending what its role may not send does.
    # (One ground at a time: both clients would number their first command alike, and the node's
    # reports go to every client on the link.)
    client = GroundClient(node.url, dictionary, security=tenant(node.keys, 1)).connect()
    w = MainWindow(client, settings_path=tmp_path / "tenant.ini", confirm=lambda cmd, args: True)
    qtbot.addWidget(w)
    w.show()
    try:
        qtbot.waitUntil(lambda: client.link.stats.connected, timeout=10_000)
        refused = send(w, "test.Ping")  # operator only: refused at acceptance
        h = w.history
        qtbot.waitUntil(lambda: refused.final, timeout=15_000)
        qtbot.waitUntil(lambda: h.status(0).startswith(FAILED), timeout=5_000)
        assert states(refused) == [QUEUED, SENT, FAILED] and all(t.time_s > 0 for t in refused.lifecycle())
        assert h.status(0) == "FAILED (acceptance)"
        assert h.index(0, 4).data() == ("NOT_AUTHORISED: test.Ping is for the operator role; "
                                        "tenant 1 (SPI 257) may not send it")
    finally:
        w.close()
        client.close()


# ---- the event log ---------------------------------------------------------------------------------

def test_the_event_log_shows_its_top_row_whole_and_every_message_in_full(qtbot, window, fake):
    reason = "ClockWentBackwards: t=1774008001.0 is before the last entry's t=1774011601.0, so nothing"
    for i in range(60):
        fake.event("cmdDisp.Failed", t=T0 + i, command="compute.SetQuota", code=11, reason=reason)
    log = window.event_log
    qtbot.waitUntil(lambda: window.events.rowCount() == 60)
    view = log.view
    qtbot.waitUntil(lambda: view.verticalScrollBar().value() == view.verticalScrollBar().maximum())
    top = view.rowAt(0)
    assert top > 0  # following the newest: scrolled
    assert view.visualRect(view.model().index(top, 0)).top() >= 0  # not half under the header
    last = view.visualRect(view.model().index(59, 0))
    assert last.bottom() <= view.viewport().height()  # and the newest whole at the bottom
    assert view.rowHeight(0) >= view.fontMetrics().height()
    message = window.events.index(59, 3).data()
    assert reason in message and reason in window.events.index(59, 3).data(TOOLTIP)  # the tooltip, whole
    view.selectRow(59)
    assert reason in log.details.toPlainText()
    assert "reason = " in log.details.toPlainText()  # and each argument the node sent
    assert reason in log.copy()


def test_the_packet_viewer_names_a_failure_report_and_shows_its_whole_reason(dictionary):
    from gridfree.ground.console.packets import decoded_fields, describe
    from gridfree.ground.link.records import PacketRecord
    from gridfree.protocols.pus import CucTime, PusTm
    from gridfree.protocols.services.verification import RequestId

    rep = VerificationReport(Subtype.COMPLETION_FAILED, RequestId(0x1864, 0xC005), failure=FailureCode.EXECUTION_ERROR,
                             failure_data=LONG_REASON.encode())
    raw = PusTm(apid=100, service=1, subtype=8, app_data=rep.pack(), time=CucTime.from_unix(T0)).pack()
    rec = PacketRecord(raw, 100, 1, 8, 0, T0)
    assert describe(dictionary, rec) == "TM[1,8] verification: completion failed EXECUTION_ERROR (seq 5)"
    fields = dict(decoded_fields(dictionary, raw))
    assert fields["request"] == "APID 100, sequence count 5" and fields["failure code"] == "EXECUTION_ERROR (11)"
    assert fields["reason"] == LONG_REASON
    garbled = PusTm(apid=100, service=1, subtype=8, app_data=b"\x18", time=CucTime.from_unix(T0)).pack()
    assert describe(dictionary, PacketRecord(garbled, 100, 1, 8, 0, T0)) == "TM[1,8] (undecodable)"
    assert "decode error" in dict(decoded_fields(dictionary, garbled))
