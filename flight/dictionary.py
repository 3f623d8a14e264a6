"""The node's dictionary, gathered from the declarations of the components that own each item."""
from gridfree.protocols.dictionary import Dictionary


def node_dictionary() -> Dictionary:
    from gridfree.flight.app.node import default_dictionary

    return default_dictionary()
