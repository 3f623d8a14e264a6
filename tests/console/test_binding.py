"""The Qt binding itself must not leak or drop references: the console runs for days, and
PySide6 6.12.0 dropped a reference to None on every call of a void method (setText, setVisible),
which crashed the interpreter after a few thousand calls (pinned out in pyproject.toml)."""
import sys

from PySide6.QtWidgets import QLabel


def test_void_calls_keep_the_reference_count_of_none(qtbot):
    label = QLabel("x")
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for k in range(5000):
        label.setText(str(k % 10))
        label.setVisible(k % 2 == 0)
    assert sys.getrefcount(None) >= before - 50  # a few may be released by the interpreter itself
