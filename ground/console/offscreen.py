"""Qt's offscreen platform, as the headless demo, the console bench and CI use it."""
from __future__ import annotations

import sys


def quiet_offscreen_notices(app) -> None:
    """On the offscreen platform, which warns that it cannot size windows each time one is shown,
    in Qt's default category (so QT_LOGGING_RULES cannot name it): only that notice is dropped,
    every other Qt message still reaches stderr. On a real display nothing changes."""
    from PySide6.QtCore import qInstallMessageHandler

    if app.platformName() != "offscreen":
        return

    def handler(_kind, _context, message: str) -> None:
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)
