"""Display formats declared with each channel: defaults by type and unit, refused when they do not
format the channel's type, carried in the JSON (format_version 2) with a stable hash, and old
version 1 files still readable under the hash they were written with."""
import json
import math

import pytest

from gridfree.protocols.dictionary import (Channel, Dictionary, DictionaryError, HousekeepingPacket, Limits,
                                           value_text)


def dictionary(*channels, version_format=None):
    chans = list(channels) or [
        Channel(1, "eps.BusVoltage", "f32", "V", limits=Limits(6.0, 6.5, 8.2, 8.4)),
        Channel(2, "eps.ArrayPower", "f32", "W"),
        Channel(3, "power.Soc", "f32", "%"),
        Channel(4, "node.Hash", "u64", format="016x"),
        Channel(5, "eps.Mode", "u8", enum={"OFF": 0, "ON": 1}),
        Channel(6, "power.Ratio", "f64", format=".4f"),
    ]
    extra = {} if version_format is None else {"format_version": version_format}
    return Dictionary("1.0", channels=chans,
                      housekeeping=[HousekeepingPacket(1, "eps.Hk", tuple(c.name for c in chans), 1.0)], **extra)


def test_values_read_in_the_channels_format_or_the_default_for_its_unit():
    d = dictionary()
    ch = d.channel_by_name
    assert value_text(ch["power.Soc"], 55.9904) == "56.0 %"
    assert value_text(ch["eps.ArrayPower"], 2466.72) == "2466.7 W"
    assert value_text(ch["eps.BusVoltage"], 7.0) == "7.00 V"
    assert value_text(ch["node.Hash"], 0x3F2A) == "0000000000003f2a"  # declared: hex, full width
    assert value_text(ch["power.Ratio"], 1 / 3) == "0.3333"
    assert value_text(ch["eps.Mode"], 1) == "ON" and value_text(ch["eps.Mode"], 7) == "? 7"
    assert ch["eps.Mode"].display_format is None


def test_a_value_that_is_not_a_number_reads_no_value_never_nan_with_a_unit():
    soc = dictionary().channel_by_name["power.Soc"]
    assert value_text(soc, math.nan) == "no value"


@pytest.mark.parametrize("channel, problem", [
    (Channel(9, "a.Temp", "f32", "C", format="x"), "does not format a float"),
    (Channel(9, "a.Count", "u32", format="s"), "does not format a uint"),
    (Channel(9, "a.Mode", "u8", enum={"A": 0}, format="d"), "takes no format"),
    (Channel(9, "a.When", "f64", "s", time_scale="UTC", format=".1f"), "takes no format"),
])
def test_a_format_that_cannot_show_the_channel_is_refused_naming_it(channel, problem):
    with pytest.raises(DictionaryError) as err:
        dictionary(channel)
    assert err.value.name == channel.name and problem in err.value.problem


def test_formats_travel_in_the_json_and_round_trip_with_a_stable_hash():
    d = dictionary()
    doc = json.loads(d.to_json())
    formats = {c["name"]: c.get("format") for c in doc["channels"]}
    assert formats == {"eps.BusVoltage": ".2f", "eps.ArrayPower": ".1f", "power.Soc": ".1f", "node.Hash": "016x",
                       "eps.Mode": None, "power.Ratio": ".4f"}  # defaults written out, not left to the reader
    again = Dictionary.from_json(d.to_json())
    assert again.to_json() == d.to_json() and again.hash == d.hash
    assert value_text(again.channel_by_name["node.Hash"], 255) == "00000000000000ff"
    changed = dictionary(Channel(3, "power.Soc", "f32", "%", format=".2f"))
    assert changed.hash != dictionary(Channel(3, "power.Soc", "f32", "%")).hash  # a format is content


def test_a_version_1_file_loads_with_default_formats_and_its_own_hash():
    old = dictionary(Channel(1, "eps.BusVoltage", "f32", "V"), version_format=1)
    text = old.to_json()
    assert json.loads(text)["format_version"] == 1 and '"format"' not in text
    loaded = Dictionary.from_json(text)
    assert loaded.hash == old.hash == json.loads(text)["hash"]  # the hash logs were recorded under
    assert value_text(loaded.channel_by_name["eps.BusVoltage"], 7.0) == "7.00 V"
    assert loaded.hash != dictionary(Channel(1, "eps.BusVoltage", "f32", "V")).hash  # v2 content differs


def test_the_xtce_export_carries_each_channels_format_as_a_number_format():
    """A mission-control system reading our XTCE shows the hash in hex at full width and the SOC
    with one decimal, as the console does; the schema test validates the document."""
    import xml.etree.ElementTree as ET

    from gridfree.protocols.xtce import to_xtce, xtce_name

    ns = {"x": "http://www.omg.org/spec/XTCE/20180204"}
    root = ET.fromstring(to_xtce(dictionary()))

    def number_format(channel):
        t = root.find(f".//x:ParameterTypeSet/*[@name='{xtce_name(channel)}_Type']", ns)
        f = t.find("x:ToString/x:NumberFormat", ns)
        return None if f is None else f.attrib

    assert number_format("node.Hash") == {"numberBase": "Hexadecimal", "minimumIntegerDigits": "16",
                                          "maximumFractionDigits": "0"}
    assert number_format("power.Soc") == {"minimumFractionDigits": "1", "maximumFractionDigits": "1"}
    assert number_format("power.Ratio") == {"minimumFractionDigits": "4", "maximumFractionDigits": "4"}
    assert number_format("eps.Mode") is None  # an enumeration shows its labels


def test_an_event_says_as_much_of_a_long_reason_as_its_record_holds_never_half_a_character():
    from gridfree.protocols.dictionary import Event, Field, Severity, fit_text

    ev = Event(1, "x.Failed", Severity.WARNING_HI, "{reason}", (Field("reason", "string[8]"), Field("n", "u8")))
    fitted = ev.fit({"reason": "charge é dropped", "n": 3})
    assert fitted == {"reason": "charge ", "n": 3}  # 'é' is two octets: the 8th would split it
    assert ev.decode_args(ev.encode_args(**fitted))["reason"] == "charge "
    assert fit_text("abc", 8) == "abc" and len(fit_text("ééééé", 5).encode()) == 4
