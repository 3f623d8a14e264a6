"""The dictionary: validation that names the offender, exact JSON round trips with a content hash,
argument and housekeeping codecs, and an XTCE export that an independent XTCE tool validates
against the official schema and uses to decode our packets."""
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from gridfree.flight.dictionary import node_dictionary
from gridfree.protocols.dictionary import (
    Channel, Command, DecodeError, Dictionary, DictionaryError, Event, Field, HousekeepingPacket, Limits, Parameter,
    Severity, wire_type,
)
from gridfree.protocols.pus import PusTm
from gridfree.protocols.services.housekeeping import HkReport
from gridfree.protocols.xtce import to_xtce, xtce_name


def base(**over):
    items = dict(
        channels=[Channel(1, "eps.BusVoltage", "f32", "V", limits=Limits(6.0, 6.5, 8.2, 8.4)),
                  Channel(2, "eps.Mode", "u8", enum={"OFF": 0, "ON": 1})],
        commands=[Command("eps.Switch", 0x10, arguments=(Field("load", "u8", max=15), Field("on", "bool")))],
        events=[Event(1, "eps.Tripped", Severity.WARNING_HI, "load {load} tripped", (Field("load", "u8"),))],
        parameters=[Parameter(1, "eps.TripCurrent", "f32", 2.5, "A", min=0.1, max=10.0)],
        housekeeping=[HousekeepingPacket(5, "eps.Hk", ("eps.BusVoltage", "eps.Mode"), 1.0)],
    )
    items.update(over)
    return Dictionary("1.0", **items)


BAD = [
    ("channels", [Channel(1, "a.X", "f32"), Channel(1, "a.Y", "f32")], "channel", "a.Y", "duplicate id"),
    ("channels", [Channel(1, "a.X", "f32"), Channel(2, "a.X", "f32")], "channel", "a.X", "duplicate name"),
    ("channels", [Channel(1, "a.X", "float128")], "channel", "a.X", "unknown type"),
    ("channels", [Channel(1, "a.X", "bytes[8]")], "channel", "a.X", "no fixed size"),
    ("channels", [Channel(1, "a.X", "f32", limits=Limits(red_low=5, yellow_low=4))], "channel", "a.X", "limits"),
    ("channels", [Channel(1, "not a name", "f32")], "channel", "not a name", "dotted identifiers"),
    ("commands", [Command("a.C", 1), Command("a.D", 1)], "command", "a.D", "duplicate service/subtype/opcode"),
    ("commands", [Command("a.C", 1, arguments=(Field("x", "u8", min=5, max=1),))], "command", "a.C.x", "min 5 > max 1"),
    ("commands", [Command("a.C", 1, arguments=(Field("m", "u8", enum={"BIG": 300}),))], "command", "a.C.m", "does not fit"),
    ("events", [Event(1, "a.E", Severity.FATAL), Event(1, "a.F", Severity.FATAL)], "event", "a.F", "duplicate id"),
    ("parameters", [Parameter(1, "a.P", "u8", 300)], "parameter", "a.P", "default"),
    ("parameters", [Parameter(1, "a.P", "f32", 0.0, min=1.0)], "parameter", "a.P", "below the minimum"),
    ("housekeeping", [HousekeepingPacket(5, "eps.Hk", ("eps.Nope",))], "housekeeping packet", "eps.Hk", "unknown channel"),
    ("housekeeping", [HousekeepingPacket(5, "eps.Hk", ())], "housekeeping packet", "eps.Hk", "no channels"),
]


@pytest.mark.parametrize("kind_key,items,kind,name,problem", BAD, ids=[b[4] + ":" + b[3] for b in BAD])
def test_bad_declarations_are_refused_naming_the_item(kind_key, items, kind, name, problem):
    with pytest.raises(DictionaryError) as err:
        base(**{kind_key: items})
    assert err.value.kind == kind and err.value.name == name and problem in err.value.problem


def test_json_round_trip_is_exact_and_hash_stable():
    d = base()
    again = Dictionary.from_json(d.to_json())
    assert again.to_json() == d.to_json() and again.hash == d.hash
    assert again.command_by_name["eps.Switch"] == d.command_by_name["eps.Switch"]
    assert base().hash == d.hash  # deterministic across builds


