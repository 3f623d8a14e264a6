"""Security status: which SA the console commands through, whether telemetry is genuine, and what
the node has refused.

Three questions an operator must be able to answer at a glance once the link is authenticated
(CCSDS 355.0-B-2 SDLS): am I sending as whom I think (the SA's SPI and role, or nobody: an
unauthenticated link that only a node run with --insecure accepts); is what I see real (every
recent TM frame's MAC checked, or some failing, or none checked at all); and is someone knocking
(the node's rejection counters from its `sec.Status` housekeeping, by reason). Anything short of
"authenticated" is shown in red: a console that looks normal while its telemetry is unchecked is
the failure this panel exists to prevent.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from gridfree.ground.console.style import BADGE
from gridfree.ground.link.source import TelemetrySource

#: The node's SDLS counters (flight/security, sec.Status housekeeping), with the label shown.
NODE_COUNTERS = (
    ("sec.FramesAccepted", "Frames accepted"),
    ("sec.RejectedMac", "Rejected: MAC"),
    ("sec.RejectedReplay", "Rejected: replay"),
    ("sec.RejectedUnknownSpi", "Rejected: unknown SPI"),
    ("sec.RejectedSaStopped", "Rejected: SA stopped"),
    ("sec.RejectedFecf", "Rejected: FECF"),
    ("sec.RejectedLength", "Rejected: length"),
)
NODE_INSECURE = "sec.Insecure"
BAD = "color: #b3261e; font-weight: bold;"
GOOD = "color: #188038;"

AUTHENTICATED, FAILING, NOT_AUTHENTICATED, WAITING = "authenticated", "FAILING", "not authenticated", "waiting"


def uplink_text(client: Any) -> tuple[str, bool]:
    """(what the console sends through, whether that is trouble)."""
    if not getattr(client, "can_command", False):
        return "none: this source cannot send", False
    security = getattr(client, "security", None)
    if security is None:
        return "NONE: unauthenticated link (only a node run with --insecure accepts it)", True
    sa = security.tc_sa
    service = "encrypted" if sa.encrypt else "authenticated only"
    return f"{security.origin_text}, {service}", False


def tm_state(client: Any) -> tuple[str, str]:
    """(state, text): AUTHENTICATED, FAILING (with the counts), NOT_AUTHENTICATED or WAITING."""
    auth = getattr(client, "tm_auth", None)
    if auth is None or not auth.sdls:
        return NOT_AUTHENTICATED, "NOT AUTHENTICATED: plain TM frames, anyone in view could have sent them"
    if not auth.checking:
        return NOT_AUTHENTICATED, (f"NOT AUTHENTICATED: no TM SA here to check them; {auth.unchecked} "
                                   f"frame{'s' if auth.unchecked != 1 else ''} read unchecked")
    counts = f"{auth.authenticated} ok, {auth.failed} failed, {auth.replayed} replayed"
    if auth.verified is None:
        return WAITING, f"checking; no frame yet ({counts})"
    if auth.verified:
        return AUTHENTICATED, f"authenticated ({counts})"
    bad = auth.recent - auth.recent_ok
    why = f"; last: {auth.last_error}" if auth.last_error else ""
    return FAILING, f"FAILING: {bad} of the latest {auth.recent} frames refused ({counts}){why}"


class SecurityPanel(QWidget):
    def __init__(self, client: TelemetrySource, parent=None):
        super().__init__(parent)
        self.client = client
        self.values: dict[str, Any] = {}
        self.labels: dict[str, QLabel] = {}
        form = QFormLayout()
        rows = [("uplink", "Commands go through"), ("tm", "Telemetry"), ("audit", "Ground audit"),
                ("node", "Node")] + [(name, label) for name, label in NODE_COUNTERS]
        for key, label in rows:
            value = QLabel("—")
            value.setObjectName(f"security_{key}")
            value.setWordWrap(True)
            self.labels[key] = value
            form.addRow(label, value)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addStretch(1)

    def _counter(self, name: str) -> int | None:
        sample = self.client.latest.get(name)
        return None if sample is None else int(sample.value)

    def snapshot(self) -> dict[str, Any]:
        """What is shown, as plain values (also what tests read)."""
        c = self.client
        uplink, uplink_bad = uplink_text(c)
        state, tm = tm_state(c)
        audit = getattr(c, "audit", None)
        insecure = c.latest.get(NODE_INSECURE)
        return {"uplink": uplink, "uplink_bad": uplink_bad, "tm_state": state, "tm": tm,
                "audit": f"{audit.path} ({audit.commands} sent this session)" if audit is not None else "none",
                "node_insecure": None if insecure is None else bool(insecure.value),
                "counters": {name: self._counter(name) for name, _ in NODE_COUNTERS}}

    def refresh(self, badge: QLabel | None = None) -> dict[str, Any]:
        """Update the panel, and `badge` (the status bar's) with the summary, red on trouble."""
        v = self.values = self.snapshot()
        self._show("uplink", v["uplink"], BAD if v["uplink_bad"] else "")
        self._show("tm", v["tm"], GOOD if v["tm_state"] == AUTHENTICATED else "" if v["tm_state"] == WAITING else BAD)
        self._show("audit", v["audit"], "")
        node = {None: "not reported yet", True: "INSECURE: runs without keys, takes any frame",
                False: "checks every frame (SDLS)"}[v["node_insecure"]]
        self._show("node", node, BAD if v["node_insecure"] else "")
        for name, count in v["counters"].items():
            rejected = name != "sec.FramesAccepted" and bool(count)
            self._show(name, "—" if count is None else str(count), BAD if rejected else "")
        if badge is not None:
            badge.setText(self.summary())
            badge.setStyleSheet(BADGE.format(bg="#b3261e") if self.trouble else "")
        return v

    def _show(self, key: str, text: str, style: str) -> None:
        label = self.labels[key]
        label.setText(text)
        label.setStyleSheet(style)

    def summary(self) -> str:
        """A few words for the status bar: the SA and the TM state."""
        v = self.values
        if not v:
            return ""
        security = getattr(self.client, "security", None)
        if not getattr(self.client, "can_command", False):
            sa = "no uplink"  # a replayed log: nothing is sent, authenticated or not
        else:
            sa = f"SPI {security.tc_sa.spi}" if security is not None else "UNAUTHENTICATED uplink"
        rejected = sum(n or 0 for name, n in v["counters"].items() if name != "sec.FramesAccepted")
        return f"{sa} · TM {v['tm_state']}" + (f" · node refused {rejected}" if rejected else "")

    @property
    def trouble(self) -> bool:
        v = self.values
        return bool(v) and (v["uplink_bad"] or v["tm_state"] in (FAILING, NOT_AUTHENTICATED)
                            or bool(v["node_insecure"]))
