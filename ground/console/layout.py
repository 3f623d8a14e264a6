"""The main window's arrangement, kept between runs: geometry, docks, the tab, table columns, plots.

Saved with QSettings into the file the window was given (so tests never touch the operator's
own configuration); a damaged entry costs that part of the layout, never the start-up.
"""
from __future__ import annotations

import json
import os

LAYOUT_VERSION = 1


class LayoutPersistence:
    """Save, restore and reset the layout, mixed into `MainWindow`."""

    def save_layout(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState(LAYOUT_VERSION))
        s.setValue("window/tab", self.tabs.currentIndex())
        s.setValue("telemetry/header", self.table.view.horizontalHeader().saveState())
        s.setValue("plots", json.dumps(self.plots.state()))
        s.sync()

    def restore_layout(self) -> bool:
        """Restore what `save_layout` saved; False (and the default layout) if there is nothing."""
        s = self.settings
        geometry, state = s.value("window/geometry"), s.value("window/state")
        if geometry is None or state is None:
            return False
        self.restoreGeometry(geometry)
        self.restoreState(state, LAYOUT_VERSION)
        header = s.value("telemetry/header")
        if header is not None:
            self.table.view.horizontalHeader().restoreState(header)
        tab = s.value("window/tab")
        if tab is not None:
            self.tabs.setCurrentIndex(int(tab))
        try:
            self.plots.restore(json.loads(s.value("plots", "{}")))
        except (TypeError, ValueError):
            pass  # a damaged entry costs the plot layout, nothing else
        return True

    def reset_layout(self) -> None:
        self.restoreState(self._default_state, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.show()

    def screenshot(self, path: str | os.PathLike) -> bool:
        """The window as it is now, as a PNG (works offscreen too)."""
        return self.grab().save(str(path), "PNG")
