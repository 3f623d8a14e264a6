"""Radiation on the compute payload (issue 9): an upset campaign flips bits in chunk inputs, products
and activations, resident model weights and checkpoint files at high rates, and the node's checks
must account for every one of them. The judge of the results is the ground's own verification
(ground/compute/verify.py), which recomputes every job from its seed: not one result it refuses may
have been sent."""
from collections import Counter

import numpy as np
import pytest

from gridfree.flight.compute.abft import abft_matmul
from gridfree.flight.compute.faults import (Basis, ChunkUpsets, Exposure, Target, UpsetInjector, UpsetRates,
                                            flip_bits, flip_codeword_bits, flip_file_bits)
from gridfree.flight.compute import jobs
from gridfree.flight.compute.jobs import SITES, ChunkUpset, run_chunk
from gridfree.native.edac import EdacBuffer
from gridfree.ground.compute.verify import verify
from gridfree.protocols.compute import JobSpec, Kind, mlp_weights, pack_result
from tests.compute.alone import manager, results, run_until_idle, submit

DMR_SITES = {site for sites in SITES.values() for site in sites if not site.startswith("product")}


def bits_changed(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.unpackbits(a.reshape(-1).view(np.uint8) ^ b.reshape(-1).view(np.uint8)).sum())


# ---- the injector ------------------------------------------------------------------------------

def test_upsets_flip_exactly_the_bits_drawn_and_replay_from_their_seed(tmp_path):
    clean = [np.random.default_rng(1).standard_normal((40, 30)).astype(np.float32), np.arange(100, dtype=np.uint8)]
    hit = [x.copy() for x in clean]
    landed = flip_bits(np.random.default_rng(9), hit, 25)
    assert sum(landed) == 25 and sum(bits_changed(h, c) for h, c in zip(hit, clean)) == 25
    again = [x.copy() for x in clean]
    flip_bits(np.random.default_rng(9), again, 25)
    assert all(np.array_equal(h.view(np.uint8), a.view(np.uint8)) for h, a in zip(hit, again))

    # A view (a product in a padded buffer): flips land in its elements, never in the padding.
    whole = np.zeros((20, 16), np.float64)
    view = whole[:, :13]
    assert flip_bits(np.random.default_rng(5), [view], 60) == [60]
    assert bits_changed(whole, np.zeros_like(whole)) == 60 and not whole[:, 13:].any()

    # Codewords: data words and check bytes alike, each flip a bit of the stored word.
    buffers = [EdacBuffer.protect(w) for w in mlp_weights(0)]
    before = [(b.words.copy(), b.check.copy()) for b in buffers]
    assert flip_codeword_bits(np.random.default_rng(3), buffers, 40) == 40
    assert sum(bits_changed(b.words, w) + bits_changed(b.check, c) for b, (w, c) in zip(buffers, before)) == 40

    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 4)
    assert flip_file_bits(np.random.default_rng(4), path, 7) == 7
    assert bits_changed(np.frombuffer(path.read_bytes(), np.uint8), np.frombuffer(bytes(range(256)) * 4, np.uint8)) == 7
    assert flip_file_bits(np.random.default_rng(4), tmp_path / "gone", 3) == 0


def test_rates_are_checked_and_off_by_default():
    assert UpsetInjector().rates.off and UpsetInjector().chunk(1, 0, 1.0, SITES[Kind.MLP]) is None
    for bad in (-1.0, float("nan"), float("inf"), 1e6):
        with pytest.raises(ValueError, match="inputs"):
            UpsetRates(inputs=bad)
    assert UpsetRates(weights=2, basis=1).basis is Basis.SECOND


# ---- a chunk's own checks ------------------------------------------------------------------------

SMALL = {Kind.MATMUL: JobSpec(1, 1, Kind.MATMUL, seed=3, size=24, batch=1, chunks=1),
         Kind.MLP: JobSpec(2, 1, Kind.MLP, seed=4, size=0, batch=12, chunks=1),
         Kind.TILES: JobSpec(3, 1, Kind.TILES, seed=5, size=0, batch=6, chunks=1, threshold=0.5)}


