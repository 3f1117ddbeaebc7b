"""Hubness measures and the centred-library option, on embeddings with a known structure."""

import numpy as np
import pytest
from scipy import stats

from retrieval.hubness import apply_option, centre_library, hub_share, hubness, k_occurrence, nearest


def test_hub_share_and_k_occurrence():
    assert hub_share(np.array([3, 3, 3, 3])) == 1.0
    assert hub_share(np.array([0, 1, 2, 3])) == 0.25
    assert hub_share(np.array([2, 2, 1, 0])) == 0.5
    assert list(k_occurrence(np.array([[0, 1], [0, 2]]), 4)) == [2, 1, 1, 0]
    with pytest.raises(ValueError, match="at least one query"):
        hub_share(np.array([], int))


def test_nearest_matches_a_full_sort():
    rng = np.random.default_rng(0)
    q, a = rng.normal(size=(20, 8)), rng.normal(size=(30, 8))
    d = ((q[:, None, :] - a[None]) ** 2).sum(-1)
    assert (nearest(q, a, 5) == np.argsort(d, axis=1)[:, :5]).all()


def test_an_offset_library_collapses_onto_a_hub_and_centring_undoes_it():
    # Queries and library share directions (query i belongs to entry i), but the library sits
    # off-centre and one entry lies near the queries' centre: plain L2 picks it for everyone.
    rng = np.random.default_rng(1)
    directions = rng.normal(size=(50, 16))
    queries = 3 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    library = 0.3 * queries + 6.0
    library[7] = 0.0
    plain = hubness(queries, library)
    assert plain["hub_share"] > 0.9 and plain["hub"] == 7
    counts = k_occurrence(nearest(queries, library, 10), len(library))
    assert plain["k_skewness"] == pytest.approx(stats.skew(counts.astype(float)))

    centred = hubness(queries, apply_option(library, "centre"))
    assert centred["hub_share"] < 0.1 and centred["distinct_top1"] > 40
    # and it changes nothing the queries see but the library: rows keep a common norm
    norms = np.linalg.norm(centre_library(library), axis=1)
    assert np.allclose(norms, norms[0], rtol=1e-5)


def test_unknown_option_and_tiny_library_are_errors():
    with pytest.raises(ValueError, match="unknown hubness option"):
        apply_option(np.zeros((3, 2)), "csls")
    with pytest.raises(ValueError, match="at least 2 embeddings"):
        centre_library(np.zeros((1, 4)))
