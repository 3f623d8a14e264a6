"""A node's radio played by the test, checking SDLS TC frames with raw AES-GCM.

It listens on TCP like a node's radio, takes the CLTUs the ground writes, and checks each frame
by hand, independently of protocols/sdls: the primary header and the security header are the
additional authenticated data, the IV is the 12 octets after the SPI, the MAC the 16 before the
FECF. What it accepted it answers with PUS 1 reports (accepted, completed) in TM frames, as a
node would, so the ground's verification tracking and audit see real reports.
"""
from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gridfree.protocols.config import LinkConfig
from gridfree.protocols.deframing import CltuDecoder
from gridfree.protocols.framing import TmFrameEncoder
from gridfree.protocols.keystore import Keystore
from gridfree.protocols.pus import PusTc, PusTm
from gridfree.protocols.sdls import SecurityAssociation
from gridfree.protocols.sdls_tm import TmProtector
from gridfree.protocols.services.verification import RequestId, Subtype, VerificationReport


@dataclass
class Received:
    """One TC frame as the fake node saw it."""

    frame: bytes
    spi: int | None  # None: a plain frame
    iv: int | None
    packet: bytes | None  # None: the MAC did not check
    tc: PusTc | None


class FakeSdlsNode:
    def __init__(self, keys: dict[int, bytes] | None, encrypt: bool = True, answer: bool = True,
                 refuse: set[tuple[int, int]] = frozenset(), tm_sa: SecurityAssociation | None = None):
        """`keys`: SPI -> AES-256 key (None: the node takes plain frames, as with --insecure);
        `refuse`: (service, subtype) of commands answered with an acceptance failure; `tm_sa`:
        the TM frames are SDLS frames sealed under it (the node's radio, protocols/sdls_tm)."""
        self.keys, self.encrypt, self.answer = keys, encrypt, answer
        self.refuse = refuse
        self.received: list[Received] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self.server.getsockname()[1]}"
        self.conn: socket.socket | None = None
        if tm_sa is None:
            self.tm = TmFrameEncoder()
        else:
            ivs = iter(range(1, 1 << 32))
            self.tm = TmFrameEncoder(LinkConfig(sdls=True), protector=TmProtector(tm_sa, lambda: next(ivs)))
        self.tm_seq = 0
        self._stop = threading.Event()
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        """One ground connection after another (a restarted ground connects again)."""
        self.server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conn = conn
            self._serve(conn)
            conn.close()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        cltus = CltuDecoder()
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            for _tc_frame, raw in cltus.feed_raw(data):
                self._frame(raw)

    def _frame(self, frame: bytes) -> None:
        got = self.check(frame)
        with self.changed:
            self.received.append(got)
            self.changed.notify_all()
        if got.tc is not None and self.answer:
            request = RequestId.of_packet(got.packet)
            if (got.tc.service, got.tc.subtype) in self.refuse:
                self._report(Subtype.ACCEPTANCE_FAILED, request, failure=5, data=b"refused by the test")
                return
            self._report(Subtype.ACCEPTANCE_OK, request)
            self._report(Subtype.COMPLETION_OK, request)

    def check(self, frame: bytes) -> Received:
        if self.keys is None:
            packet = frame[5:-2]
            return Received(frame, None, None, packet, PusTc.unpack(packet))
        header, (spi,), iv = frame[:5], struct.unpack_from(">H", frame, 5), frame[7:19]
        body = frame[19:-2]
        key = self.keys.get(spi)
        if key is None:
            return Received(frame, spi, int.from_bytes(iv, "big"), None, None)
        try:
            if self.encrypt:
                packet = AESGCM(key).decrypt(iv, body, header + frame[5:19])
            else:
                packet, tag = body[:-16], body[-16:]
                AESGCM(key).decrypt(iv, tag, header + frame[5:19] + packet)
        except InvalidTag:
            return Received(frame, spi, int.from_bytes(iv, "big"), None, None)
        return Received(frame, spi, int.from_bytes(iv, "big"), packet, PusTc.unpack(packet))

    def _report(self, subtype: Subtype, request: RequestId, failure: int | None = None, data: bytes = b"") -> None:
        rep = VerificationReport(subtype, request, failure=failure, failure_data=data)
        packet = PusTm(apid=100, service=1, subtype=int(subtype), app_data=rep.pack(), seq_count=self.tm_seq).pack()
        self.tm_seq = (self.tm_seq + 1) & 0x3FFF
        frames = self.tm.add_packet(0, packet) + self.tm.flush(0)
        try:
            self.conn.sendall(b"".join(frames))
        except OSError:
            pass

    def send_tm(self, packet: bytes, timeout_s: float = 10.0) -> None:
        """Send one TM packet down (once a ground has connected), as the node's radio would."""
        deadline = time.monotonic() + timeout_s
        while self.conn is None and time.monotonic() < deadline:
            self._stop.wait(0.02)
        frames = self.tm.add_packet(0, packet) + self.tm.flush(0)
        self.conn.sendall(b"".join(frames))

    def wait_frames(self, n: int, timeout_s: float = 10.0) -> list[Received]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.received) >= n, timeout_s)
            return list(self.received)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.server.close()


# ---- real key material, as an operator makes it -----------------------------------------------------

def init_mission(root: Path) -> Path:
    """`gridfree keys init root/keys`, as an operator runs it; returns that directory."""
    keys = root / "keys"
    made = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "keys", "init", str(keys)],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return keys


def ground_copy(keys: Path, dest: Path) -> Path:
    """A fresh copy of the mission's ground directory (its own IV counters and audit), modes kept."""
    return Path(shutil.copytree(keys / "ground", dest / "ground"))


def node_radio(keys: Path, tc_key: bytes | None = None, tm_key: bytes | None = None, encrypt: bool | None = None,
               **kw) -> FakeSdlsNode:
    """The node's radio with the node's keystore: its operator TC SA (SPI 1) checks frames, its TM
    SA (SPI 2) seals; `tc_key`/`tm_key` stand in other keys (a node that holds different ones)."""
    store = Keystore.load(keys / "node" / "keystore.bin")
    tc = store.keys[store.sas[1].key_id].key if tc_key is None else tc_key
    tm = store.association(2)
    if tm_key is not None:
        tm = SecurityAssociation(tm.spi, tm_key, encrypt=tm.encrypt)
    return FakeSdlsNode({1: tc}, encrypt=store.sas[1].encrypt if encrypt is None else encrypt, tm_sa=tm, **kw)
