"""The node's security: SDLS on the uplink, the keystore commands, TM protection (issue 17).

`component.SecurityComponent` sits between the radio and the dispatcher: every uplinked TC frame
is checked and opened under its security association before any of it becomes a command, and the
command goes on with the SA's role attached. Nothing is imported here, so importing the package
is cheap.
"""