def test_any_content_change_changes_the_hash():
    d = base()
    changed = base(parameters=[Parameter(1, "eps.TripCurrent", "f32", 2.6, "A", min=0.1, max=10.0)])
    assert changed.hash != d.hash


@pytest.mark.parametrize("edit,match", [
    (lambda doc: doc["parameters"][0].__setitem__("default", 3.0), "does not match"),
    (lambda doc: doc.__setitem__("format_version", 99), "format_version"),
    (lambda doc: doc["channels"][0].pop("type"), "malformed"),
    (lambda doc: doc["events"][0].__setitem__("severity", "LOUD"), "unknown severity"),
    (lambda doc: doc["housekeeping"][0]["channels"].append("eps.Ghost"), "unknown channel"),
])
def test_tampered_or_malformed_files_are_refused(edit, match):
    doc = json.loads(base().to_json())
    edit(doc)
    with pytest.raises(DictionaryError, match=match):
        Dictionary.from_json(json.dumps(doc))


def test_garbage_is_refused_clearly():
    for blob in (b"\xff\xfe", "[]", "{", "null"):
        with pytest.raises(DictionaryError):
            Dictionary.from_json(blob)


def test_command_arguments_encode_decode_and_range_errors_name_the_argument():
    cmd = base().command_by_name["eps.Switch"]
    data = cmd.encode_args(load=3, on=True)
    assert data == bytes([0x00, 0x10, 3, 1])
    assert cmd.decode_args(data[2:]) == {"load": 3, "on": True}
    with pytest.raises(ValueError, match=r"eps.Switch.load: 16 is above the maximum 15"):
        cmd.encode_args(load=16, on=True)
    with pytest.raises(ValueError, match="missing argument 'on'"):
        cmd.encode_args(load=1)
    with pytest.raises(ValueError, match="unknown argument 'colour'"):
        cmd.encode_args(load=1, on=True, colour=2)
    with pytest.raises(DecodeError):
        cmd.decode_args(b"\x03")
    with pytest.raises(DecodeError, match="trailing"):
        cmd.decode_args(b"\x03\x01\x00")
    with pytest.raises(ValueError, match="above the maximum"):
        cmd.decode_args(b"\x20\x01")


scalar_values = {
    "u8": st.integers(0, 255), "u16": st.integers(0, 65535), "u32": st.integers(0, 2**32 - 1),
    "i16": st.integers(-32768, 32767), "i64": st.integers(-2**63, 2**63 - 1),
    "f64": st.floats(allow_nan=False), "bool": st.booleans(),
    "string[12]": st.text(st.characters(min_codepoint=1, max_codepoint=0x7F), max_size=12),
    "bytes[40]": st.binary(max_size=40),
}


@given(st.lists(st.sampled_from(sorted(scalar_values)), min_size=1, max_size=6), st.data())
def test_random_arguments_round_trip(types, data):
    fields = tuple(Field(f"a{i}", t) for i, t in enumerate(types))
    cmd = Command("x.C", 1, arguments=fields)
    values = {f.name: data.draw(scalar_values[f.type]) for f in fields}
    assert cmd.decode_args(cmd.encode_args(**values)[2:]) == values


@given(st.lists(st.sampled_from(["u8", "u16", "i16", "f64", "bool"]), min_size=1, max_size=8), st.data())
def test_random_dictionaries_round_trip_json_and_housekeeping(types, data):
    chans = [Channel(i + 1, f"c.Ch{i}", t, "V" if t == "f64" else "") for i, t in enumerate(types)]
    d = Dictionary("r", channels=chans, housekeeping=[HousekeepingPacket(9, "c.Hk", tuple(c.name for c in chans))])
    again = Dictionary.from_json(d.to_json())
    assert again.hash == d.hash
    values = {c.name: data.draw(scalar_values[c.type]) for c in chans}
    assert again.decode_hk(9, d.encode_hk(9, values)) == values
    with pytest.raises(DecodeError):
        again.decode_hk(9, d.encode_hk(9, values)[:-1])
    with pytest.raises(DecodeError):
        again.decode_hk(10, b"")


def test_event_text_and_severity_mapping():
    e = base().event_by_name["eps.Tripped"]
    assert e.text(e.decode_args(e.encode_args(load=4))) == "load 4 tripped"
    assert [s.pus_subtype for s in Severity] == [1, 1, 1, 2, 3, 4]


