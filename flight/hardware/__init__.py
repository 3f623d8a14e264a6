"""Hardware abstraction: what the node's managers need from the boards, and drivers that
provide it (the HIL rig's serial protocol, or a real Linux host). Nothing above this layer knows
which driver runs."""
