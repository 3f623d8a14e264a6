"""Acceptance checks past the packet: who may send a command, and whether it can hurt the spacecraft.

The dispatcher decodes a TC to its declared command and arguments (`decode_tc`), then asks here:

- `authorise`: the command's dictionary roles must include the sender's role (the SA's role, from
  the Origin); a tenant's command that names a `tenant` must name its own. Commands from the node
  itself (ONBOARD: schedule releases, event-actions) pass: they were judged when stored.
- `hazard`: what makes the command hazardous, or None. Besides commands declared hazardous, a
  TC[20,3] parameter set is hazardous when it sets a parameter declared hazardous, and a TC[11,4]
  schedule insert when any TC it holds is (judged recursively, and each held TC must also be one
  the sender may send: it will be released later as ONBOARD, past every check).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable

from gridfree.flight.core.messages import Origin
from gridfree.protocols.dictionary import Command, DecodeError, Dictionary
from gridfree.protocols.errors import CrcError, ProtocolError
from gridfree.protocols.pus import PusTc
from gridfree.protocols.services import parameters as pus20
from gridfree.protocols.services import schedule as pus11
from gridfree.protocols.services.verification import FailureCode

PARAMETER_SET = (pus20.SERVICE, pus20.Subtype.SET_VALUES, None)
SCHEDULE_INSERT = (pus11.SERVICE, pus11.Subtype.INSERT, None)
MAX_NESTED_INSERTS = 2  # a schedule insert may hold inserts, which may not hold more


class Refused(Exception):
    """A TC refused at acceptance: becomes TM[1,2] with this code and reason."""

    def __init__(self, code: FailureCode, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class Route:
    command: Command
    handler: Callable[..., object]
    takes_origin: bool  # the handler declares an `origin` keyword: it is given the sender


@dataclass(frozen=True)
class Decoded:
    tc: PusTc
    route: Route
    args: dict


def tc_name(tc: PusTc, opcode: int | None = None) -> str:
    return f"TC[{tc.service},{tc.subtype}]" + (f" function {opcode:#06x}" if opcode is not None else "")


def decode_tc(routes: dict[tuple, Route], packet: bytes, apid: int | None = None) -> Decoded:
    """The declared command a TC packet names and its arguments; Refused with the PUS 1 code if the
    packet is malformed, for another APID (when `apid` is given), unknown, or its arguments bad."""
    try:
        tc = PusTc.unpack(packet)
    except ProtocolError as exc:
        code = FailureCode.BAD_CHECKSUM if isinstance(exc, CrcError) else FailureCode.INCOMPLETE_OR_BAD_LENGTH
        raise Refused(code, str(exc)) from None
    if apid is not None and tc.apid != apid:
        raise Refused(FailureCode.ILLEGAL_APID, f"APID {tc.apid} is not this node's")
    data, opcode = tc.app_data, None
    if (tc.service, tc.subtype) == (8, 1):
        if len(data) < 2:
            raise Refused(FailureCode.INCOMPLETE_OR_BAD_LENGTH, "TC[8,1] without a function id")
        (opcode,) = struct.unpack_from(">H", data)
        data = data[2:]
    route = routes.get((tc.service, tc.subtype, opcode))
    if route is None:
        raise Refused(FailureCode.UNKNOWN_COMMAND, f"no command {tc_name(tc, opcode)}")
    try:
        args = {"data": data} if route.command.raw else route.command.decode_args(data)
    except DecodeError as exc:
        raise Refused(FailureCode.BAD_ARGUMENT, str(exc)) from None
    except ValueError as exc:
        raise Refused(FailureCode.ARGUMENT_OUT_OF_RANGE, str(exc)) from None
    return Decoded(tc, route, args)


class AccessRules:
    def __init__(self, routes: dict[tuple, Route], parameters: Dictionary):
        self.routes = routes
        self.parameters = parameters  # every routed component's parameters, to read a TC[20,3]

    def authorise(self, cmd: Command, args: dict, origin: Origin) -> None:
        """Refused (NOT_AUTHORISED) unless `origin` may send `cmd` with these arguments."""
        if origin.role == "onboard":
            return
        if origin.role not in cmd.roles:
            raise Refused(FailureCode.NOT_AUTHORISED, f"{cmd.name} is for the {' and '.join(cmd.roles)} role"
                                                      f"{'s' if len(cmd.roles) > 1 else ''}; {origin} may not send it")
        if origin.role == "tenant" and "tenant" in args and args["tenant"] != origin.tenant:
            raise Refused(FailureCode.NOT_AUTHORISED, f"{cmd.name} names tenant {args['tenant']}; {origin} may act "
                                                      f"only for itself")

    def hazard(self, cmd: Command, args: dict, origin: Origin, depth: int = 0) -> str | None:
        """What makes the command hazardous ("node.Reboot", "params.Set of power.UnderVoltageV"),
        None if nothing does; Refused if what it carries inside is malformed or not the sender's
        to send."""
        if cmd.hazardous:
            return cmd.name
        if cmd.key == PARAMETER_SET:
            try:
                names = pus20.unpack_values(self.parameters, args["data"])
            except DecodeError as exc:
                raise Refused(FailureCode.BAD_ARGUMENT, str(exc)) from None
            risky = [n for n in names if self.parameters.parameter_by_name[n].hazardous]
            return f"{cmd.name} of {', '.join(risky)}" if risky else None
        if cmd.key == SCHEDULE_INSERT:
            return self._inserted_hazard(cmd, args["data"], origin, depth)
        return None

    def _inserted_hazard(self, cmd: Command, data: bytes, origin: Origin, depth: int) -> str | None:
        if depth >= MAX_NESTED_INSERTS:
            raise Refused(FailureCode.BAD_ARGUMENT, f"schedule inserts nested more than {MAX_NESTED_INSERTS} deep")
        try:
            activities = pus11.unpack_activities(data)
        except DecodeError as exc:
            raise Refused(FailureCode.BAD_ARGUMENT, str(exc)) from None
        found = None
        for k, (_, packet) in enumerate(activities):
            try:
                inner = decode_tc(self.routes, packet)
            except Refused:
                continue  # it will be refused when released: nothing it could do now
            try:
                self.authorise(inner.route.command, inner.args, origin)
                hazard = self.hazard(inner.route.command, inner.args, origin, depth + 1)
            except Refused as exc:
                raise Refused(exc.code, f"{cmd.name} activity {k}: {exc.reason}") from None
            found = found or (hazard and f"{cmd.name} holding {hazard}")
        return found
