"""Alarm management per ISA-18.2 for the ground, without Qt: what a limit-checked channel's value
means (a condition), the life of one alarm (unacknowledged, acknowledged, returned unacknowledged,
latched), shelving, out-of-service, and the operator's alarm rate (EEMUA 191 flood).

The console's alarm table is a view over `AlarmBoard`; anything else on the ground (a terminal
tool, a test) can drive the same rules with its own clock.
"""
