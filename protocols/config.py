"""Link configuration: everything a standard CCSDS ground tool must be told to talk to a node.

Every default is documented here and in the README, so YAMCS, OpenC3 or a spacepackets script can
be configured to match without reading gridfree's code.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Final

#: CCSDS 355.0-B-2 security header for AES-GCM: SPI (2 octets) + IV (12 octets).
SDLS_HEADER_OCTETS: Final = 14
#: CCSDS 355.0-B-2 security trailer: the 16-octet MAC.
SDLS_TRAILER_OCTETS: Final = 16
TM_PRIMARY_HEADER_OCTETS: Final = 6
TC_PRIMARY_HEADER_OCTETS: Final = 5
FECF_OCTETS: Final = 2
OCF_OCTETS: Final = 4

DEFAULT_VIRTUAL_CHANNELS = {0: "realtime", 1: "events", 2: "bulk", 7: "idle"}


class LinkConfigError(ValueError):
    def __init__(self, key: str, problem: str, source: str = "<config>"):
        super().__init__(f"{source}: {key}: {problem}")
        self.key, self.problem, self.source = key, problem, source


@dataclass(frozen=True)
class LinkConfig:
    """Frame-layer settings shared by node and ground.

    spacecraft_id: 10-bit SCID in TM and TC frame headers (default 0x2A).
    tm_frame_octets: fixed TM frame length, ASM excluded (default 1115, CCSDS 132.0-B-3 allows
        up to 2048; 1115 is a common choice matching a (255,223) RS interleave-5 block).
    tm_ocf: operational control field present (default False).
    tm_fecf: frame error control field present (default True).
    tm_virtual_channels: VC number -> name; VC 7 carries only idle frames.
    tc_max_frame_octets: upper bound of a TC frame (CCSDS 232.0-B-4: <= 1024).
    tc_virtual_channel: VC of uplinked commands (default 0).
    sdls: TM frames carry SDLS (CCSDS 355.0-B-2): a security header (SPI 2 octets, IV 12) after
        the primary header and a 16-octet MAC after the data field, which shrinks by those 30
        octets (default False). The node sets it when it has keys, the ground when its keystore
        holds a TM SA; both ends of a link must agree, as on every other key here.
        TC frames are protected whenever the node has keys, whatever this says, so a TC frame's
        data always leaves room for the SDLS fields (`tc_max_data_octets`).
    """

    spacecraft_id: int = 0x2A
    tm_frame_octets: int = 1115
    tm_ocf: bool = False
    tm_fecf: bool = True
    tm_virtual_channels: dict = field(default_factory=lambda: dict(DEFAULT_VIRTUAL_CHANNELS))
    idle_vc: int = 7
    tc_max_frame_octets: int = 1024
    tc_virtual_channel: int = 0
    sdls: bool = False

    def __post_init__(self):
        checks = [
            ("spacecraft_id", 0 <= self.spacecraft_id <= 0x3FF, "must be 0..1023 (10 bits)"),
            ("tm_frame_octets", 32 <= self.tm_frame_octets <= 2048, "must be 32..2048 octets"),
            ("tc_max_frame_octets", 44 <= self.tc_max_frame_octets <= 1024,
             "must be 44..1024 octets (room for the SDLS fields and a 7-octet packet)"),
            ("tc_virtual_channel", 0 <= self.tc_virtual_channel <= 63, "must be 0..63 (6 bits)"),
            ("idle_vc", 0 <= self.idle_vc <= 7, "must be 0..7 (3 bits)"),
        ]
        for key, ok, problem in checks:
            if not ok:
                raise LinkConfigError(key, f"{getattr(self, key)!r} {problem}")
        for vc in self.tm_virtual_channels:
            if not (isinstance(vc, int) and 0 <= vc <= 7):
                raise LinkConfigError("tm_virtual_channels", f"VC {vc!r} must be 0..7 (3 bits)")
        if self.tm_data_field_octets < 16:
            raise LinkConfigError("tm_frame_octets", "too short to carry data after headers and trailers")

    @property
    def tm_trailer_octets(self) -> int:
        return (OCF_OCTETS if self.tm_ocf else 0) + (FECF_OCTETS if self.tm_fecf else 0)

    @property
    def tm_data_field_octets(self) -> int:
        """Octets per TM frame available to packets, after any SDLS header and trailer."""
        sdls = SDLS_HEADER_OCTETS + SDLS_TRAILER_OCTETS if self.sdls else 0
        return self.tm_frame_octets - TM_PRIMARY_HEADER_OCTETS - self.tm_trailer_octets - sdls

    @property
    def tc_max_data_octets(self) -> int:
        """The most a TC frame carries, leaving room for the SDLS fields: the ground cannot always
        tell whether the node it talks to checks them, and 30 octets are cheap."""
        sdls = SDLS_HEADER_OCTETS + SDLS_TRAILER_OCTETS
        return self.tc_max_frame_octets - TC_PRIMARY_HEADER_OCTETS - FECF_OCTETS - sdls

    @classmethod
    def from_dict(cls, data: dict, source: str = "<config>") -> "LinkConfig":
        known = {f.name: f for f in fields(cls)}
        kwargs = {}
        for key, value in data.items():
            if key not in known:
                raise LinkConfigError(key, f"unknown key (known: {', '.join(sorted(known))})", source)
            expected = bool if isinstance(known[key].default, bool) else (dict if key == "tm_virtual_channels" else int)
            if key == "tm_virtual_channels" and isinstance(value, dict):
                try:
                    value = {int(k): str(v) for k, v in value.items()}
                except ValueError:
                    raise LinkConfigError(key, "VC keys must be integers", source) from None
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise LinkConfigError(key, f"expected {expected.__name__}, got {value!r}", source)
            kwargs[key] = value
        try:
            return cls(**kwargs)
        except LinkConfigError as exc:
            raise LinkConfigError(exc.key, exc.problem, source) from None

    @classmethod
    def from_toml(cls, path: str | Path, table: str = "link") -> "LinkConfig":
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise LinkConfigError("(syntax)", str(exc), str(path)) from None
        return cls.from_dict(data.get(table, {}), str(path))
