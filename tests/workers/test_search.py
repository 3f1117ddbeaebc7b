import numpy as np
import pytest

from workers import search


def brute_force(library, queries, k):
    d = np.linalg.norm(queries[:, None, :] - library[None, :, :], axis=2)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(d, idx, axis=1)


@pytest.mark.parametrize(("n", "k", "chunk"), [(500, 1, 65_536), (500, 5, 64), (37, 3, 10), (3, 5, 2)])
def test_it_matches_brute_force_across_chunks(monkeypatch, n, k, chunk):
    # Small blocks exercise the merge across blocks.
    monkeypatch.setattr(search, "CHUNK", chunk)
    monkeypatch.setattr(search, "BLOCK_ELEMENTS", 1)
    rng = np.random.default_rng(n + k)
    library = rng.standard_normal((n, 8)).astype(np.float32)
    queries = rng.standard_normal((20, 8)).astype(np.float32)
    idx, dist = search.top_k(library, queries, k)
    ref_idx, ref_dist = brute_force(library, queries, min(k, n))
    assert idx.shape == (20, min(k, n))
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-4, atol=1e-4)


def test_it_finds_an_exact_copy_at_distance_zero():
    library = np.eye(4, dtype=np.float32) * 3
    idx, dist = search.top_k(library, library[[2]], 1)
    assert idx[0, 0] == 2 and dist[0, 0] == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize(
    ("library", "queries", "message"),
    [
        (np.zeros((0, 4)), np.zeros((1, 4)), "library must be a non-empty"),
        (np.zeros((3, 4)), np.zeros((1, 5)), "dimension mismatch"),
        (np.zeros(4), np.zeros((1, 4)), "library must be a non-empty"),
    ],
)
def test_it_refuses_bad_shapes(library, queries, message):
    with pytest.raises(ValueError, match=message):
        search.top_k(library, queries)
