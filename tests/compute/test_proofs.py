"""The proofs the ground checks a node's work with (protocols/proofs.py): Merkle trees as RFC 6962
defines them, Freivalds' check and its rounding bound, the sample size, the block answer's wire
format, and the job result's format versions."""
from __future__ import annotations

import hashlib
import io
import math
import struct
import zlib

import numpy as np
import pytest

from gridfree.ground.compute.verify import verify
from gridfree.protocols.compute import JobSpec, Kind, keep_tiles, pack_result, read_result, tiles, unpack_result
from gridfree.protocols.proofs import (BLOCK_OCTETS, FREIVALDS_K, BlockAnswer, BlockProof, block_error,
                                       blocks_per_chunk, freivalds_error, leaf_hash, merkle_paths, merkle_root,
                                       node_hash, product_leaves, root_from_path, sample, samples_needed)


def rfc6962_mth(entries: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, as written: split at the largest power of two below n."""
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1 << (len(entries) - 1).bit_length() - 1
    return hashlib.sha256(b"\x01" + rfc6962_mth(entries[:k]) + rfc6962_mth(entries[k:])).digest()


def test_merkle_root_is_rfc6962_tree_hash_for_every_size_and_paths_lead_to_it():
    entries = [bytes([i]) * (i % 5) for i in range(19)]
    # RFC 6962's one-leaf tree of the empty entry: SHA-256 of the single octet 0x00.
    assert merkle_root([leaf_hash(b"")]).hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    for n in range(1, len(entries) + 1):
        leaves = [leaf_hash(e) for e in entries[:n]]
        root = merkle_root(leaves)
        assert root == rfc6962_mth(entries[:n])
        for i, path in enumerate(merkle_paths(leaves, range(n))):
            assert root_from_path(leaves[i], i, n, path) == root
            assert len(path) <= math.ceil(math.log2(n)) if n > 1 else path == []


def test_a_path_proves_only_its_own_leaf_position_and_tree():
    leaves = [leaf_hash(bytes([i])) for i in range(11)]
    root, path = merkle_root(leaves), merkle_paths(leaves, [6])[0]
    assert root_from_path(leaves[6], 6, 11, path) == root
    assert root_from_path(leaves[5], 6, 11, path) != root  # another block
    assert root_from_path(leaves[6], 7, 11, path) != root  # another place
    assert root_from_path(leaves[6], 6, 11, path[:-1]) is None  # cut short
    assert root_from_path(leaves[6], 6, 11, path + [root]) is None  # padded
    assert root_from_path(leaves[6], 11, 11, path) is None  # past the end
    # Domain separation: the two halves of a node are no leaf's octets.
    assert leaf_hash(leaves[0] + leaves[1]) == hashlib.sha256(b"\x00" + leaves[0] + leaves[1]).digest()
    assert merkle_root(leaves[:2]) != leaf_hash(leaves[0] + leaves[1])
    assert merkle_root(leaves[:2]) == node_hash(leaves[0], leaves[1])


def test_sample_size_catches_a_node_skipping_five_percent_with_probability_one_minus_1e6():
    n = samples_needed(0.05)
    assert n == 270
    assert (1 - 0.05) ** n <= 1e-6 < (1 - 0.05) ** (n - 1)
    assert samples_needed(0.5) == 20  # 2^-20 < 1e-6 < 2^-19
    assert sample(7, 100, n).tolist() == list(range(100))  # fewer items than draws: every one
    drawn = sample(7, 10_000, n)
    assert len(set(drawn.tolist())) == n and drawn.max() < 10_000
    assert (sample(8, 10_000, n) != drawn).any() and (sample(7, 10_000, n) == drawn).all()
    with pytest.raises(ValueError):
        samples_needed(0.0)


def _operands(n: int, m: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, m), dtype=np.float32), rng.standard_normal((m, n), dtype=np.float32)


@pytest.mark.parametrize("n", [8, 64, 300])
def test_freivalds_never_accuses_an_honest_float32_product_whatever_order_it_sums_in(n):
    a, b = _operands(n, n, n)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    products = {"blas": a @ b, "float64 rounded": exact.astype(np.float32),
                "sequential": np.cumsum(a[:, :, None] * b[None, :, :], axis=1, dtype=np.float32)[:, -1, :]}
    for name, c in products.items():
        for seed in range(20):
            assert freivalds_error(a, b, c, seed) == "", (name, seed)
        assert block_error(a[3:5], b, c[3:5]) == "", name


def test_freivalds_catches_a_product_with_its_row_and_column_sums_right_but_not_the_product():
    a, b = _operands(128, 128, 1)
    rows, cols = a.astype(np.float64) @ b.sum(axis=1, dtype=np.float64), a.sum(axis=0, dtype=np.float64) @ b
    fake = (np.outer(rows, cols) / rows.sum()).astype(np.float32)  # O(n^2): every row and column sum right
    assert np.allclose(fake.sum(axis=1), rows, rtol=1e-4, atol=1e-2)
    assert all(freivalds_error(a, b, fake, seed) for seed in range(50))
    assert block_error(a[:4], b, fake[:4])


def test_freivalds_sees_one_element_off_by_twice_its_rows_rounding_bound():
    """The guarantee stated: an element off by more than 2 gamma_n(u32) (|A||B|e)_i passes at most
    2^-20 of the time; the bound is the worst case of float32 rounding, not its typical size."""
    n = 256
    a, b = _operands(n, n, 2)
    c = a @ b
    gamma = n * 2.0 ** -24 / (1 - n * 2.0 ** -24)
    bound = gamma * float(np.abs(a[17]).astype(np.float64) @ np.abs(b).sum(axis=1, dtype=np.float64))
    c[17, 42] += 2.05 * bound
    assert all(freivalds_error(a, b, c, seed).startswith("C r differs") for seed in range(30))
    assert "first at [17, 42]" in block_error(a, b, c)
    assert bound < 0.05 * np.abs(c).max()  # a few per cent of the largest element
    c[17, 42] = np.nan
    assert freivalds_error(a, b, c, 0) and block_error(a[17:18], b, c[17:18])


def test_freivalds_is_exact_on_integer_valued_products():
    rng = np.random.default_rng(3)
    a = rng.integers(-50, 50, (200, 200)).astype(np.float32)
    b = rng.integers(-50, 50, (200, 200)).astype(np.float32)
    c = a @ b
    assert freivalds_error(a, b, c, 0) == "" and block_error(a, b, c) == ""
    c[5, 6] += 1.0  # the smallest change an integer product can have
    caught = sum(bool(freivalds_error(a, b, c, seed)) for seed in range(40))
    assert caught >= 35  # each vector catches it with probability 1/2; 20 vectors miss with 2^-20
    assert block_error(a, b, c) and freivalds_error(a, b, c, 0, k=FREIVALDS_K)


def test_freivalds_names_a_product_of_the_wrong_shape_or_type():
    a, b = _operands(16, 16, 4)
    assert "shape" in freivalds_error(a, b, (a @ b)[:15], 0)
    assert freivalds_error(a, b, (a @ b).astype(np.complex64), 0) == "product of complex64, not float32"
    assert "shape" in block_error(a[:2], b, (a @ b)[:3])


def test_product_blocks_are_whole_rows_of_at_most_block_octets():
    for n in (8, 100, 256, 4096):
        c = np.zeros((n, n), dtype=np.float32) if n < 4096 else np.zeros((4, n), dtype=np.float32)
        rows = max(1, BLOCK_OCTETS // (4 * n))
        assert blocks_per_chunk(n) == -(-n // rows)
        if n < 4096:
            assert product_leaves(c).shape == (blocks_per_chunk(n), 32)


def _answer() -> BlockAnswer:
    return BlockAnswer(9, 1234, 3, 12, bytes(range(32)),
                       (BlockProof(2, b"\x01\x02\x03\x04" * 8, (b"a" * 32, b"b" * 32)), BlockProof(7, b"", ())))


def test_block_answer_round_trips_and_refuses_damage_and_lying_lengths():
    answer = _answer()
    data = answer.pack()
    assert BlockAnswer.unpack(data) == answer
    bad = bytearray(data)
    bad[60] ^= 1
    with pytest.raises(ValueError, match="CRC-32"):
        BlockAnswer.unpack(bytes(bad))
    # A block length that lies, with a CRC that matches: refused with its reason, nothing read past the end.
    body = bytearray(data[:-4])
    struct.pack_into(">I", body, 55 + 4, 0xFFFF_FFF0)
    with pytest.raises(ValueError, match="octets declared"):
        BlockAnswer.unpack(bytes(body) + struct.pack(">I", zlib.crc32(body)))
    body = bytearray(data[:-4]) + b"junk"
    with pytest.raises(ValueError, match="after its 2 blocks"):
        BlockAnswer.unpack(bytes(body) + struct.pack(">I", zlib.crc32(body)))
    with pytest.raises(ValueError, match="CRC-32"):
        BlockAnswer.unpack(b"GFPF")


TILES = JobSpec(5, 1, Kind.TILES, seed=3, size=0, batch=8, chunks=2)


def _tile_chunks(spec: JobSpec) -> list[dict[str, np.ndarray]]:
    return [{"kept": keep_tiles(tiles(spec, k), spec.threshold)} for k in range(spec.chunks)]


def test_results_of_format_2_carry_their_root_and_format_1_is_still_read():
    chunks = _tile_chunks(TILES)
    r = read_result(pack_result(TILES, chunks, b"\x07" * 32))
    assert (r.version, r.root, r.job_id, r.kind) == (2, b"\x07" * 32, 5, Kind.TILES)
    buf = io.BytesIO()  # a result as a version 1 node sends it: no version octet, no root
    np.savez(buf, **{f"{k}.{name}": v for k, c in enumerate(chunks) for name, v in c.items()})
    body = struct.pack(">4sIBI", b"GFRS", 5, int(Kind.TILES), 2) + buf.getvalue()
    old = body + struct.pack(">I", zlib.crc32(body))
    assert read_result(old).version == 1 and unpack_result(old)[0] == 5
    assert verify(TILES, old) == []  # tiles are checked by computing them again, whatever the format
    future = bytearray(pack_result(TILES, chunks))
    future[13] = 3
    future = bytes(future[:-4]) + struct.pack(">I", zlib.crc32(bytes(future[:-4])))
    with pytest.raises(ValueError, match="format version 3: versions 1 and 2 are read"):
        read_result(future)
    assert verify(TILES, future) == ["job result of format version 3: versions 1 and 2 are read"]


def test_a_format_1_matmul_result_is_refused_its_sums_prove_nothing():
    spec = JobSpec(6, 1, Kind.MATMUL, seed=1, size=16, batch=1, chunks=1)
    from gridfree.protocols.compute import matmul_inputs
    a, b = matmul_inputs(spec, 0)
    c = a @ b
    buf = io.BytesIO()
    np.savez(buf, **{"0.row_sums": c.sum(axis=1, dtype=np.float64), "0.col_sums": c.sum(axis=0, dtype=np.float64)})
    body = struct.pack(">4sIBI", b"GFRS", 6, int(Kind.MATMUL), 1) + buf.getvalue()
    problems = verify(spec, body + struct.pack(">I", zlib.crc32(body)))
    assert len(problems) == 1 and "result format 1 carries no proof" in problems[0]


def test_a_hostile_matmul_result_gets_one_line_per_problem_never_a_traceback():
    from gridfree.protocols.compute import matmul_inputs
    spec = JobSpec(7, 1, Kind.MATMUL, seed=2, size=16, batch=1, chunks=3)
    chunks = []
    for k in range(3):
        c = np.matmul(*matmul_inputs(spec, k))
        chunks.append({"row_sums": c.sum(axis=1, dtype=np.float64), "col_sums": c.sum(axis=0, dtype=np.float64),
                       "product": c})
    assert verify(spec, pack_result(spec, chunks)) == []
    del chunks[2]["product"]
    assert verify(spec, pack_result(spec, chunks)) == ["chunk 2: no product"]
    right = np.matmul(*matmul_inputs(spec, 2))
    chunks[2]["product"] = chunks[1]["product"]  # another chunk's product under this chunk's sums
    assert verify(spec, pack_result(spec, chunks), seed=4) == \
        ["chunk 2: C r differs from A (B r) beyond rounding for 20 of 20 random vectors (first at row 0)"]
    chunks[2]["row_sums"], chunks[2]["col_sums"] = chunks[1]["row_sums"], chunks[1]["col_sums"]
    assert verify(spec, pack_result(spec, chunks), seed=4)[0].startswith("chunk 2: row/column sums disagree")
    chunks[2] = {"row_sums": right.sum(axis=1, dtype=np.float64), "col_sums": right.sum(axis=0, dtype=np.float64),
                 "product": right}
    assert verify(spec, pack_result(spec, [{k: v for k, v in c.items() if k != "product"} for c in chunks])) == \
        ["neither the products nor a commitment to them came down"]
    body = pack_result(spec, chunks)[:60]  # the .npz cut short, under a CRC that matches
    assert verify(spec, body + struct.pack(">I", zlib.crc32(body)))[0].startswith("job result 7: outputs unreadable")
    leaves = [bytes(h) for c in chunks for h in product_leaves(c["product"])]
    assert verify(spec, pack_result(spec, chunks, merkle_root(leaves))) == []
    assert verify(spec, pack_result(spec, chunks, b"\x01" * 32)) == \
        ["the commitment root is not that of the products that came down"]
