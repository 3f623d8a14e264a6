"""The key and SA commands of the node's security component (CCSDS 355.1-B-1, the subset a mission uses).

Keys arrive by OTAR: a session key wrapped under a master key the node already holds (the wrap
binds the master and key ids, protocols/keystore.py), stored PRE_ACTIVE, checked by a
challenge/response, then made ACTIVE and put under an SA with RekeySa. Every change is made on a
copy of the keystore that replaces the live one only once it is saved to KEYDIR/keystore.bin
(atomic, fsynced): a command that fails, or a save the disk refuses, changes nothing stored and
nothing in use.

Two refusals protect the node from its own operators: no change may leave it without an
operational operator TC SA (stopping the last one would lock the ground out for good), and no key
an operational SA uses may be taken out of use under it (stop or rekey the SA first). One key
serves one SA only: GCM's nonce is unique per key, and two senders counting IVs under one key
would reuse them.
"""
from __future__ import annotations

import copy

from gridfree.flight.core.component import CommandFailed
from gridfree.protocols.dictionary import Command, Event, Field, Severity
from gridfree.protocols.keystore import (NONCE_OCTETS, VERIFICATION_OCTETS, WRAPPED_OCTETS, KeyEntry, KeyKind,
                                         KeyState, KeyStateError, Keystore, KeyUnwrapError, SaState, key_verification,
                                         unwrap_key)
from gridfree.protocols.services.verification import FailureCode

_KEY_ID = Field("key_id", "u16", min=1, description="Key id in the node's keystore")
_SPI = Field("spi", "u16", min=1, description="Security parameter index of the SA")


def _cmd(name: str, opcode: int, arguments: tuple = (), description: str = "", hazardous: bool = True) -> Command:
    return Command(name, opcode=opcode, arguments=arguments, description=description, hazardous=hazardous)


COMMANDS = (
    _cmd("UploadKey", 0x01, (Field("master_id", "u16", min=1, description="Master key the session key is wrapped "
                                                                             "under"),
                             _KEY_ID,
                             Field("nonce", f"bytes[{NONCE_OCTETS}]", description="Wrap nonce (never reused)"),
                             Field("wrapped", f"bytes[{WRAPPED_OCTETS}]", description="AES-256-GCM wrapped key "
                                                                                      "and tag")),
         "OTAR: store a session key wrapped under a master key, PRE_ACTIVE (`gridfree keys otar` builds it)"),
    _cmd("ActivateKey", 0x02, (_KEY_ID,), "PRE_ACTIVE -> ACTIVE"),
    _cmd("DeactivateKey", 0x03, (_KEY_ID,), "ACTIVE -> DEACTIVATED (refused while an operational SA uses it)"),
    _cmd("DestroyKey", 0x04, (_KEY_ID,), "PRE_ACTIVE or DEACTIVATED -> DESTROYED: the key's octets are zeroed"),
    _cmd("VerifyKey", 0x05, (_KEY_ID, Field("challenge", f"bytes[{VERIFICATION_OCTETS}]",
                                            description="Random challenge chosen by the ground")),
         "Challenge/response: event KeyVerified with HMAC-SHA256 under a key derived from the key", False),
    _cmd("ListKeys", 0x06, (), "One KeyReport event per key (never its octets)", False),
    _cmd("StartSa", 0x07, (_SPI,), "Make an SA operational (its key must be ACTIVE)"),
    _cmd("StopSa", 0x08, (_SPI,), "Stop an SA (refused for the last operational operator TC SA)"),
    _cmd("RekeySa", 0x09, (_SPI, _KEY_ID), "Put an SA under another ACTIVE session key; its anti-replay window "
                                           "starts again for the new key"),
    _cmd("SetSaWindow", 0x0A, (_SPI, Field("window", "u16", min=1, max=1024, description="IVs behind the highest "
                                                                                      "still accepted once")),
         "Set an SA's anti-replay window"),
    _cmd("SaStatus", 0x0B, (_SPI,), "Event SaReport with the SA's state", False),
)