def abft(a, b, inject=None):
    return abft_matmul(a, b, inject=inject).c


def upsets(seed, inputs=0, intermediates=0, sites=("product",)):
    return ChunkUpsets(UpsetInjector(), np.random.default_rng(seed), inputs, intermediates, sites, Exposure(1, 0, 1))


@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.name)
def test_a_changed_input_makes_the_chunk_run_again(kind):
    for seed in range(20):  # any bit: a sign, an exponent that makes inf, a mantissa bit
        u = upsets(seed, inputs=1)
        with pytest.raises(ChunkUpset) as caught:
            run_chunk(SMALL[kind], 0, abft, upsets=u)
        assert caught.value.what == "inputs" and u.exposure.hit(Target.INPUTS)


@pytest.mark.parametrize("site", sorted(DMR_SITES))
def test_an_upset_in_an_elementwise_step_is_caught_by_computing_it_twice(site):
    spec = SMALL[Kind.TILES if site == "cloud fractions" else Kind.MLP]
    for seed in range(20):
        u = upsets(seed, intermediates=1, sites=(site,))
        with pytest.raises(ChunkUpset) as caught:
            run_chunk(spec, 0, abft, upsets=u)
        assert caught.value.what == site and u.exposure.hits == [(Target.INTERMEDIATES, site)]


@pytest.mark.parametrize("kind", [Kind.MATMUL, Kind.MLP], ids=lambda k: k.name)
def test_an_upset_in_a_product_never_reaches_the_result(kind):
    """ABFT corrects it; an upset smaller than ABFT's tolerance that the MATMUL contract would
    still refuse is caught by the chunk's own check of its sums. Either way the ground agrees."""
    spec, sent, caught = SMALL[kind], 0, Counter()
    products = [site for site in SITES[kind] if site.startswith("product")]
    for seed in range(150):
        site = products[seed % len(products)]
        try:
            out = run_chunk(spec, 0, abft, upsets=upsets(seed, intermediates=1, sites=(site,)))
        except ChunkUpset as exc:
            caught[exc.what] += 1
            continue
        assert verify(spec, pack_result(spec, [out])) == [], seed
        sent += 1
    assert sent > 100 and set(caught) <= {"result"}


# ---- campaigns on the node -----------------------------------------------------------------------

def fly(tmp_path, specs, rates: UpsetRates, seed=3, matmul=None, limit_s=400):
    """The compute manager with an upset campaign on (the hazardous command's ARM is the
    dispatcher's business, not the manager's): jobs submitted, the rates commanded, run until every
    job is done or dropped."""
    t = manager(tmp_path, quotas={s.tenant for s in specs}, **({"matmul": matmul} if matmul else {}))
    assert t.command("SetUpsetRates", inputs=rates.inputs, intermediates=rates.intermediates, weights=rates.weights,
                     checkpoints=rates.checkpoints, basis=rates.basis.name, seed=seed).ok
    for spec in specs:
        assert submit(t, spec).ok
    got = t.component.upsets.rates  # as the f32 arguments carried them
    assert got.basis is rates.basis and [got.of(x) for x in Target] == pytest.approx([rates.of(x) for x in Target],
                                                                                      rel=1e-7)
    assert t.events("UpsetRatesSet")[0]["seed"] == seed
    run_until_idle(t, limit_s)
    return t


def mix(count, chunks=3):
    out = []
    for i in range(count):
        j = 100 + 3 * i
        out += [JobSpec(j, 1, Kind.MATMUL, seed=i, size=32, batch=1, chunks=chunks),
                JobSpec(j + 1, 2, Kind.MLP, seed=i, size=i % 2, batch=16, chunks=chunks),
                JobSpec(j + 2, 3, Kind.TILES, seed=i, size=0, batch=8, chunks=chunks, threshold=0.5)]
    return out


