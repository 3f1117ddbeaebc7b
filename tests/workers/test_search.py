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


def clustered(n, seed, dim=16):
    """Embedding-like rows: 50 classes on an 8-d subspace, plus a little noise."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((50, 8)) * 3
    basis = np.random.default_rng(98).standard_normal((8, dim)) / np.sqrt(8)
    z = centres[rng.integers(0, 50, n)] + rng.standard_normal((n, 8))
    return (z @ basis + 0.1 * rng.standard_normal((n, dim))).astype(np.float32)


def test_the_hnsw_index_finds_the_exact_neighbours_of_clustered_embeddings():
    library, queries = clustered(5000, 0), clustered(200, 1)
    exact_idx, exact_dist = search.top_k(library, queries, 10)
    index = search.ApproximateIndex.build(library)
    idx, dist = index.search(queries, 10)
    assert idx.shape == dist.shape == (200, 10)
    assert np.mean(idx[:, 0] == exact_idx[:, 0]) >= 0.99
    # top-10 candidates (for re-ranking): closest first, with the true L2 distances of those rows
    assert np.all(np.diff(dist, axis=1) >= 0)
    true = np.linalg.norm(library[idx] - queries[:, None, :], axis=2)
    np.testing.assert_allclose(dist, true, rtol=1e-3, atol=1e-3)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, exact_idx, strict=True)]) >= 0.95
    with pytest.raises(ValueError, match="dimension mismatch: library 16, queries 3"):
        index.search(np.zeros((1, 3)))


def test_the_index_is_exact_below_the_threshold_and_approximate_from_it():
    library = clustered(300, 2)
    assert isinstance(search.build_index(library, 301), search.ExactIndex)
    assert isinstance(search.build_index(library, 300), search.ApproximateIndex)
    assert isinstance(search.build_index(library, 0), search.ExactIndex)  # 0: never approximate


def test_the_hnsw_graph_is_built_once_and_kept_beside_the_embeddings(tmp_path):
    library = clustered(2000, 3)
    embeddings_file = tmp_path / "model-library.npz"
    first = search.cached_index(library, embeddings_file, 1000)
    path = search.index_path(embeddings_file)
    assert path.is_file() and path.name == "model-library.none.hnsw32.faiss"
    mtime = path.stat().st_mtime_ns
    again = search.cached_index(library, embeddings_file, 1000)
    assert path.stat().st_mtime_ns == mtime and again is not first
    queries = clustered(50, 4)
    np.testing.assert_array_equal(again.search(queries, 3)[0], first.search(queries, 3)[0])
    # A graph that does not match its embeddings (other row count) is rebuilt, not used.
    bigger = np.concatenate([library, clustered(10, 5)])
    assert len(search.cached_index(bigger, embeddings_file, 1000)) == 2010
    assert len(search.ApproximateIndex.load(path)) == 2010
    assert not list(tmp_path.glob(".tmp-*"))
    # Another transformation of the library (a hubness option) has a graph of its own.
    centred = search.cached_index(library - library.mean(0), embeddings_file, 1000, variant="centre")
    assert search.index_path(embeddings_file, "centre").is_file() and len(centred) == 2000


def test_ef_search_is_the_candidates_kept_per_query_and_the_graph_file_serves_any_value(tmp_path):
    library, queries = clustered(4000, 6, dim=32), clustered(300, 7, dim=32)
    truth = search.ExactIndex(library).search(queries, 10)[0]
    embeddings_file = tmp_path / "model-library.npz"
    narrow = search.cached_index(library, embeddings_file, 1000, ef_search=1)
    wide = search.cached_index(library, embeddings_file, 1000, ef_search=256)  # read from the file
    assert (narrow.ef_search, wide.ef_search) == (1, 256)
    assert search.ApproximateIndex.load(search.index_path(embeddings_file)).ef_search == 128  # the default

    def recall(index):
        return np.mean(index.search(queries, 1)[0][:, 0] == truth[:, 0])

    assert recall(wide) >= 0.99 > recall(narrow)
    # k above efSearch still gives k rows (faiss needs at least k candidates), and efSearch stays
    idx, _ = narrow.search(queries, 10)
    assert idx.shape == (300, 10) and (idx >= 0).all()
    assert recall(narrow) < 0.99 and narrow.ef_search == 1
    with pytest.raises(ValueError, match="efSearch must be at least 1"):
        search.ApproximateIndex.build(library[:10], ef_search=-1)


def test_study_options_on_the_hand_worked_hub():
    # tests/retrieval/test_hubness.py: a hub at 0, entries at -5 and 5, videos at -2, -1, 1, 2
    queries = np.array([[-2.0], [-1.0], [1.0], [2.0]], np.float32)
    library = np.array([[0.0], [-5.0], [5.0]], np.float32)
    idx, dist = search.study_top1("csls", queries, library, None, 0)
    assert idx.tolist() == [1, 0, 0, 2] and dist.tolist() == pytest.approx([3, 1, 1, 3])
    idx, _ = search.study_top1("assign", queries, library, None, 0)
    assert idx.tolist() == [1, 0, 0, 2]
    # a study of 10 videos, 4 of them left to retrieve, the hub holding 4 already: capacity
    # ceil(10 / 3) = 4 (3 sounds serve 10 videos), so no video may take the hub; -5 and 5 split them
    idx, _ = search.study_top1("assign", queries, library, None, 0, study_size=10, taken=np.array([4, 0, 0]))
    assert idx.tolist() == [1, 1, 2, 2]
    with pytest.raises(ValueError, match="library option"):
        search.study_top1("centre", queries, library, None, 0)


@pytest.mark.parametrize("approximate_from", [0, 100])
@pytest.mark.parametrize("option", ["csls", "assign"])
def test_study_options_agree_with_the_full_cost_matrix(option, approximate_from):
    from retrieval.hubness import option_costs

    library, queries = clustered(400, 2), clustered(60, 3) + 1.5  # off-centre queries: hubs
    idx, dist = search.study_top1(option, queries, library, None, approximate_from)
    reference = np.argmin(option_costs(queries, library, option), axis=1)
    assert (idx == reference).mean() >= (1.0 if approximate_from == 0 else 0.95)
    np.testing.assert_allclose(dist, np.linalg.norm(queries - library[idx], axis=1), rtol=1e-5)
