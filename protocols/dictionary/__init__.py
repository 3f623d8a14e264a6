"""The dictionary: the single source of truth for commands, telemetry, events, parameters and
housekeeping packets.

Items are declared next to the flight code that owns them (names are qualified by component,
``power.BatteryVoltage``, as F Prime's dictionaries do), gathered into a `Dictionary` that
validates them as a whole, and exported as versioned JSON with a SHA-256 content hash. The node
reports that hash in housekeeping; the ground loads the JSON and warns when the hashes differ.
Node and ground encode and decode command arguments, event arguments, parameter values and
housekeeping reports with the same code, this package, so they cannot drift apart.

The package is in four parts: wire types and typed fields (`wire`), the items (`items`), the
dictionary with its JSON form (`catalog`), and how a value is written for a person (`display`:
`value_text(channel, value)` is the one formatter every ground view calls); everything is
importable from here.
"""
from gridfree.protocols.dictionary.catalog import FORMAT_VERSION, NAME_RE, READABLE_VERSIONS, Dictionary
from gridfree.protocols.dictionary.display import NO_VALUE, number_text, utc_text, value_text
from gridfree.protocols.dictionary.items import (
    FUNCTION_SERVICE, FUNCTION_SUBTYPE, Channel, Command, Event, HousekeepingPacket, Limits, Parameter, Severity,
)
from gridfree.protocols.dictionary.wire import (
    SCALARS, DecodeError, DictionaryError, Field, WireType, fit_text, wire_type,
)

__all__ = [
    "Channel", "Command", "DecodeError", "Dictionary", "DictionaryError", "Event", "FORMAT_VERSION",
    "FUNCTION_SERVICE", "FUNCTION_SUBTYPE", "Field", "HousekeepingPacket", "Limits", "NAME_RE", "NO_VALUE", "Parameter",
    "READABLE_VERSIONS", "SCALARS", "Severity", "WireType", "fit_text", "number_text", "utc_text", "value_text", "wire_type",
]
