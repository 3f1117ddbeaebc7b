"""Hubness of a retrieval (a few library entries that are everyone's nearest neighbour) and a
hubness-aware option, as pure functions on numpy embeddings.

A hub is what a study must not compare against itself: when one sound is the top-1 for most
videos, every method "retrieves" that sound. Two measures:

- hub share: the share of queries whose top-1 is the library's most chosen entry
  (1 / n_library at best, 1.0 when every query gets the same sound);
- skewness of the k-occurrence (how often each library entry is among the k nearest of a query;
  Radovanović et al. 2010): near 0 for an even spread, large and positive with hubs.

The options (`HUBNESS_OPTIONS`):

- `centre` (`centre_library`) transforms the library's embeddings alone (queries are unchanged),
  so an exact search or any vector index built over the transformed library applies it: the
  library is centred on its own mean embedding and every entry is brought to the library's median
  norm. A library recorded apart from the training data (isolated effects, silence around them)
  sits off-centre from the video embeddings, and the entry nearest to the queries' centre becomes
  everyone's top-1; centring removes that offset, equal norms remove the advantage of entries near
  the centre, so the ranking follows each entry's direction (cosine after centring).
- `csls` (cross-domain similarity local scaling, Lample et al. 2018, in squared L2 distances):
  an entry's cost for a query is its squared distance minus half its mean squared distance to its
  `CSLS_K` nearest queries of the study, so an entry close to many queries (a hub) is pushed back.
  It needs the study's queries (the query bank), not only the library.
- `assign` (capacity-constrained assignment): the study's top-1 sounds as one optimal transport
  problem, each sound the top-1 of at most `capacity` queries, minimising the total distance;
  solved exactly with `scipy.optimize.linear_sum_assignment` on the cost matrix with each sound's
  column replicated `capacity` times. The capacity is `assign_capacity`: a tenth of the study's
  queries (rounded up), or more when the library is too small to serve every query, so the hub
  share is at most about 0.1. The rest of a query's ranking keeps the plain distance order.
"""

import math

import numpy as np
from scipy import optimize, stats

HUBNESS_OPTIONS = ("none", "centre", "csls", "assign")
LIBRARY_OPTIONS = ("none", "centre")  # a transformation of the library alone
K_OCCURRENCE = 10
CSLS_K = 10
ASSIGN_MAX_SHARE = 0.1


def centre_library(library: np.ndarray) -> np.ndarray:
    """The library's embeddings centred on their mean and scaled to their median norm (float32)."""
    a = np.asarray(library, dtype=np.float64)
    if a.ndim != 2 or len(a) < 2:
        raise ValueError(f"centring needs a library of at least 2 embeddings [N, D], got shape {a.shape}")
    centred = a - a.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    scale = float(np.median(np.linalg.norm(a, axis=1)))
    return (centred / np.maximum(norms, 1e-12) * scale).astype(np.float32)


def check_option(option: str) -> str:
    if option not in HUBNESS_OPTIONS:
        raise ValueError(f"unknown hubness option {option!r}; choose one of {list(HUBNESS_OPTIONS)}")
    return option


def apply_option(library: np.ndarray, option: str) -> np.ndarray:
    """The library as the search sees it under a library option (`none` or `centre`); the study
    options (`csls`, `assign`) search the plain library and correct with the study's queries."""
    if check_option(option) == "centre":
        return centre_library(library)
    return np.asarray(library, dtype=np.float32)


def squared_distances(queries: np.ndarray, library: np.ndarray) -> np.ndarray:
    """[Q, N] squared L2 distances, computed exactly (equal points tie exactly), float64."""
    import torch  # here, not above: the web process imports this module (hub_share) without torch

    q = torch.as_tensor(np.asarray(queries), dtype=torch.float64)
    a = torch.as_tensor(np.asarray(library), dtype=torch.float64)
    if q.ndim != 2 or a.ndim != 2 or q.shape[1] != a.shape[1] or not len(q) or not len(a):
        raise ValueError(f"need non-empty embeddings [Q, D] and [N, D], got {tuple(q.shape)} and "
                         f"{tuple(a.shape)}")
    return (torch.cdist(q, a, compute_mode="donot_use_mm_for_euclid_dist") ** 2).numpy()


def csls_penalty(distances: np.ndarray, k: int = CSLS_K) -> np.ndarray:
    """[N] half the mean squared distance of each library entry to its k nearest queries, from
    [Q, N] squared distances: subtracted from an entry's cost, it pushes back entries near many."""
    d = np.asarray(distances, dtype=np.float64)
    k = min(k, d.shape[0])
    return 0.5 * np.partition(d, k - 1, axis=0)[:k].mean(axis=0)


def assign_capacity(n_queries: int, n_library: int, max_share: float = ASSIGN_MAX_SHARE) -> int:
    """How many queries one sound may serve under `assign`: ceil(max_share x queries), at least
    1, and at least ceil(queries / library) so that every query gets a sound."""
    if n_queries < 1 or n_library < 1:
        raise ValueError(f"an assignment needs queries and library entries, got {n_queries} and {n_library}")
    return max(1, math.ceil(max_share * n_queries - 1e-9), math.ceil(n_queries / n_library))


def candidates_needed(n_queries: int, capacity: int, taken: int = 0) -> int:
    """Candidates per query that hold an optimal assignment: a query assigned beyond its m nearest
    could move to one of them with room left whenever m x capacity > the other queries' slots."""
    return (n_queries - 1 + taken) // capacity + 1


