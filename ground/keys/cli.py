"""`gridfree keys`: the mission's key material and over-the-air rekeying, from the ground.

    gridfree keys init DIR [--tenants N] [--force]   node, ground and tenant material (material.py)
    gridfree keys list KEYDIR                        keys and SAs, never a key's octets
    gridfree keys otar KEYDIR --master M --key-id K  a new session key, and the sec.UploadKey to send
    gridfree keys use KEYDIR --spi S --key-id K      after the node's sec.RekeySa: the ground follows
    gridfree keys verify KEYDIR --key-id K           a challenge for sec.VerifyKey and the response
                                                     the node must give

Every wrong input (a missing directory, material already there, a number out of range, an
unknown key id) is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from gridfree.protocols.cliargs import EXIT_USAGE, CliError


class _Parser(argparse.ArgumentParser):
    """argparse whose usage mistakes are one-line CliErrors, like every other wrong input here."""

    def error(self, message: str):
        raise CliError(f"{message} (`{self.prog} --help` says more)", EXIT_USAGE)


def _number(lo: int, hi: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} {text!r} is not an integer") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{what} {value} out of {lo}..{hi}")
        return value
    return parse


_ID = _number(1, 0xFFFF, "id")


def _parser() -> argparse.ArgumentParser:
    from gridfree.ground.keys.material import MAX_TENANTS

    parser = _Parser(prog="gridfree keys", description="key material and over-the-air rekeying")
    sub = parser.add_subparsers(dest="action", metavar="{init,list,otar,use,verify}", required=True)
    p = sub.add_parser("init", help="make matching node, ground and tenant key material in DIR")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--tenants", type=_number(0, MAX_TENANTS, "tenant count"), default=2,
                   help=f"tenants to make keys for, 0..{MAX_TENANTS} (default 2)")
    p.add_argument("--force", action="store_true", help="replace the key material already in DIR")
    p = sub.add_parser("list", help="the keys and SAs of a key directory (never a key's octets)")
    p.add_argument("keydir", metavar="KEYDIR")
    p = sub.add_parser("otar", help="make a session key and print the sec.UploadKey command that uploads it")
    p.add_argument("keydir", metavar="KEYDIR")
    p.add_argument("--master", type=_ID, required=True, help="master key id to wrap under (e.g. 1)")
    p.add_argument("--key-id", type=_ID, required=True, help="id of the new session key, 1..65535")
    p = sub.add_parser("use", help="after the node's sec.RekeySa: this ground's SA uses the new key")
    p.add_argument("keydir", metavar="KEYDIR")
    p.add_argument("--spi", type=_ID, required=True, help="the SA's SPI (e.g. 1, or 0x101)")
    p.add_argument("--key-id", type=_ID, required=True, help="the session key the SA now uses")
    p = sub.add_parser("verify", help="a challenge for sec.VerifyKey and the response the node must give")
    p.add_argument("keydir", metavar="KEYDIR")
    p.add_argument("--key-id", type=_ID, required=True)
    p.add_argument("--challenge", default=None, help="16 octets in hex (default: random)")
    return parser


def run(argv: list[str]) -> int:
    from gridfree.protocols.keystore import KeystoreError, KeyStateError

    a = _parser().parse_args(argv)
    try:
        return {"init": _init, "list": _list, "otar": _otar, "use": _use, "verify": _verify}[a.action](a)
    except KeystoreError as exc:  # names its file already
        raise CliError(str(exc), EXIT_USAGE) from None
    except KeyStateError as exc:
        raise CliError(f"{a.keydir}: {exc}" if hasattr(a, "keydir") else str(exc), EXIT_USAGE) from None


def _init(a) -> int:
    from gridfree.ground.keys import material

    root = Path(a.dir)
    if root.exists() and not root.is_dir():
        raise CliError(f"{root} exists and is not a directory", EXIT_USAGE)
    if root.exists() and any(root.iterdir()) and not a.force:
        raise CliError(f"{root} already holds files; --force replaces its key material", EXIT_USAGE)
    if not root.absolute().parent.is_dir():
        raise CliError(f"{root.absolute().parent}: no such directory to make {root.name} in", EXIT_USAGE)
    made = material.init(root, a.tenants)
    q = shlex.quote
    print(f"key material for a new mission in {made.root} ({a.tenants} tenant{'s' * (a.tenants != 1)}); "
          f"every file is secret but the public keys:")
    print(f"  {made.node}/  to the spacecraft (node config: [security] keys = {q(str(made.node))!s})")
    print(f"  {made.ground}/  to the operators (gridfree cmd/tm/console --keys {q(str(made.ground))})")
    for n, where in enumerate(made.tenants, 1):
        print(f"  {where}/  to tenant {n} only (gridfree cmd --keys {q(str(where))})")
    print(f"  {made.root / 'ledger-public.pem'}  publish: tenants check the ledger with it")
    for stale in sorted(set(made.root.glob("tenant-*")) - set(made.tenants)):
        print(f"gridfree keys: {stale} is left from the material replaced; its keys match nothing now",
              file=sys.stderr)
    return 0


def _list(a) -> int:
    from gridfree.ground.keys.session import keystore_path, role_text
    from gridfree.protocols.keystore import Keystore

    path = keystore_path(a.keydir)
    store = Keystore.load(path)
    print(f"{path}: {len(store.keys)} keys, {len(store.sas)} SAs")
    print(f"{'key':>6}  {'kind':<8} state")
    for key_id in sorted(store.keys):
        entry = store.keys[key_id]
        print(f"{key_id:>6}  {entry.kind.name:<8} {entry.state.name}")
    print(f"{'SPI':>6}  {'dir':<4}{'key':>6}  {'role':<11} {'service':<14} {'window':>6}  state")
    for spi in sorted(store.sas):
        sa = store.sas[spi]
        service = "encrypted" if sa.encrypt else "authenticated"
        print(f"{spi:>6}  {sa.direction:<4}{sa.key_id:>6}  {role_text(sa.role, sa.tenant):<11} "
              f"{service:<14} {sa.window:>6}  {sa.state.name}")
    return 0


def _otar(a) -> int:
    from gridfree.ground.keys.otar import build_upload

    upload = build_upload(a.keydir, a.master, a.key_id)
    print(upload.command_line(a.keydir))
    k, s = a.key_id, shlex.quote(a.keydir)
    print(f"key {k} is stored PRE_ACTIVE in {a.keydir}; add --link to the line above, then send "
          f"sec.ActivateKey key_id={k}, sec.RekeySa spi=SPI key_id={k} (with --arm), and run "
          f"`gridfree keys use {s} --spi SPI --key-id {k}`", file=sys.stderr)
    return 0


def _use(a) -> int:
    from gridfree.ground.keys.otar import use_key

    old = use_key(a.keydir, a.spi, a.key_id)
    print(f"SPI {a.spi} now uses key {a.key_id} (was key {old}); its TC IVs start again from 1")
    return 0


def _verify(a) -> int:
    from gridfree.ground.keys.otar import bytes_literal
    from gridfree.ground.keys.session import keystore_path
    from gridfree.protocols.keystore import KeyState, Keystore, KeyStateError, key_verification

    store = Keystore.load(keystore_path(a.keydir))
    entry = store.keys.get(a.key_id)
    if entry is None or entry.state is KeyState.DESTROYED:
        raise KeyStateError(f"no key {a.key_id} to verify" if entry is None else f"key {a.key_id} is destroyed")
    if a.challenge is None:
        challenge = os.urandom(16)
    else:
        try:
            challenge = bytes.fromhex(a.challenge)
        except ValueError:
            raise CliError(f"--challenge {a.challenge!r} is not hex", EXIT_USAGE) from None
        if len(challenge) != 16:
            raise CliError(f"--challenge is {len(challenge)} octets; a challenge is 16", EXIT_USAGE)
    print(f'gridfree cmd sec.VerifyKey key_id={a.key_id} "challenge={bytes_literal(challenge)}" '
          f"--keys {shlex.quote(a.keydir)}")
    print(f"expected response: {key_verification(entry.key, challenge).hex()}")
    return 0


command = {"help": "key material for node, ground and tenants; over-the-air rekeying (OTAR)", "run": run}