EVENTS = (
    Event(7, "KeyChanged", Severity.ACTIVITY_HI, "key {key_id}: {change}",
          (Field("key_id", "u16"), Field("change", "string[48]"))),
    Event(8, "SaChanged", Severity.ACTIVITY_HI, "SA {spi}: {change}",
          (Field("spi", "u16"), Field("change", "string[48]"))),
    Event(9, "KeyVerified", Severity.ACTIVITY_HI, "key {key_id} verification response {response}",
          (Field("key_id", "u16"), Field("response", f"string[{2 * VERIFICATION_OCTETS}]"))),
    Event(10, "KeyReport", Severity.ACTIVITY_LO, "key {key_id}: {kind} {state}, used by {used_by}",
          (Field("key_id", "u16"), Field("kind", "string[8]"), Field("state", "string[12]"),
           Field("used_by", "string[32]"))),
    Event(11, "SaReport", Severity.ACTIVITY_LO,
          "SA {spi}: {direction} key {key_id} {role} {tenant} {service} window {window} {state}, highest IV "
          "{highest_iv}",
          (Field("spi", "u16"), Field("direction", "string[2]"), Field("key_id", "u16"), Field("role", "string[8]"),
           Field("tenant", "u16"), Field("service", "string[14]"), Field("window", "u16"),
           Field("state", "string[12]"), Field("highest_iv", "string[32]"))),
)


def _fail(reason: str, code: FailureCode = FailureCode.EXECUTION_ERROR) -> CommandFailed:
    return CommandFailed(code, reason)


def operator_tc_left(ks: Keystore) -> bool:
    """Whether the ground could still command the node through `ks`: an operational operator TC
    SA whose key is an ACTIVE session key."""
    for sa in ks.sas.values():
        if sa.direction == "tc" and sa.role == "operator" and sa.state is SaState.OPERATIONAL:
            try:
                ks.session_key(sa.key_id)
                return True
            except KeyStateError:
                continue
    return False


def users(ks: Keystore, key_id: int, *, operational_only: bool = False) -> list[int]:
    return sorted(s.spi for s in ks.sas.values() if s.key_id == key_id
                  and (not operational_only or s.state is SaState.OPERATIONAL))


