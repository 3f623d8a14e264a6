"""The ground's side of one key directory: the TC SA it sends through, its IVs, its TM SA.

`GroundSecurity.load(keydir)` is what `gridfree cmd`, `tm`, `console` and the HIL runner hold to
protect uplinked frames and check downlinked ones. The IV of the TC SA is the anti-replay sequence
number and the GCM nonce, so it must never repeat under a key, even when two ground processes
(a console and a `gridfree cmd`) send through the same key directory at once, or when `gridfree
keys use` rekeys the SA while a console is open. Hence each IV is taken under an exclusive lock
on the SA (KEYDIR/.tc-iv-<spi>.lock), from the counter file KEYDIR/tc-iv-<spi>.bin reserved one
IV at a time (about a millisecond: commands go at human rates), after checking the keystore still
gives the SA the key this object holds. IVs then strictly increase across processes and reopens,
and a rekeyed SA is refused, never used with a restarted counter.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gridfree.protocols.ivcounter import IvCounter, IvStoreDamaged
from gridfree.protocols.keystore import KEYSTORE_FILE, Keystore, KeystoreError, KeyStateError, SaState
from gridfree.protocols.sdls import SecurityAssociation


def keystore_path(keydir: str | os.PathLike) -> Path:
    """KEYDIR/keystore.bin, or a KeystoreError saying what KEYDIR is instead (missing, not a
    directory, or the top of `gridfree keys init`'s output rather than one side's directory)."""
    keydir = Path(keydir)
    if not keydir.is_dir():
        raise KeystoreError(f"{keydir}: {'not a directory' if keydir.exists() else 'no such key directory'}")
    path = keydir / KEYSTORE_FILE
    if not path.exists() and (keydir / "ground" / KEYSTORE_FILE).exists():
        raise KeystoreError(f"{keydir}: holds no {KEYSTORE_FILE}; the ground's keys are in {keydir / 'ground'}")
    return path


def tc_iv_path(keydir: str | os.PathLike, spi: int) -> Path:
    return Path(keydir) / f"tc-iv-{spi}.bin"


@contextmanager
def _flock(path: Path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def sa_lock(keydir: str | os.PathLike, spi: int):
    """Exclusive use of one SA's IV counter among the processes of this machine (flock)."""
    return _flock(Path(keydir) / f".tc-iv-{spi}.lock")


def keystore_lock(keydir: str | os.PathLike):
    """Exclusive right to change KEYDIR's keystore (load, change, save), so two `gridfree keys`
    runs at once cannot lose one another's change."""
    return _flock(Path(keydir) / ".keystore.lock")


def role_text(role: str, tenant: int) -> str:
    return f"tenant {tenant}" if role == "tenant" else role


@dataclass
class GroundSecurity:
    keydir: Path
    tc_sa: SecurityAssociation
    tm_sa: SecurityAssociation | None
    role: str  # "operator" | "tenant"
    tenant: int  # 0 unless role is "tenant"
    key_id: int  # the session key of the TC SA

    @property
    def origin_text(self) -> str:
        """Who the node will see, e.g. 'operator, SPI 1' or 'tenant 2, SPI 258'."""
        return f"{role_text(self.role, self.tenant)}, SPI {self.tc_sa.spi}"

    @classmethod
    def load(cls, keydir: str | os.PathLike, spi: int | None = None) -> "GroundSecurity":
        """The SA with SPI `spi`, else the first operational TC SA of KEYDIR's keystore;
        KeystoreError (one line, naming the file) for anything unusable."""
        keydir = Path(keydir)
        path = keystore_path(keydir)
        store = Keystore.load(path)
        tcs = sorted(s for s, sa in store.sas.items() if sa.direction == "tc")
        if spi is None:
            live = [s for s in tcs if store.sas[s].state is SaState.OPERATIONAL]
            if not live:
                raise KeystoreError(f"{path}: no operational TC SA (TC SAs: {_listed(tcs)})")
            spi = live[0]
        elif spi not in tcs:
            raise KeystoreError(f"{path}: no TC SA with SPI {spi} (TC SAs: {_listed(tcs)})")
        entry = store.sas[spi]
        tms = sorted(s for s, sa in store.sas.items() if sa.direction == "tm")
        try:
            tc_sa = store.association(spi)
            tm_sa = store.association(tms[0]) if tms else None
        except KeyStateError as exc:
            raise KeystoreError(f"{path}: {exc}") from None
        if not tc_sa.operational:
            raise KeystoreError(f"{path}: SPI {spi} is stopped")
        security = cls(keydir, tc_sa, tm_sa, entry.role, entry.tenant, entry.key_id)
        with sa_lock(keydir, spi):
            security._counter()  # a damaged counter is found now, not at the first command
        return security

    def _counter(self) -> IvCounter:
        path = tc_iv_path(self.keydir, self.tc_sa.spi)
        try:
            return IvCounter(path, block=1)
        except IvStoreDamaged as exc:
            raise KeystoreError(str(exc)) from None

    def next_iv(self) -> int:
        """The next IV of the TC SA, on disk before it is returned; KeystoreError if the SA has
        been rekeyed or stopped since this object was loaded (reload to send under the new key)."""
        spi = self.tc_sa.spi
        with sa_lock(self.keydir, spi):
            path = self.keydir / KEYSTORE_FILE
            sa = Keystore.load(path).sas.get(spi)
            if sa is None or sa.key_id != self.key_id or sa.state is not SaState.OPERATIONAL:
                now = "gone" if sa is None else f"key {sa.key_id}, {sa.state.name}"
                raise KeystoreError(f"{path}: SPI {spi} changed since it was loaded ({now}); "
                                    f"reopen the key directory")
            return self._counter().next()


def _listed(spis: list[int]) -> str:
    return ", ".join(map(str, spis)) or "none"
