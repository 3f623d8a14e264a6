"""The hardware-in-the-loop rig: an environment truth model, emulated hardware on serial lines,
and scenarios with fault injection. Its physics is its own, never shared with the node's
onboard estimators, so the rig can judge them."""
