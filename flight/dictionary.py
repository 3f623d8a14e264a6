"""The node's dictionary, gathered from the declarations of the components that own each item."""
from gridfree.protocols.dictionary import Dictionary


def node_dictionary() -> Dictionary:
    """What `gridfree dict` exports: the topology's instances' class declarations, no node built."""
    from gridfree.flight.app.topology import dictionary

    return dictionary()
