"""Application data of the PUS-C services (ECSS-E-ST-70-41C) that gridfree uses.

One module per service, named after it, each with its subtypes as an IntEnum and its report or
request layouts as small classes with pack()/unpack(). The packet headers around them are in
`gridfree.protocols.pus`; the node's handlers and the ground's decoders both use these.
"""
