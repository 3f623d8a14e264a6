"""Every acknowledged entry survives an appender killed at any moment, and the chain resumes.

Each trial kills the appender with SIGKILL at a random moment after its first acknowledgement;
in half of the trials a partial record is then left at the end, as a power cut mid-write would
leave it. The next trial's appender reopens the same file, so each one also exercises recovery:
it must truncate the torn tail and continue the chain where the last acknowledged entry left it.
"""
from __future__ import annotations

import random
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gridfree.flight.compute.ledger import TokenLedger
from gridfree.protocols import ledger as L
from gridfree.protocols.ledger.verify import ProblemKind, verify
from gridfree.protocols.tariff import tokens_for
from tests.tokens import kill_appender as K

CHILD = Path(__file__).with_name("kill_appender.py")
FILES, TRIALS_PER_FILE = 3, 12  # 36 kills


def kill_at_random(path: Path, rng: random.Random) -> int:
    """Run an appender and SIGKILL it once it has acknowledged 1-12 entries (it goes on appending
    while the kill is on its way, so the kill lands anywhere in an append); the last seq it
    acknowledged."""
    child = subprocess.Popen([sys.executable, str(CHILD), str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = b""
    try:
        for _ in range(rng.randint(1, 12)):
            line = child.stdout.readline()
            assert line.endswith(b"\n"), child.stderr.read().decode()
            first += line
    finally:
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, err.decode()
    lines = (first + out).split(b"\n")[:-1]  # a seq cut off mid-line by the kill was not acknowledged
    return int(lines[-1])


def check_ledger(path: Path, at_least: int) -> int:
    """The file verifies (a torn tail aside) and holds entries 0..n-1 as `expected` says; n >= at_least."""
    ledger_id, records = L.parse_file(path.read_bytes())
    report = verify(records, K.KEY.public_key(), ledger_id=ledger_id)
    assert set(report.problems) <= {ProblemKind.TORN_TAIL}, report.first_problems()
    n = report.entries_ok
    assert n >= at_least, f"acknowledged seq {at_least - 1} lost: only {n} entries on disk"
    for record in L.split_records(path.read_bytes()[L.HEADER_OCTETS:L.HEADER_OCTETS + n * L.RECORD_OCTETS]):
        e = L.decode_entry(L.decode_record(record), L.key_ring(K.KEY.public_key()))
        kind, tenant, job, energy_Wh, units, t = K.expected(e.seq)
        assert (e.kind.name, e.tenant, e.job, e.energy_Wh, e.work_units, e.t_s) == (kind, tenant, job, energy_Wh,
                                                                                      units, t)
        if e.kind is L.Kind.CHARGE:
            assert e.tokens == tokens_for(energy_Wh, units, K.TARIFF)
    return n


@pytest.mark.slow
def test_acknowledged_entries_survive_sigkill_and_the_chain_resumes(tmp_path):
    def trials(index: int) -> list[int]:
        rng = random.Random(index)
        path = tmp_path / f"ledger{index}.gftl"
        acked_per_trial, acknowledged = [], -1
        for _ in range(TRIALS_PER_FILE):
            acked = kill_at_random(path, rng)
            assert acked > acknowledged  # the new appender resumed after every earlier entry
            acknowledged = acked
            check_ledger(path, acknowledged + 1)
            if rng.random() < 0.5:  # power cut mid-write: part of one more record reached the disk
                with open(path, "ab") as f:
                    f.write(rng.randbytes(rng.randrange(1, L.RECORD_OCTETS)))
            acked_per_trial.append(acked)
        return acked_per_trial

    with ThreadPoolExecutor(max_workers=FILES) as pool:
        results = list(pool.map(trials, range(FILES)))
    # The trials were not trivial: appenders were killed after appending many entries each.
    assert sum(r[-1] for r in results) > FILES * TRIALS_PER_FILE * 5
    for index in range(FILES):  # finally, the last torn tail is cut and every entry proven
        path = tmp_path / f"ledger{index}.gftl"
        with TokenLedger(path, K.KEY, K.LEDGER_ID, tariff=K.TARIFF, head_every=K.HEAD_EVERY) as ledger:
            assert ledger.next_seq == check_ledger(path, results[index][-1] + 1)
            ledger.charge(0, 0, 1.0, 1, 2e9)
        report = verify(L.parse_file(path.read_bytes())[1], K.KEY.public_key(), ledger_id=K.LEDGER_ID)
        assert report.ok and report.head_seq == ledger.next_seq - 1
