"""The sender's IV counter: a process killed with SIGKILL at any moment, restarted, never hands
out an IV it may already have used; a damaged store is refused, never guessed past."""
import os
import signal
import subprocess
import sys

import pytest

from gridfree.protocols.ivcounter import IvCounter, IvStoreDamaged

CHILD = """
import sys
from gridfree.protocols.ivcounter import IvCounter
c = IvCounter(sys.argv[1], block=int(sys.argv[2]))
while True:
    print(c.next(), flush=True)  # printed only once reserved on disk: what a frame would carry
"""


def test_ivs_count_up_and_a_clean_restart_goes_on_after_the_reserved_block(tmp_path):
    c = IvCounter(tmp_path / "sa9.iv", block=4)
    assert [c.next() for _ in range(6)] == [1, 2, 3, 4, 5, 6]
    again = IvCounter(tmp_path / "sa9.iv", block=4)
    assert again.next() == 9  # 7 and 8 were reserved: lost, never reused


@pytest.mark.parametrize("seed", range(3))
def test_sigkill_at_any_moment_never_reuses_an_iv(tmp_path, seed):
    path = tmp_path / "sa.iv"
    used: list[int] = []
    for run in range(4):
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), "7"], stdout=subprocess.PIPE, text=True)
        # Killed at a different place in its stream of IVs each time: within a block, at its edge.
        read = [proc.stdout.readline() for _ in range(1 + (seed * 7 + run * 3) % 11)]
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        ivs = [int(line) for line in ("".join(read) + out).split("\n")[:-1]]  # a cut last line is not trusted
        assert ivs == sorted(ivs)
        assert not set(ivs) & set(used), "an IV was handed out twice"
        used += ivs
    assert used and IvCounter(path).next() > max(used)


def test_a_damaged_store_is_refused_not_guessed(tmp_path):
    path = tmp_path / "sa.iv"
    IvCounter(path).next()
    raw = bytearray(path.read_bytes())
    raw[5] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(IvStoreDamaged, match="rekey"):
        IvCounter(path)
    path.write_bytes(b"short")
    with pytest.raises(IvStoreDamaged, match="octets"):
        IvCounter(path)
