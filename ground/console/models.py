"""What the console's item models share: roles, colours, how a value is shown, the table shape.

The models themselves live one per module (telemetrymodel, logmodels, alarms). Views call
`data()` far more often than telemetry changes, so every model keeps the strings it shows
ready-made per row and `data()` is a lookup; updates arrive in batches from the bridge and are
told to views with `dataChanged` over the span touched, never with a model reset (which would
lose the operator's selection and scroll position at every tick).
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from gridfree.ground.alarms.condition import evaluate
from gridfree.protocols.dictionary import Channel, value_text

DISPLAY = Qt.ItemDataRole.DisplayRole
BACKGROUND = Qt.ItemDataRole.BackgroundRole
FOREGROUND = Qt.ItemDataRole.ForegroundRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole
FONT = Qt.ItemDataRole.FontRole
#: The channel name (telemetry, alarms) behind a row, for drags, context menus and tests.
NAME_ROLE = Qt.ItemDataRole.UserRole
#: What a column sorts by: numbers as numbers, times as times, not as the text shown.
SORT_ROLE = Qt.ItemDataRole.UserRole + 1

COLOURS = {
    "green": QColor("#b7e1b0"),
    "yellow": QColor("#fde68a"),
    "red": QColor("#f28b82"),
    "stale": QColor("#d9d9d9"),
    "invalid": QColor("#d7c8ee"),  # no measurement: neither a limit colour nor old data's grey
}
GREY_TEXT = QColor("#7a7a7a")
SEVERITY_ORDER = {"invalid": -1, "green": 0, "yellow": 1, "red": 2}


# ---- formatting ---------------------------------------------------------------------------------

def format_value(ch: Channel, value: Any) -> tuple[str, str]:
    """(engineering text with unit, raw text) for one channel value: the text in the channel's
    dictionary format (`value_text`, the one formatter of every view), the raw as it came."""
    if isinstance(value, bool):
        raw = str(int(value))
    elif isinstance(value, int) and (ch.display_format or "")[-1:] in ("x", "X"):
        raw = hex(value)  # a hash or bit pattern: hex in the raw column too, never a 20-digit decimal
    elif isinstance(value, float):
        raw = f"{value:.9g}" if ch.type == "f32" else repr(value)
    else:
        raw = str(value)
    return value_text(ch, value), raw


def limit_state(ch: Channel, value: Any) -> str | None:
    """'green', 'yellow' or 'red' for a channel with limits, None for one without; 'invalid' for
    a limit-checked reading that is not a number (a sensor the node could not read): shown as
    such, never as a limit violation (ISA-18.2: bad data is not an alarm, ground/alarms/)."""
    if ch.limits is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return evaluate(ch.limits, value).severity or "invalid"


def describe_limits(ch: Channel) -> str:
    lim = ch.limits
    if lim is None:
        return "no limits"
    parts = [f"{name} {v:g}" for name, v in (("red low", lim.red_low), ("yellow low", lim.yellow_low),
                                             ("yellow high", lim.yellow_high), ("red high", lim.red_high))
             if v is not None]
    return ", ".join(parts) + (f" {ch.unit}" if ch.unit else "")


# ---- the shape every table here shares -----------------------------------------------------------

class ColumnsModel(QAbstractTableModel):
    """A flat table whose columns are the class's COLUMNS and whose rows a subclass counts."""

    COLUMNS: tuple[str, ...] = ()

    def _row_count(self) -> int:
        raise NotImplementedError

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else self._row_count()

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=DISPLAY):
        if orientation == Qt.Orientation.Horizontal and role == DISPLAY and 0 <= section < len(self.COLUMNS):
            return self.COLUMNS[section]
        return None


def names_for_menu(view, pos, selected: list[str]) -> list[str]:
    """The channels a right-click at `pos` is about: the selected rows, or else the row under the
    pointer (none when it is on empty space)."""
    if selected:
        return selected
    index = view.indexAt(pos)
    return [index.data(NAME_ROLE)] if index.isValid() else []
