"""Hubness measures and the hubness-aware options (centre, csls, assign), on embeddings with a known
structure and on hand-worked numbers."""

import itertools

import numpy as np
import pytest
from scipy import stats

from retrieval.hubness import (
    apply_option,
    assign,
    assign_capacity,
    assign_dense,
    candidates_needed,
    centre_library,
    cost_hubness,
    csls_penalty,
    hub_share,
    hubness,
    k_occurrence,
    nearest,
    option_costs,
    squared_distances,
)
from retrieval.metrics import diagonal_ranks


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
        apply_option(np.zeros((3, 2)), "cslss")
    with pytest.raises(ValueError, match="at least 2 embeddings"):
        centre_library(np.zeros((1, 4)))


# A hub at 0 between queries at -2, -1, 1, 2 and two entries at -5 and 5. Squared distances:
#            hub   -5    5
#   q = -2     4    9   49
#   q = -1     1   16   36
#   q =  1     1   36   16
#   q =  2     4   49    9
QUERIES = np.array([[-2.0], [-1.0], [1.0], [2.0]])
LIBRARY = np.array([[0.0], [-5.0], [5.0]])


def test_plain_search_sends_every_query_to_the_hub():
    costs = option_costs(QUERIES, LIBRARY, "none")
    assert costs.tolist() == [[4, 9, 49], [1, 16, 36], [1, 36, 16], [4, 49, 9]]
    assert cost_hubness(costs, k=1)["hub_share"] == 1.0


def test_csls_pushes_back_the_entry_near_every_query():
    d = squared_distances(QUERIES, LIBRARY)
    # half the mean of each column's 2 smallest: hub (1 + 1) / 4, -5 and 5 (9 + 16) / 4
    assert csls_penalty(d, k=2).tolist() == [0.5, 6.25, 6.25]
    # with the default k (10, here all 4 queries): hub (4+1+1+4)/8, -5 and 5 (9+16+36+49)/8
    assert csls_penalty(d).tolist() == [1.25, 13.75, 13.75]
    costs = option_costs(QUERIES, LIBRARY, "csls")
    assert costs[0].tolist() == [2.75, -4.75, 35.25]  # q = -2 now takes -5
    assert np.argmin(costs, axis=1).tolist() == [1, 0, 0, 2]
    assert cost_hubness(costs, k=1)["hub_share"] == 0.5


def test_capacity_follows_the_share_and_the_library_size():
    assert assign_capacity(180, 180) == 18  # a tenth of the queries
    assert assign_capacity(15, 162) == 2  # ceil(1.5)
    assert assign_capacity(4, 3) == 2  # 3 sounds must serve 4 videos
    assert assign_capacity(10, 3) == 4
    assert assign_capacity(5, 100) == 1
    with pytest.raises(ValueError, match="queries and library entries"):
        assign_capacity(0, 3)
    assert candidates_needed(4, 2) == 2  # 2 nearest x 2 places > the 3 other queries
    assert candidates_needed(180, 18) == 10
    assert candidates_needed(4, 2, taken=1) == 3


def test_assignment_caps_the_hub_at_the_least_total_distance():
    # capacity 2: the hub keeps the two queries at distance 1 (1 + 1), -5 and 5 take the outer
    # ones (9 + 9): total 20; giving the hub the two left queries instead costs 4 + 1 + 16 + 9 = 30
    d = squared_distances(QUERIES, LIBRARY)
    assert assign_dense(d).tolist() == [1, 0, 0, 2]
    costs = option_costs(QUERIES, LIBRARY, "assign")
    assert np.argmin(costs, axis=1).tolist() == [1, 0, 0, 2]
    assert costs[0].tolist() == [4, -np.inf, 49]  # the rest keeps the plain distance order
    # the assigned entry ranks first, so entry i for query i (no ground truth assigned) ranks 2nd
    assert diagonal_ranks(costs[:3]).tolist() == [2.0, 2.0, 2.0]
    assert cost_hubness(costs, k=1)["hub_share"] == 0.5
    # one place of the hub already taken (a resumed build): 1 + 9 + 16 + 9 = 35 is the least
    order = np.argsort(d, axis=1)
    chosen = assign(order, np.take_along_axis(d, order, 1), 2, 3, taken=np.array([1, 0, 0]))
    assert (chosen == 0).sum() == 1 and d[np.arange(4), chosen].sum() == 35


def test_assignment_is_exact_against_every_assignment():
    rng = np.random.default_rng(3)
    for _ in range(5):
        d = rng.uniform(0, 10, size=(6, 4))
        capacity = 2
        allowed = [c for c in itertools.product(range(4), repeat=6) if max(np.bincount(c)) <= capacity]
        best = min(d[np.arange(6), c].sum() for c in allowed)
        m = candidates_needed(6, capacity)  # 3 of 4 entries per query are enough
        order = np.argsort(d, axis=1)[:, :m]
        chosen = assign(order, np.take_along_axis(d, order, 1), capacity, 4)
        assert d[np.arange(6), chosen].sum() == pytest.approx(best)
        assert np.bincount(chosen).max() <= capacity


def test_too_few_candidates_or_places_are_errors():
    d = squared_distances(QUERIES, LIBRARY)
    order = np.argsort(d, axis=1)
    with pytest.raises(ValueError, match="need 2"):
        assign(order[:, :1], np.take_along_axis(d, order[:, :1], 1), 2, 3)
    with pytest.raises(ValueError, match="no assignment of 4 queries with capacity 1"):
        assign(order, np.take_along_axis(d, order, 1), 1, 3)
    with pytest.raises(ValueError, match=r"got \(4, 1\) and \(3, 2\)"):
        squared_distances(QUERIES, np.zeros((3, 2)))


def test_diagonal_ranks_share_ties():
    costs = np.array([[1, 0, 1], [2, 3, 3], [5, 5, 5]])
    assert diagonal_ranks(costs).tolist() == [2.5, 2.5, 2.0]


def test_centring_cannot_move_a_hub_that_is_the_library_mean():
    # mean of 0, -5, 5 is 0: nothing moves; the median norm is 5, so -5 and 5 keep their norm and
    # the hub (norm 0) stays at 0: every video keeps it (costs as the plain search)
    assert centre_library(LIBRARY).ravel().tolist() == [0, -5, 5]
    costs = option_costs(QUERIES, LIBRARY, "centre")
    assert costs.tolist() == option_costs(QUERIES, LIBRARY, "none").tolist()
    # shifted by +3 (3, -2, 8: norms 3, 2, 8, median 3), centring gives 0, -3, 3: the outer
    # videos now take -3 and 3 (1 < 4), the inner ones keep the hub
    assert centre_library(LIBRARY + 3).ravel().tolist() == [0, -3, 3]
    shifted = option_costs(QUERIES, LIBRARY + 3, "centre")
    assert shifted.tolist() == [[4, 1, 25], [1, 4, 16], [1, 16, 4], [4, 25, 1]]
    assert np.argmin(shifted, axis=1).tolist() == [1, 0, 0, 2]
