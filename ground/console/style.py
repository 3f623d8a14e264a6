"""The console's status colours, shared by the window and its parts."""

BADGE = "QLabel {{ background: {bg}; color: white; font-weight: bold; padding: 2px 10px; border-radius: 3px; }}"
NOTE_STYLE = "QLabel { background: #e37400; color: white; font-weight: bold; font-size: 12pt; padding: 6px; }"