class KeyCommands:
    """The command handlers of SecurityComponent. The component provides `keystore` (None when
    insecure), `_commit(draft, changed_tm)` (save, then use) and `sa_highest_iv(spi)`."""

    # ---- helpers --------------------------------------------------------------------------------
    def _draft(self) -> Keystore:
        if self.keystore is None:
            raise _fail("this node runs --insecure: it has no keystore")
        return copy.deepcopy(self.keystore)

    @staticmethod
    def _sa(ks: Keystore, spi: int):
        sa = ks.sas.get(spi)
        if sa is None:
            raise _fail(f"no SA with SPI {spi} (have {sorted(ks.sas) or 'none'})", FailureCode.BAD_ARGUMENT)
        return sa

    def _key_move(self, key_id: int, new: KeyState, change: str) -> None:
        ks = self._draft()
        try:
            ks.transition(key_id, new)
        except KeyStateError as exc:
            raise _fail(str(exc), FailureCode.BAD_ARGUMENT if key_id not in ks.keys else FailureCode.EXECUTION_ERROR)
        self._commit(ks, changed_tm=False)
        self.log("KeyChanged", key_id=key_id, change=change)

    # ---- keys -----------------------------------------------------------------------------------
    def cmd_UploadKey(self, master_id: int, key_id: int, nonce: bytes, wrapped: bytes) -> None:
        ks = self._draft()
        if len(nonce) != NONCE_OCTETS or len(wrapped) != WRAPPED_OCTETS:
            raise _fail(f"upload refused: nonce of {len(nonce)} and wrapped key of {len(wrapped)} octets; "
                        f"expected {NONCE_OCTETS} and {WRAPPED_OCTETS}", FailureCode.BAD_ARGUMENT)
        if key_id in ks.keys:
            raise _fail(f"upload refused: key {key_id} already exists ({ks.keys[key_id].state.name}); "
                        f"key ids are never reused", FailureCode.BAD_ARGUMENT)
        try:
            master = ks.master_key(master_id)
        except KeyStateError as exc:
            raise _fail(f"upload refused: {exc}", FailureCode.BAD_ARGUMENT) from None
        try:
            key = unwrap_key(master, master_id, key_id, nonce, wrapped)
            ks.add_key(KeyEntry(key_id, KeyKind.SESSION, KeyState.PRE_ACTIVE, key))
        except KeyUnwrapError as exc:
            raise _fail(f"upload refused: {exc}", FailureCode.AUTHENTICATION_FAILED) from None
        except (KeyStateError, ValueError) as exc:
            raise _fail(f"upload refused: {exc}") from None
        self._commit(ks, changed_tm=False)
        self.log("KeyChanged", key_id=key_id, change=f"uploaded under master {master_id}, PRE_ACTIVE")

    def cmd_ActivateKey(self, key_id: int) -> None:
        self._key_move(key_id, KeyState.ACTIVE, "ACTIVE")

    def cmd_DeactivateKey(self, key_id: int) -> None:
        spis = users(self._draft(), key_id, operational_only=True)
        if spis:
            raise _fail(f"key {key_id} is in use by operational SA {', '.join(map(str, spis))}: "
                        f"stop or rekey it first")
        self._key_move(key_id, KeyState.DEACTIVATED, "DEACTIVATED")

    def cmd_DestroyKey(self, key_id: int) -> None:
        self._key_move(key_id, KeyState.DESTROYED, "DESTROYED, octets zeroed")

    def cmd_VerifyKey(self, key_id: int, challenge: bytes) -> None:
        ks = self._draft()
        entry = ks.keys.get(key_id)
        if entry is None:
            raise _fail(f"no key {key_id}", FailureCode.BAD_ARGUMENT)
        if entry.state is KeyState.DESTROYED:
            raise _fail(f"key {key_id} is destroyed")
        if len(challenge) != VERIFICATION_OCTETS:
            raise _fail(f"challenge of {len(challenge)} octets; it is {VERIFICATION_OCTETS}", FailureCode.BAD_ARGUMENT)
        self.log("KeyVerified", key_id=key_id, response=key_verification(entry.key, challenge).hex())

    def cmd_ListKeys(self) -> None:
        ks = self._draft()
        for key_id in sorted(ks.keys):
            entry = ks.keys[key_id]
            used = ", ".join(f"SPI {s}" for s in users(ks, key_id)) or "no SA"
            self.log("KeyReport", key_id=key_id, kind=entry.kind.name, state=entry.state.name, used_by=used)

    # ---- security associations ----------------------------------------------------------------
    def cmd_StartSa(self, spi: int) -> None:
        ks = self._draft()
        sa = self._sa(ks, spi)
        if sa.state is SaState.OPERATIONAL:
            raise _fail(f"SA {spi} is already operational")
        try:
            ks.session_key(sa.key_id)
        except KeyStateError as exc:
            raise _fail(f"SA {spi} cannot start: {exc}") from None
        sa.state = SaState.OPERATIONAL
        self._commit(ks, changed_tm=sa.direction == "tm")
        self.log("SaChanged", spi=spi, change="OPERATIONAL")

    def cmd_StopSa(self, spi: int) -> None:
        ks = self._draft()
        sa = self._sa(ks, spi)
        if sa.state is SaState.STOPPED:
            raise _fail(f"SA {spi} is already stopped")
        sa.state = SaState.STOPPED
        if not operator_tc_left(ks):
            raise _fail(f"SA {spi} is the last operational operator TC SA: stopping it would lock the ground "
                        f"out (start another first)")
        self._commit(ks, changed_tm=sa.direction == "tm")
        self.log("SaChanged", spi=spi, change="STOPPED")

    def cmd_RekeySa(self, spi: int, key_id: int) -> None:
        ks = self._draft()
        sa = self._sa(ks, spi)
        if sa.key_id == key_id:
            raise _fail(f"SA {spi} already uses key {key_id}")
        try:
            ks.session_key(key_id)
        except KeyStateError as exc:
            raise _fail(f"SA {spi} cannot use key {key_id}: {exc}") from None
        others = [s for s in users(ks, key_id) if s != spi]
        if others:
            raise _fail(f"key {key_id} belongs to SA {', '.join(map(str, others))}: one key per SA")
        old, sa.key_id = sa.key_id, key_id
        if not operator_tc_left(ks):
            raise _fail(f"rekeying SA {spi} would leave no usable operator TC SA")
        self._commit(ks, changed_tm=sa.direction == "tm", rekeyed_tm=spi if sa.direction == "tm" else None)
        self.log("SaChanged", spi=spi, change=f"rekeyed from key {old} to key {key_id}")

    def cmd_SetSaWindow(self, spi: int, window: int) -> None:
        ks = self._draft()
        sa = self._sa(ks, spi)
        old, sa.window = sa.window, window
        self._commit(ks, changed_tm=False)
        self.log("SaChanged", spi=spi, change=f"window {old} -> {window}")

    def cmd_SaStatus(self, spi: int) -> None:
        ks = self._draft()
        sa = self._sa(ks, spi)
        self.log("SaReport", spi=spi, direction=sa.direction, key_id=sa.key_id, role=sa.role, tenant=sa.tenant,
                 service="encrypted" if sa.encrypt else "authenticated", window=sa.window, state=sa.state.name,
                 highest_iv=str(self.sa_highest_iv(spi)))
