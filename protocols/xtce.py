"""XTCE 1.2 (OMG XML Telemetric and Command Exchange, namespace 20180204) export of a dictionary,
so existing mission-control systems (YAMCS, for one) can decode a gridfree node.

The telemetry side describes the packet headers once, as an inheritance chain of containers:
CCSDS space packet -> PUS-C TM -> TM[3,25] housekeeping report (with its SID) -> one container per
housekeeping packet, restricted on the SID. Commands are MetaCommands over a PUS-C TC base whose
service/subtype are fixed by argument assignments; TC[8,1] commands add their function id.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from gridfree.protocols.dictionary import Dictionary, Field, wire_type

NS = "http://www.omg.org/spec/XTCE/20180204"
SCHEMA_URL = "https://www.omg.org/spec/XTCE/20180204/SpaceSystem.xsd"
_HEADER_BITS = [  # (name, bits): the CCSDS primary header then the PUS-C TM secondary header
    ("CCSDS_Version", 3), ("CCSDS_Type", 1), ("CCSDS_SecHdrFlag", 1), ("CCSDS_APID", 11),
    ("CCSDS_SeqFlags", 2), ("CCSDS_SeqCount", 14), ("CCSDS_PacketLength", 16),
]
_PUS_TM_BITS = [("PUS_Version", 4), ("PUS_TimeRefStatus", 4), ("PUS_Service", 8), ("PUS_Subtype", 8),
                ("PUS_MessageCounter", 16), ("PUS_DestinationId", 16), ("PUS_TimeCoarse", 32), ("PUS_TimeFine", 16)]
_PUS_TC_BITS = [("PUS_TcVersion", 4), ("PUS_AckFlags", 4), ("PUS_TcService", 8), ("PUS_TcSubtype", 8),
                ("PUS_SourceId", 16)]


def xtce_name(name: str) -> str:
    """XTCE names may not contain '.', '/', ':', '[', ']' or spaces (NameType in the XSD)."""
    return re.sub(r"[./:\[\] ]", "_", name)


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _sub(parent, tag: str, **attrs):
    return ET.SubElement(parent, _q(tag), {k: str(v) for k, v in attrs.items() if v is not None})


def _type_name(owner: str) -> str:
    return xtce_name(owner) + "_Type"


_SPEC = re.compile(r"^(?P<zero>0?)(?P<width>\d*)(?:\.(?P<precision>\d+))?(?P<kind>[dfxXob]?)$")
_RADIX = {"x": "Hexadecimal", "X": "Hexadecimal", "o": "Octal", "b": "Binary"}


def _number_format(spec: str) -> dict | None:
    """A channel's display format as XTCE NumberFormat attributes (radix, zero-padded width,
    fraction digits); None for a spec XTCE cannot say, which then shows as the tool likes."""
    m = _SPEC.match(spec or "")
    if m is None or not spec:
        return None
    attrs: dict = {}
    if m["kind"] in _RADIX:
        attrs["numberBase"] = _RADIX[m["kind"]]
    if m["zero"] and m["width"]:
        attrs["minimumIntegerDigits"] = int(m["width"])
    if m["precision"] is not None and m["kind"] in ("f", ""):
        attrs["minimumFractionDigits"] = attrs["maximumFractionDigits"] = int(m["precision"])
    elif m["kind"] in ("d", "x", "X", "o", "b"):
        attrs["maximumFractionDigits"] = 0
    return attrs or None


def _add_type(type_set, kind: str, name: str, wire: str, unit: str = "", enum: dict | None = None,
              limits=None, vmin=None, vmax=None, number_format: str | None = None) -> None:
    """One ParameterType or ArgumentType element (`kind` is 'Parameter' or 'Argument')."""
    wt = wire_type(wire)
    if enum:
        t = _sub(type_set, f"Enumerated{kind}Type", name=name)
        _sub(t, "IntegerDataEncoding", sizeInBits=wt.bits, encoding="twosComplement" if wt.kind == "int" else "unsigned")
        lst = _sub(t, "EnumerationList")
        for label, value in sorted(enum.items(), key=lambda kv: kv[1]):
            _sub(lst, "Enumeration", value=value, label=label)
        return
    if wt.kind in ("uint", "int"):
        t = _sub(type_set, f"Integer{kind}Type", name=name, signed=str(wt.kind == "int").lower(), sizeInBits=wt.bits)
    elif wt.kind == "float":
        t = _sub(type_set, f"Float{kind}Type", name=name, sizeInBits=wt.bits)
    elif wt.kind == "bool":
        t = _sub(type_set, f"Boolean{kind}Type", name=name)
    elif wt.kind == "string":
        t = _sub(type_set, f"String{kind}Type", name=name)
    else:
        t = _sub(type_set, f"Binary{kind}Type", name=name)
    if unit:
        _sub(_sub(t, "UnitSet"), "Unit").text = unit
    if wt.kind in ("uint", "int"):
        _sub(t, "IntegerDataEncoding", sizeInBits=wt.bits, encoding="twosComplement" if wt.kind == "int" else "unsigned")
    elif wt.kind == "float":
        _sub(t, "FloatDataEncoding", sizeInBits=wt.bits, encoding="IEEE754_1985")
    elif wt.kind == "bool":
        _sub(t, "IntegerDataEncoding", sizeInBits=8, encoding="unsigned")
    elif wt.kind == "string":
        enc = _sub(t, "StringDataEncoding", encoding="UTF-8")
        _sub(_sub(_sub(enc, "SizeInBits"), "Fixed"), "FixedValue").text = str(wt.bits)
    else:
        enc = _sub(t, "BinaryDataEncoding")
        _sub(_sub(enc, "SizeInBits"), "FixedValue").text = str(wt.bits)
    shown = _number_format(number_format) if wt.kind in ("uint", "int", "float") else None
    if shown:
        _sub(_sub(t, "ToString"), "NumberFormat", **shown)
    if limits is not None and wt.kind in ("uint", "int", "float"):
        alarm = _sub(_sub(t, "DefaultAlarm"), "StaticAlarmRanges")
        if limits.yellow_low is not None or limits.yellow_high is not None:
            _sub(alarm, "WarningRange", minInclusive=limits.yellow_low, maxInclusive=limits.yellow_high)
        if limits.red_low is not None or limits.red_high is not None:
            _sub(alarm, "CriticalRange", minInclusive=limits.red_low, maxInclusive=limits.red_high)
    if kind == "Argument" and (vmin is not None or vmax is not None) and wt.kind in ("uint", "int", "float"):
        _sub(_sub(t, "ValidRangeSet"), "ValidRange", minInclusive=vmin, maxInclusive=vmax)


def _header_parameters(type_set, param_set, bits_list) -> None:
    for name, bits in bits_list:
        tname = f"uint{bits}_t"
        if type_set.find(f"{_q('IntegerParameterType')}[@name='{tname}']") is None:
            t = _sub(type_set, "IntegerParameterType", name=tname, signed="false", sizeInBits=bits)
            _sub(t, "IntegerDataEncoding", sizeInBits=bits, encoding="unsigned")
        _sub(param_set, "Parameter", name=name, parameterTypeRef=tname)


def _entries(container, refs) -> None:
    entries = _sub(container, "EntryList")
    for ref in refs:
        _sub(entries, "ParameterRefEntry", parameterRef=ref)


def _restrict(container, base: str, comparisons: list[tuple[str, int]]) -> None:
    b = _sub(container, "BaseContainer", containerRef=base)
    crit = _sub(b, "RestrictionCriteria")
    lst = _sub(crit, "ComparisonList")
    for ref, value in comparisons:
        _sub(lst, "Comparison", parameterRef=ref, value=value)


def to_xtce(d: Dictionary, name: str = "gridfree", tm_apid: int | None = None) -> str:
    ET.register_namespace("xtce", NS)
    ET.register_namespace("xsi", "http://www.w3.org/2001/XMLSchema-instance")
    root = ET.Element(_q("SpaceSystem"), {
        "name": xtce_name(name),
        "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation": f"{NS} {SCHEMA_URL}",
    })
    _sub(root, "LongDescription").text = f"gridfree dictionary {d.version}, content hash {d.hash}"
    _sub(root, "Header", version=d.version, validationStatus="Working")

    tm = _sub(root, "TelemetryMetaData")
    ptypes, params, containers = _sub(tm, "ParameterTypeSet"), _sub(tm, "ParameterSet"), _sub(tm, "ContainerSet")
    _header_parameters(ptypes, params, _HEADER_BITS + _PUS_TM_BITS + [("PUS_HK_SID", 16), ("PUS_PEC", 16)])
    for c in sorted(d.channels, key=lambda c: c.id):
        tname = _type_name(c.name)
        _add_type(ptypes, "Parameter", tname, c.type, c.unit, c.enum, c.limits,
                  number_format=None if c.enum else c.display_format)
        p = _sub(params, "Parameter", name=xtce_name(c.name), parameterTypeRef=tname, shortDescription=c.description or None)
        _sub(p, "ParameterProperties", dataSource="telemetered")

    packet = _sub(containers, "SequenceContainer", name="CCSDS_SpacePacket", abstract="true")
    _entries(packet, [n for n, _ in _HEADER_BITS])
    pus_tm = _sub(containers, "SequenceContainer", name="PUS_TM", abstract="true")
    _entries(pus_tm, [n for n, _ in _PUS_TM_BITS])
    comparisons = [("CCSDS_Type", 0), ("CCSDS_SecHdrFlag", 1)] + ([("CCSDS_APID", tm_apid)] if tm_apid is not None else [])
    _restrict(pus_tm, "CCSDS_SpacePacket", comparisons)
    hk = _sub(containers, "SequenceContainer", name="PUS_HK_Report", abstract="true")
    _entries(hk, ["PUS_HK_SID"])
    _restrict(hk, "PUS_TM", [("PUS_Service", 3), ("PUS_Subtype", 25)])
    for h in sorted(d.housekeeping, key=lambda h: h.sid):
        c = _sub(containers, "SequenceContainer", name=xtce_name(h.name), shortDescription=h.description or None)
        _entries(c, [xtce_name(ch) for ch in h.channels] + ["PUS_PEC"])
        _restrict(c, "PUS_HK_Report", [("PUS_HK_SID", h.sid)])

    cmd = _sub(root, "CommandMetaData")
    atypes, meta = _sub(cmd, "ArgumentTypeSet"), _sub(cmd, "MetaCommandSet")
    for n, bits in _HEADER_BITS + _PUS_TC_BITS + [("FunctionId", 16)]:
        _add_type(atypes, "Argument", f"{n}_t", f"u{bits}" if bits in (8, 16, 32) else "u8")
    base = _sub(meta, "MetaCommand", name="PUS_TC", abstract="true")
    args = _sub(base, "ArgumentList")
    for n, _ in _PUS_TC_BITS:
        _sub(args, "Argument", name=n, argumentTypeRef=f"{n}_t")
    cc = _sub(base, "CommandContainer", name="PUS_TC")
    entries = _sub(cc, "EntryList")
    for n, _ in _PUS_TC_BITS:
        _sub(entries, "ArgumentRefEntry", argumentRef=n)
    for c in sorted(d.commands, key=lambda c: c.name):
        mc = _sub(meta, "MetaCommand", name=xtce_name(c.name), shortDescription=c.description or None)
        bc = _sub(mc, "BaseMetaCommand", metaCommandRef="PUS_TC")
        assign = _sub(bc, "ArgumentAssignmentList")
        _sub(assign, "ArgumentAssignment", argumentName="PUS_TcService", argumentValue=c.service)
        _sub(assign, "ArgumentAssignment", argumentName="PUS_TcSubtype", argumentValue=c.subtype)
        fields: list[Field] = list(c.arguments)
        if c.arguments or c.opcode is not None:
            al = _sub(mc, "ArgumentList")
            if c.opcode is not None:
                _sub(al, "Argument", name="FunctionId", argumentTypeRef="FunctionId_t", initialValue=c.opcode)
            for f in fields:
                tname = _type_name(f"{c.name}.{f.name}")
                _add_type(atypes, "Argument", tname, f.type, f.unit, f.enum, None, f.min, f.max)
                _sub(al, "Argument", name=xtce_name(f.name), argumentTypeRef=tname, shortDescription=f.description or None)
        cont = _sub(mc, "CommandContainer", name=xtce_name(c.name) + "_Container")
        ent = _sub(cont, "EntryList")
        if c.opcode is not None:
            _sub(ent, "ArgumentRefEntry", argumentRef="FunctionId")
        for f in fields:
            _sub(ent, "ArgumentRefEntry", argumentRef=xtce_name(f.name))
        if c.hazardous:
            _sub(mc, "DefaultSignificance", consequenceLevel="critical",
                 reasonForWarning="hazardous: needs an ARM command first")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
