"""The host's RAPL energy counters, read from a powercap tree built the way Linux lays it out:
packages summed and their subzones not, wraparound undone per package, garbage counted and
never summed, a host that hides its counters treated as one without them; and the compute
manager, given RAPL as its energy meter, publishing what its chunks really cost the host."""
import math
import os

import numpy as np
import pytest

from gridfree.flight.hardware import rapl as rapl_module
from gridfree.flight.hardware.energy import EnergyMeter, discover_energy_meter
from gridfree.flight.hardware.rapl import Rapl
from gridfree.ground.compute.verify import verify
from gridfree.protocols.compute import JobSpec, Kind
from tests.compute.alone import manager, results, run_until_idle, submit, tick

RANGE_UJ = 262_143_328_850  # max_energy_range_uj of an Intel package with 61 µJ units (2^32 counts)


def zone(root, name, kind, energy_uJ, range_uJ=RANGE_UJ):
    z = root / name
    z.mkdir(parents=True)
    (z / "name").write_text(kind + "\n")
    (z / "energy_uj").write_text(f"{energy_uJ}\n")
    (z / "max_energy_range_uj").write_text(f"{range_uJ}\n")
    return z


def powercap(tmp_path, package0_uJ=5_000_000, package1_uJ=None):
    """A two-socket host as the kernel shows it: packages, their core and dram subzones, psys, and
    package 0 again through the MMIO interface."""
    root = tmp_path / "powercap"
    p0 = zone(root, "intel-rapl:0", "package-0", package0_uJ)
    zone(root, "intel-rapl:0:0", "core", 3_000_000)
    zone(root, "intel-rapl:0:1", "dram", 1_000_000)
    zone(root, "intel-rapl:2", "psys", 90_000_000)  # the whole platform: includes the packages
    zone(root, "intel-rapl-mmio:0", "package-0", 5_000_000)  # the same package through MMIO (Tiger Lake on)
    (root / "intel-rapl").mkdir()  # the control type, not a zone
    if package1_uJ is not None:
        zone(root, "intel-rapl:1", "package-1", package1_uJ)
    return root, p0


def set_counter(zone_dir, text):
    (zone_dir / "energy_uj").write_text(text)


def test_packages_are_summed_once_and_their_subzones_and_psys_are_not(tmp_path):
    root, _ = powercap(tmp_path, package0_uJ=5_000_000, package1_uJ=7_250_000)
    r = Rapl.discover(root)
    assert [p.name for p in r.packages] == ["package-0", "package-1"]
    assert r.read_J().J == pytest.approx(12.25)
    assert r.bad_reads == 0


def test_a_counter_that_wrapped_is_unwrapped_on_its_own_packages_range(tmp_path):
    root, p0 = powercap(tmp_path, package0_uJ=RANGE_UJ - 150, package1_uJ=1_000_000)
    r = Rapl.discover(root)
    before = r.read_J()
    set_counter(p0, "1700")  # package 0 went past its range: 150 µJ to the top, 1700 after it
    set_counter(root / "intel-rapl:1", "3500000")  # package 1 did not wrap: 2.5 J
    after = r.read_J()
    assert after.J < before.J  # the raw sum went down; the energy did not
    assert r.delta_J(before, after) == pytest.approx(2.5 + 1850e-6, abs=1e-9)
    assert r.delta_J(before, before) == 0.0


@pytest.mark.parametrize("garbage", ["", "abc\n", "-5\n", "1e6\n", "+5\n", "12 34\n", "0x10\n", "\u0663\n",
                                     f"{RANGE_UJ + 1}\n", "9" * 200])
def test_garbage_in_a_counter_is_counted_and_never_summed(tmp_path, garbage):
    root, p0 = powercap(tmp_path, package1_uJ=2_000_000)
    r = Rapl.discover(root)
    good = r.read_J()
    set_counter(p0, garbage)
    assert r.read_J() is None and r.bad_reads == 1
    set_counter(p0, "6000000\n")  # the next good reading is whole again
    assert r.delta_J(good, r.read_J()) == pytest.approx(1.0) and r.bad_reads == 1


def test_a_host_without_readable_package_counters_has_no_rapl(tmp_path):
    assert Rapl.discover(tmp_path / "absent") is None  # no /sys/class/powercap (this machine, containers)
    root = tmp_path / "psys-only"
    zone(root, "intel-rapl:0", "psys", 1)
    assert Rapl.discover(root) is None
    for name, text in (("max_energy_range_uj", "0\n"), ("max_energy_range_uj", "lots\n"), ("energy_uj", "-1\n")):
        root, p0 = powercap(tmp_path / name / text.strip())
        (p0 / name).write_text(text)
        assert Rapl.discover(root) is None


def test_counters_only_root_may_read_mean_no_rapl_without_an_error(tmp_path, monkeypatch):
    root, p0 = powercap(tmp_path)
    if os.geteuid() == 0:  # root reads through mode 000: deny it as the kernel denies everyone else
        def denied(path, *args, **kwargs):
            if str(path).endswith("energy_uj") and "max_" not in str(path):
                raise PermissionError(13, "Permission denied", str(path))
            return open(path, *args, **kwargs)
        monkeypatch.setattr(rapl_module, "open", denied, raising=False)
    else:
        (p0 / "energy_uj").chmod(0o000)  # what kernels since CVE-2020-8694 do for non-root
    assert Rapl.discover(root) is None


def test_discovery_finds_no_meter_on_a_host_without_counters_and_rapl_is_an_energy_meter(tmp_path):
    assert issubclass(Rapl, EnergyMeter)
    meter = discover_energy_meter()  # this host: a meter only if it has package counters we may read
    assert meter is None or (isinstance(meter, Rapl) and meter.read_J() is not None)


def test_the_compute_manager_publishes_the_host_energy_its_chunks_took(tmp_path):
    t = manager(tmp_path / "without", energy_meter=Rapl.discover(tmp_path / "no-powercap"))
    tick(t)
    assert math.isnan(t.tlm("HostEnergyJ"))  # no meter: no number made up

    root, p0 = powercap(tmp_path, package0_uJ=RANGE_UJ - 3_000_000)  # wraps during the job
    products = []

    def metered(a, b, **kw):  # the host burns 2 J per product, while the chunk computes
        products.append(1)
        counter = int((p0 / "energy_uj").read_text())
        set_counter(p0, f"{(counter + 2_000_000) % RANGE_UJ}\n")
        return np.matmul(a, b)

    meter = Rapl.discover(root)
    t = manager(tmp_path / "with", quotas=(3,), matmul=metered, energy_meter=meter)
    job = JobSpec(31, 3, Kind.MATMUL, seed=7, size=64, batch=1, chunks=3)
    submit(t, job)
    run_until_idle(t)
    assert verify(job, results(t)[job.job_id]) == []
    assert len(products) >= job.chunks and int((p0 / "energy_uj").read_text()) < RANGE_UJ - 3_000_000  # wrapped
    assert t.tlm("HostEnergyJ") == pytest.approx(2.0 * len(products), rel=1e-6)

    def idle_host():  # the host burns 500 J a second with no chunk computing: not the chunks' energy
        set_counter(p0, f"{(int((p0 / 'energy_uj').read_text()) + 500_000_000) % RANGE_UJ}\n")

    tick(t, 3, each=idle_host)
    assert t.tlm("HostEnergyJ") == pytest.approx(2.0 * len(products), rel=1e-6)
    assert meter.bad_reads == 0
