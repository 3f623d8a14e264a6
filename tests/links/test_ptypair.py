"""Python pty pairs: two tty devices joined like a serial cable, within one process and across
processes, with the fault-injection hook the HIL rig uses."""
import os
import signal
import subprocess
import sys

import pytest

from gridfree.protocols.links import open_link
from gridfree.protocols.links.ptypair import PtyPair
from tests.links.util import MB, in_thread, read_exactly, wait_until, write_all


@pytest.fixture
def pair():
    with PtyPair() as p:
        yield p


def test_paths_are_distinct_tty_devices(pair):
    a, b = pair.paths
    assert a != b and os.path.exists(a) and os.path.exists(b)
    assert a.startswith("/dev/")


def test_a_megabyte_crosses_both_ways_intact_and_in_order(pair):
    payload = os.urandom(MB)
    with open_link(pair.paths[0]) as a, open_link(pair.paths[1]) as b:
        writer, _ = in_thread(write_all, a, payload)
        assert read_exactly(b, MB) == payload
        writer.join(10)
        writer, _ = in_thread(write_all, b, payload[::-1], 65536)
        assert read_exactly(a, MB) == payload[::-1]
        writer.join(10)
    assert pair.stats["bytes_ab"] == MB and pair.stats["bytes_ba"] == MB
    assert pair.stats["dropped_ab"] == pair.stats["errors"] == 0


def test_a_child_process_echoes_through_the_pair_with_a_bit_flipped_on_the_way():
    seen = []

    def flip_first_bit_once(data: bytes) -> bytes:
        seen.append(data)
        return bytes([data[0] ^ 0x01]) + data[1:] if len(seen) == 1 else data

    echo = ("import sys, serial\n"
            "p = serial.Serial(sys.argv[1], timeout=10)\n"
            "print('ready', flush=True)\n"
            "data = p.read(5)\n"
            "p.write(data[::-1]); p.flush()\n")
    with PtyPair(transform_ab=flip_first_bit_once) as pair:
        child = subprocess.Popen([sys.executable, "-c", echo, pair.paths[1]], stdout=subprocess.PIPE, text=True)
        try:
            # pyserial flushes its input on open: speak only once the child holds its end open.
            assert child.stdout.readline().strip() == "ready"
            with open_link(pair.paths[0]) as link:
                link.write(b"hello")
                assert read_exactly(link, 5) == b"olle" + bytes([ord("h") ^ 1])
        finally:
            assert child.wait(20) == 0
            child.stdout.close()


def test_the_line_can_go_silent_and_come_back(pair):
    swallowed = bytearray()

    def silent(data: bytes) -> bytes:
        swallowed.extend(data)
        return b""

    with open_link(pair.paths[0]) as a, open_link(pair.paths[1]) as b:
        pair.transform_ab = silent  # the line drops out
        a.write(b"lost")
        assert wait_until(lambda: swallowed == b"lost", 5)
        assert b.read(timeout=0.05) == b""
        pair.transform_ab = None
        a.write(b"back")
        assert read_exactly(b, 4) == b"back"


def test_a_transform_that_raises_is_counted_and_the_line_carries_on(pair):
    def broken(data: bytes) -> bytes:
        raise RuntimeError("fault model bug")

    pair.transform_ba = broken
    with open_link(pair.paths[0]) as a, open_link(pair.paths[1]) as b:
        b.write(b"still here")
        assert read_exactly(a, 10) == b"still here"
    assert pair.errors >= 1 and "fault model bug" in pair.last_error


def test_an_end_nobody_reads_drops_its_backlog_so_a_late_opener_hears_the_present(pair):
    with open_link(pair.paths[0]) as a:
        write_all(a, bytes(256 * 1024), 65536)  # more than the tty buffers hold
        assert wait_until(lambda: pair.stats["dropped_ab"] > 0, 5)
        assert a.stats.dropped_writes == 0  # the writer never noticed: it did not block
        with open_link(pair.paths[1]) as b:  # pyserial flushes what the tty itself held
            a.write(b"fresh")
            assert read_exactly(b, 5) == b"fresh"
            assert b.read(timeout=0.1) == b""


def test_stop_unplugs_the_cable_and_is_prompt():
    pair = PtyPair().start()
    link = open_link(pair.paths[0])
    try:
        reader, result = in_thread(link.read, 65536, 5.0)
        pair.stop()
        pair.stop()  # idempotent
        assert not pair._thread.is_alive()
        # the open end now reads EIO: counted, reported as disconnected, never raised
        reader.join(10)
        assert result == [b""]
        assert read_exactly(link, 1, timeout_s=0.5) == b""
        assert link.stats.errors >= 1 and not link.stats.connected
        # A bare /dev/pts/N is never reopened: the next pty anyone makes may get its number.
        assert "not reopened" in link.down_reason
    finally:
        link.close()


def test_the_module_runs_as_a_program_and_stops_on_sigint():
    proc = subprocess.Popen([sys.executable, "-m", "gridfree.protocols.links.ptypair"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        a_path, b_path = proc.stdout.readline().strip(), proc.stdout.readline().strip()
        with open_link(a_path) as a, open_link(b_path) as b:
            a.write(b"across processes")
            assert read_exactly(b, 16) == b"across processes"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert "stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