def judged_by_the_ground(specs, t):
    """The ground's verdict on every result the manager sent down, by job id."""
    by_id = {s.job_id: s for s in specs}
    return {job: verify(by_id[job], r) for job, r in results(t).items()}


def test_every_upset_is_caught_and_no_wrong_result_goes_down(tmp_path):
    specs = mix(5)
    rates = UpsetRates(inputs=0.2, intermediates=0.5, weights=2.0, checkpoints=0.3)
    t = fly(tmp_path, specs, rates)
    c, tlm, stats = t.component, t.tlm, t.component.radiation

    # The ground's verdict: whatever came down is right, and every job either came down or was
    # dropped with an event (never sent doubted).
    verdicts = judged_by_the_ground(specs, t)
    assert len(verdicts) == len(t.sent("downlinkOut")) and all(v == [] for v in verdicts.values()), verdicts
    dropped = [e["job"] for e in t.events("JobFailed")]
    assert sorted([*verdicts, *dropped]) == sorted(s.job_id for s in specs) and stats.jobs_failed == len(dropped)
    assert len(verdicts) >= len(specs) - 4  # the campaign is harsh, not hopeless

    # Every attempt at a chunk is accounted for: kept only without an upset its checks would see,
    # thrown away only for one the injector put there.
    attempts = list(c.upsets.exposures)
    outcomes = Counter(e.outcome for e in attempts)
    for e in attempts:
        if e.outcome == "committed":
            assert not e.hit(Target.INPUTS) and not any(e.hit(Target.INTERMEDIATES, s) for s in DMR_SITES), e
        elif e.outcome == "inputs":
            assert e.hit(Target.INPUTS), e
        elif e.outcome in DMR_SITES:
            assert e.hit(Target.INTERMEDIATES, e.outcome), e
        elif e.outcome == "result":  # a product upset below ABFT's tolerance, above the contract's
            assert e.hit(Target.INTERMEDIATES, "product"), e
        else:
            assert e.outcome == "checkpoint damaged", e
    assert stats.input_mismatches == outcomes["inputs"] > 0
    assert stats.dmr_mismatches == sum(outcomes[s] for s in DMR_SITES) > 0
    assert stats.result_mismatches == outcomes["result"]
    assert stats.checkpoints_damaged == outcomes["checkpoint damaged"] > 0
    thrown = stats.input_mismatches + stats.dmr_mismatches + stats.result_mismatches
    assert stats.chunks_recomputed == thrown - sum("failed 4 times" in e["reason"] for e in t.events("JobFailed"))
    assert tlm("AbftCorrected") + tlm("AbftRecomputed") > 0  # products were hit, and put right in place

    # Weights: every upset corrected by EDAC, or in a model that was reloaded; the resident
    # models end exactly as uplinked.
    hits = c.upsets.injected[Target.WEIGHTS]
    assert 0 < c.models.corrected <= hits
    assert c.models.corrected == hits or c.models.uncorrectable + c.models.crc_mismatches > 0
    t.run("background", t.clock.now() + 1.0)
    assert c.models.buffers and all(np.array_equal(b.array, w) for size, bufs in c.models.buffers.items()
                             for b, w in zip(bufs, mlp_weights(size)))

    # What the campaign did and what the checks made of it, as the ground sees it.
    for target, channel in zip(Target, ("UpsetsInputs", "UpsetsIntermediates", "UpsetsWeights", "UpsetsCheckpoints")):
        assert tlm(channel) == c.upsets.injected[target] > 0
    assert (tlm("InputMismatches"), tlm("DmrMismatches"), tlm("CheckpointsDamaged"), tlm("JobsFailed")) == (
        stats.input_mismatches, stats.dmr_mismatches, stats.checkpoints_damaged, stats.jobs_failed)
    assert tlm("EnergyLostWh") == pytest.approx(stats.energy_lost_Wh, rel=1e-6) and stats.energy_lost_Wh > 0