def test_wire_type_grammar():
    assert wire_type("string[16]").size == 16 and wire_type("bytes[300]").kind == "bytes"
    with pytest.raises(ValueError, match="unknown type"):
        wire_type("string[0]")


def test_limit_states():
    lim = Limits(6.0, 6.5, 8.2, 8.4)
    assert [lim.state(v) for v in (5.9, 6.2, 7.0, 8.3, 8.5)] == ["red", "yellow", "green", "yellow", "red"]


# ---- XTCE, checked by an independent tool -------------------------------------------------------

@pytest.fixture(scope="module")
def xtce_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("xtce") / "node.xml"
    path.write_text(to_xtce(node_dictionary()), encoding="utf-8")
    return path


def test_xtce_validates_against_the_official_schema(xtce_file):
    import space_packet_parser.xtce as spp_xtce
    from space_packet_parser.xtce.validation import validate_xtce

    xsd = os.path.join(os.path.dirname(spp_xtce.__file__), "schemas", "SpaceSystem.xsd")
    result = validate_xtce(str(xtce_file), level="all", local_xsd=xsd, allow_schema_download=False,
                           raise_on_error=False, print_results=False)
    assert bool(result), str(result)


def test_xtce_lists_every_item_with_its_type_unit_and_limits(xtce_file):
    import xml.etree.ElementTree as ET
    ns = {"x": "http://www.omg.org/spec/XTCE/20180204"}
    root = ET.parse(xtce_file).getroot()
    d = node_dictionary()
    types = {t.get("name"): t for t in root.find("x:TelemetryMetaData/x:ParameterTypeSet", ns)}
    params = {p.get("name"): p for p in root.findall("x:TelemetryMetaData/x:ParameterSet/x:Parameter", ns)}
    for c in d.channels:
        t = types[params[xtce_name(c.name)].get("parameterTypeRef")]
        if c.unit:
            assert t.find("x:UnitSet/x:Unit", ns).text == c.unit
        if c.limits and c.limits.red_low is not None:
            assert float(t.find(".//x:CriticalRange", ns).get("minInclusive")) == c.limits.red_low
    commands = {m.get("name") for m in root.findall("x:CommandMetaData/x:MetaCommandSet/x:MetaCommand", ns)}
    assert {xtce_name(c.name) for c in d.commands} <= commands


def test_an_xtce_tool_decodes_our_housekeeping_packet(xtce_file):
    from space_packet_parser.xtce.definitions import XtcePacketDefinition

    d = node_dictionary()
    hk = d.hk_by_sid[1]
    values = {c: (7.25 if d.channel_by_name[c].wire.kind == "float" else i + 1) for i, c in enumerate(hk.channels)}
    values["node.Mode"] = 2
    packet = PusTm(apid=100, service=3, subtype=25, app_data=HkReport(1, d.encode_hk(1, values)).pack()).pack()
    parsed = XtcePacketDefinition.from_xtce(str(xtce_file), root_container_name="CCSDS_SpacePacket").parse_bytes(packet)
    for name, value in values.items():
        got = parsed[xtce_name(name)]
        assert getattr(got, "raw_value", got) == value
    assert parsed["PUS_HK_SID"] == 1 and parsed["CCSDS_APID"] == 100


def test_gridfree_dict_command(tmp_path):
    out = tmp_path / "d.json"
    proc = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "dict", "--format", "json", "-o", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert Dictionary.from_json(out.read_text()).hash == node_dictionary().hash
    proc = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "dict", "--format", "yaml"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_an_instant_is_declared_with_its_time_scale_and_survives_the_json():
    from gridfree.flight.dictionary import node_dictionary

    d = node_dictionary()
    assert [c.name for c in d.channels if c.time_scale] == ["power.NextEclipseEntry", "power.NextEclipseExit"]
    again = Dictionary.from_json(d.to_json())
    assert again.channel_by_name["power.NextEclipseEntry"].time_scale == "UTC" and again.hash == d.hash
    with pytest.raises(DictionaryError, match="x.Instant.*time_scale"):
        Dictionary(channels=[Channel(1, "x.Instant", "f32", "s", time_scale="UTC")])
    with pytest.raises(DictionaryError, match="time_scale"):
        Dictionary(channels=[Channel(1, "x.Instant", "f64", "s", time_scale="TAI")])
