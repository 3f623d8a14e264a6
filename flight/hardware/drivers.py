"""Board drivers by name, as pyserial finds a URL handler by its scheme: the configuration's
`[hardware] driver` names an entry here, whose module is imported only when that driver is opened
(so a node on the rig never imports the Linux host's driver, and `interfaces.py` knows no driver).

    open_board("rig", "/dev/pts/3")       the register protocol on a serial line (protocols/hwbus)
    open_board("linux")                   this Linux host as the payload (sysfs, RAPL)
    open_board("none")                    no board: every reading absent, every switch refused

An entry is "module:factory", the factory taking the configured URL and returning a `PowerBoard`.
Another driver (a bench board, a test double) is added with `register`, as pyserial's
`protocol_handler_packages` takes another package of handlers.
"""
from __future__ import annotations

import importlib

from gridfree.flight.hardware.interfaces import AbsentBoard, PowerBoard

DRIVERS: dict[str, str] = {
    "rig": "gridfree.flight.hardware.rig:RigSerialBoard",
    "linux": "gridfree.flight.hardware.linuxhost:open_board",
    "none": "gridfree.flight.hardware.drivers:open_absent",
}


class UnknownDriver(ValueError):
    """A driver name no entry answers to; the message lists the known ones."""

    def __init__(self, name: object):
        super().__init__(f"unknown hardware driver {name!r} (known: {', '.join(sorted(DRIVERS))})")
        self.name = name


def register(name: str, target: str) -> None:
    """Make `target` ("module:factory", the factory taking a URL) the driver called `name`."""
    module, sep, factory = target.partition(":")
    if not (module and sep and factory):
        raise ValueError(f"a driver is 'module:factory', got {target!r}")
    DRIVERS[name] = target


def open_board(driver: str, url: str = "") -> PowerBoard:
    """The board the configuration names, opened on `url`. Raises UnknownDriver for a name not in
    `DRIVERS`; a driver whose line cannot be opened yet still returns a board that reports it."""
    try:
        target = DRIVERS[driver]
    except (KeyError, TypeError):
        raise UnknownDriver(driver) from None
    module, _, factory = target.partition(":")
    return getattr(importlib.import_module(module), factory)(url)


def open_absent(url: str = "") -> PowerBoard:
    """The "none" driver: no board at all (the URL is not used)."""
    return AbsentBoard()