def test_a_product_kept_on_board_under_upsets_is_proven_as_committed(tmp_path):
    """Products hit in every chunk, ABFT putting right what it sees and letting through what is
    below its tolerance, still prove: the challenged blocks are read back as kept, never made
    again, and the ground holds them to A B as any."""
    big = JobSpec(40, 1, Kind.MATMUL, seed=4, size=256, batch=1, chunks=20)  # 5 MiB of products: kept
    t = fly(tmp_path, [big], UpsetRates(intermediates=3.0))
    assert t.component.upsets.injected[Target.INTERMEDIATES] >= big.chunks
    assert t.tlm("AbftCorrected") + t.tlm("AbftRecomputed") > 0
    assert t.command("ProveBlocks", job_id=big.job_id, seed=5).ok
    answer = t.sent("downlinkOut")[-1].data
    assert verify(big, results(t)[big.job_id], seed=5, blocks=answer) == []
    assert t.events("BlocksProven")[-1]["recomputed"] == 0
    for kept in (tmp_path / "state" / "compute" / "proofs").glob("product-*.f32"):
        kept.unlink()  # made again instead, the upset octets cannot be: the node refuses
    reply = t.command("ProveBlocks", job_id=big.job_id, seed=5)
    assert not reply.ok and "does not come out as committed" in reply.reason


def test_a_campaign_replays_from_its_seed(tmp_path):
    specs = mix(2, chunks=2)
    rates = UpsetRates(inputs=0.3, intermediates=0.5, weights=1.0, checkpoints=0.3)
    runs = []
    for k in range(2):
        t = fly(tmp_path / str(k), specs, rates, seed=11)
        runs.append(([(e.job, e.chunk, e.hits, e.outcome) for e in t.component.upsets.exposures],
                     dict(t.component.upsets.injected), sorted(results(t).values())))
    assert runs[0] == runs[1] and runs[0][0]


def test_an_upset_in_the_model_while_a_chunk_reads_it_makes_the_chunk_run_again(tmp_path):
    """Per second of node time, hits land whenever the tick runs, so also while a chunk is reading
    the model: its check after the chunk finds them, and the chunk does not count."""
    specs = [JobSpec(200 + i, 2, Kind.MLP, seed=i, size=1, batch=16, chunks=3) for i in range(4)]
    rates = UpsetRates(weights=0.6, checkpoints=0.1, basis=Basis.SECOND)
    t = fly(tmp_path, specs, rates)
    c = t.component
    assert all(v == [] for v in judged_by_the_ground(specs, t).values())
    assert len(results(t)) + c.radiation.jobs_failed == len(specs)
    assert c.radiation.weights_hit_in_use > 0 and c.models.corrected > 0 and c.upsets.injected[Target.CHECKPOINTS] > 0
    assert t.tlm("WeightsHitInUse") == c.radiation.weights_hit_in_use


def test_without_the_checks_the_ground_catches_wrong_results(tmp_path, monkeypatch):
    """The same kind of campaign with the product checks off (a plain matmul, which the upsets hit
    as they hit ABFT's, and no check of a MATMUL chunk's sums on board): wrong results come down,
    and the ground's verification refuses them. The test above can fail."""
    def unchecked(a, b, inject=None):
        c = np.matmul(a, b)
        if inject:
            inject("product", c, 0)
        return c

    monkeypatch.setattr(jobs, "matmul_sums_error", lambda *args: "")
    specs = [JobSpec(300 + i, 2, Kind.MATMUL, seed=i, size=32, batch=1, chunks=2) for i in range(4)]
    specs += [JobSpec(310 + i, 2, Kind.MLP, seed=i, size=0, batch=64, chunks=2) for i in range(4)]
    t = fly(tmp_path, specs, UpsetRates(intermediates=1.5), matmul=unchecked)
    wrong = [job for job, problems in judged_by_the_ground(specs, t).items() if problems]
    assert len(wrong) >= 2 and t.tlm("AbftCorrected") == t.tlm("ResultMismatches") == 0
