"""The link layout a log was recorded under, kept beside the log as link.json.

A recorded frame is only bytes: whether it carries SDLS fields (a security header after the
primary header, a MAC after the data field), an OCF, an FECF, and how long it is, is the link's
configuration (protocols/config.LinkConfig), not something a frame says about itself. A node with
keys seals its TM frames, so a log recorded through an authenticated link must be read with
`sdls = true` or every packet in it is misplaced by 14 octets. The recorder therefore writes the
layout it recorded under, and replay, bulk decoding and export read it back.

A log without link.json predates this file: it was recorded plain, with the default layout.
One archive directory holds frames of one layout: a recorder refuses to add frames of another
(`LinkLayoutMismatch`, an OSError like any other reason a directory cannot take a recording).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from gridfree.protocols.config import LinkConfig, LinkConfigError

FILE = "link.json"


class LinkLayoutMismatch(OSError):
    """The archive directory already holds frames recorded under another link layout."""


class LinkLayoutError(ValueError):
    """link.json is there but unreadable or not a link layout (one line naming the file)."""


def _as_json(config: LinkConfig) -> dict:
    data = asdict(config)
    data["tm_virtual_channels"] = {str(k): v for k, v in config.tm_virtual_channels.items()}
    return data


def load(directory: str | os.PathLike) -> LinkConfig | None:
    """The layout the log in `directory` was recorded under, or None for a log older than this file."""
    path = Path(directory) / FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LinkLayoutError(f"{path}: unreadable link layout ({exc})") from None
    if not isinstance(data, dict):
        raise LinkLayoutError(f"{path}: not a link layout (expected a JSON object)")
    try:
        return LinkConfig.from_dict(data, str(path))
    except LinkConfigError as exc:
        raise LinkLayoutError(str(exc)) from None


def load_or_default(directory: str | os.PathLike) -> LinkConfig:
    """The recorded layout, or the default (plain) one for an older log."""
    found = load(directory)
    return found if found is not None else LinkConfig()


def store(directory: str | os.PathLike, config: LinkConfig) -> Path:
    """Write the layout beside the log (atomically), or check it matches the one already there."""
    directory = Path(directory)
    path = directory / FILE
    try:
        kept = load(directory)
    except LinkLayoutError as exc:
        raise LinkLayoutMismatch(f"{exc}; record into another directory") from None
    if kept is None and any(directory.glob("seg-*.gfa")):
        kept = LinkConfig()  # frames recorded before logs kept their layout: plain, the default one
    if kept is not None:
        if kept != config:
            was, now = ("SDLS" if c.sdls else "plain" for c in (kept, config))
            raise LinkLayoutMismatch(f"{directory} holds frames recorded under another link layout ({was} TM frames, "
                                     f"{kept.tm_frame_octets} octets; this link: {now}, {config.tm_frame_octets}); "
                                     f"record into another directory")
        if path.exists():
            return path
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(_as_json(config), f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
