"""The node's dictionary, gathered from the declarations of the flight code that owns each item.

`gridfree dict` exports it; the node reports its hash in housekeeping. Until the component
framework declares items itself, the node-level items live in `flight.declarations`.
"""
from gridfree.flight import declarations
from gridfree.protocols.dictionary import Dictionary

DICTIONARY_VERSION = "0.1.0"


def node_dictionary() -> Dictionary:
    return Dictionary(
        version=DICTIONARY_VERSION,
        channels=list(declarations.CHANNELS),
        commands=list(declarations.COMMANDS),
        events=list(declarations.EVENTS),
        parameters=list(declarations.PARAMETERS),
        housekeeping=list(declarations.HOUSEKEEPING),
    )
