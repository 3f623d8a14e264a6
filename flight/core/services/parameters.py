"""PUS service 20: on-board parameters, persisted atomically with a CRC.

Values live in memory and in one store file written whole (temporary file, fsync, rename) after
every change. At boot a missing store means defaults; a corrupt one (bad CRC, torn write,
unparseable, or values outside their declared ranges) also means defaults, with an event saying
so: a node must never fly on half-trusted parameters. Every such problem is the store's
`CorruptStoreError`, counted in `StoreDamaged`, and the damaged file is kept beside the store
(`parameters.bin.damaged`) for the ground, never overwritten by the next change.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.downlink import VC_REALTIME
from gridfree.flight.core.store import AtomicRecordFile, CorruptStoreError
from gridfree.protocols.dictionary import Channel, Command, DecodeError, Event, Field, Severity, HousekeepingPacket
from gridfree.protocols.services import parameters as pus20
from gridfree.protocols.services.verification import FailureCode


class ParameterService(Component):
    channels = (Channel(1, "ParametersSet", "u32", description="Parameter values changed by command"),
                Channel(2, "StoreDamaged", "u16", description="Parameter stores found damaged since boot "
                                                               "(defaults flown, the damaged file kept aside)"))
    housekeeping = (HousekeepingPacket(1, "Status", ("ParametersSet", "StoreDamaged"), 10.0, "Parameter service"),)
    commands = (
        Command("Report", service=20, subtype=pus20.Subtype.REPORT_VALUES, raw=True,
                description="TC[20,1]: N x parameter id; answered by TM[20,2]"),
        Command("Set", service=20, subtype=pus20.Subtype.SET_VALUES, raw=True,
                description="TC[20,3]: N x (parameter id, value in its declared type)"),
    )
    events = (
        Event(1, "StoreCorrupt", Severity.WARNING_HI, "parameter store unusable ({reason}); defaults in use",
              (Field("reason", "string[48]"),)),
        Event(2, "Loaded", Severity.ACTIVITY_LO, "{count} parameters loaded from the store", (Field("count", "u16"),)),
    )

    def __init__(self, name: str, id_base: int, *, store_path: str | Path):
        super().__init__(name, id_base)
        self.store = AtomicRecordFile(store_path)
        self.values: dict[str, Any] = {}
        self.changes = 0

    def attach(self, ctx) -> None:
        super().attach(ctx)
        self.values = {p.name: p.default for p in ctx.dictionary.parameters}
        self.damaged = 0
        try:
            checked = self._stored(ctx.dictionary)
        except CorruptStoreError as exc:
            self.damaged += 1
            self.store.set_aside()
            self.log("StoreCorrupt", reason=exc.reason)
            checked = None
        self.tlm("StoreDamaged", self.damaged)
        if checked is not None:
            self.values.update(checked)
            self.log("Loaded", count=len(checked))

    def _stored(self, d) -> dict[str, Any] | None:
        """The stored values, each checked against its declaration; None without a store,
        CorruptStoreError for anything else."""
        stored = self.store.load_json()
        if stored is None:
            return None
        if not isinstance(stored, dict):
            raise CorruptStoreError(self.store.path, "top level is not an object")
        checked = {}
        for name, value in stored.items():
            p = d.parameter_by_name.get(name)
            if p is None:
                continue  # a parameter this build no longer has: ignored, not fatal
            try:
                checked[name] = p.field.check(value, name)
            except (ValueError, TypeError, OverflowError) as exc:  # float(10**400) overflows
                raise CorruptStoreError(self.store.path, str(exc)[:120]) from None
        return checked

    def get(self, name: str) -> Any:
        return self.values[name]

    def set(self, name: str, value: Any) -> None:
        p = self.ctx.dictionary.parameter_by_name[name]
        self.values[name] = p.field.check(value, name)
        self._save()

    def _save(self) -> None:
        self.store.save(json.dumps(self.values, sort_keys=True).encode())

    def cmd_Report(self, data: bytes) -> None:
        try:
            names = pus20.unpack_ids(self.ctx.dictionary, data)
        except DecodeError as exc:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, str(exc)) from None
        report = pus20.pack_values(self.ctx.dictionary, {n: self.values[n] for n in names})
        self.ctx.downlink.send(20, pus20.Subtype.VALUE_REPORT, report, VC_REALTIME)

    def cmd_Set(self, data: bytes) -> None:
        try:
            new = pus20.unpack_values(self.ctx.dictionary, data)
            checked = {n: self.ctx.dictionary.parameter_by_name[n].field.check(v, n) for n, v in new.items()}
        except DecodeError as exc:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, str(exc)) from None
        except ValueError as exc:
            raise CommandFailed(FailureCode.ARGUMENT_OUT_OF_RANGE, str(exc)) from None
        self.values.update(checked)
        self._save()
        self.changes += len(checked)
        self.tlm("ParametersSet", self.changes)