def assign(candidates: np.ndarray, costs: np.ndarray, capacity: int, n_library: int,
           taken: np.ndarray | None = None) -> np.ndarray:
    """The library index assigned to each query: minimum total cost with each entry the choice of
    at most `capacity` queries (less what `taken`, counts per library index, already uses).

    `candidates` [Q, m] are each query's m nearest library indices, nearest first, with `costs`
    [Q, m]; m must reach `candidates_needed` (or the library's size), which keeps it exact."""
    candidates = np.asarray(candidates)
    costs = np.asarray(costs, dtype=np.float64)
    n_queries, m = candidates.shape
    used = 0 if taken is None else int(np.asarray(taken).sum())
    needed = min(n_library, candidates_needed(n_queries, capacity, used))
    if m < needed:
        raise ValueError(f"{m} candidates per query cannot hold an exact assignment of {n_queries} "
                         f"queries at capacity {capacity}; need {needed}")
    entries, column = np.unique(candidates, return_inverse=True)
    column = column.reshape(n_queries, m)
    room = np.full(len(entries), capacity) - (0 if taken is None else np.asarray(taken)[entries])
    copies = np.clip(np.minimum(room, np.bincount(column.ravel(), minlength=len(entries))), 0, None)
    dense = np.full((n_queries, len(entries)), np.inf)
    np.put_along_axis(dense, column, costs, axis=1)
    replicated = dense[:, np.repeat(np.arange(len(entries)), copies)]
    problem = f"no assignment of {n_queries} queries with capacity {capacity}"
    if replicated.shape[1] < n_queries:
        raise ValueError(f"{problem}: the candidates have {replicated.shape[1]} places")
    try:
        rows, cols = optimize.linear_sum_assignment(replicated)
    except ValueError as exc:
        raise ValueError(f"{problem}: {exc}") from None
    chosen = np.empty(n_queries, dtype=np.int64)
    chosen[rows] = entries[np.repeat(np.arange(len(entries)), copies)[cols]]
    return chosen


def option_costs(queries: np.ndarray, library: np.ndarray, option: str) -> np.ndarray:
    """[Q, N] costs (lower first) of every library entry for every query under a hubness option.
    Under `assign` the assigned entry costs -inf and the others their squared distance."""
    if check_option(option) == "centre":
        return squared_distances(queries, centre_library(library))
    d = squared_distances(queries, library)
    if option == "csls":
        return d - csls_penalty(d)[None, :]
    if option == "assign":
        chosen = assign_dense(d)
        d[np.arange(len(d)), chosen] = -np.inf
    return d


def assign_dense(distances: np.ndarray, max_share: float = ASSIGN_MAX_SHARE) -> np.ndarray:
    """`assign` over a full [Q, N] cost matrix, with the capacity of `assign_capacity`."""
    d = np.asarray(distances, dtype=np.float64)
    capacity = assign_capacity(d.shape[0], d.shape[1], max_share)
    m = min(d.shape[1], candidates_needed(len(d), capacity))
    order = np.argsort(d, axis=1, kind="stable")[:, :m]
    return assign(order, np.take_along_axis(d, order, 1), capacity, d.shape[1])


def nearest(queries: np.ndarray, library: np.ndarray, k: int) -> np.ndarray:
    """Indices [Q, k] of each query's k nearest library entries by L2 distance, nearest first."""
    q = np.asarray(queries, dtype=np.float64)
    a = np.asarray(library, dtype=np.float64)
    d = (q * q).sum(1)[:, None] - 2 * q @ a.T + (a * a).sum(1)[None, :]
    k = min(k, a.shape[0])
    part = np.argpartition(d, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(d, part, 1).argsort(axis=1, kind="stable")
    return np.take_along_axis(part, order, 1)


def hub_share(top1: np.ndarray) -> float:
    """Share of queries whose top-1 is the most chosen library entry."""
    top1 = np.asarray(top1)
    if top1.size == 0:
        raise ValueError("hub share needs at least one query")
    return float(np.bincount(top1).max() / top1.size)


def k_occurrence(neighbours: np.ndarray, n_library: int) -> np.ndarray:
    """How often each library entry appears among the queries' k nearest ([Q, k] indices)."""
    return np.bincount(np.asarray(neighbours).ravel(), minlength=n_library)


def k_occurrence_skewness(neighbours: np.ndarray, n_library: int) -> float:
    counts = k_occurrence(neighbours, n_library).astype(np.float64)
    if counts.std() == 0:
        return 0.0
    return float(stats.skew(counts))


def hubness(queries: np.ndarray, library: np.ndarray, k: int = K_OCCURRENCE) -> dict:
    """Hub share of the top-1 and skewness of the k-occurrence of a search, with the hub itself."""
    return neighbour_stats(nearest(queries, library, k), len(library))


def cost_hubness(costs: np.ndarray, k: int = K_OCCURRENCE) -> dict:
    """`hubness` of the ranking given by a [Q, N] cost matrix (an option's `option_costs`)."""
    costs = np.asarray(costs)
    return neighbour_stats(np.argsort(costs, axis=1, kind="stable")[:, :k], costs.shape[1])


def neighbour_stats(neighbours: np.ndarray, n_library: int) -> dict:
    top1 = neighbours[:, 0]
    return {"hub_share": hub_share(top1), "k_skewness": k_occurrence_skewness(neighbours, n_library),
            "k": int(neighbours.shape[1]), "distinct_top1": int(len(np.unique(top1))),
            "hub": int(np.bincount(top1).argmax())}
