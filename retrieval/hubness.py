"""Hubness of a retrieval (a few library entries that are everyone's nearest neighbour) and a
hubness-aware option, as pure functions on numpy embeddings.

A hub is what a study must not compare against itself: when one sound is the top-1 for most
videos, every method "retrieves" that sound. Two measures:

- hub share: the share of queries whose top-1 is the library's most chosen entry
  (1 / n_library at best, 1.0 when every query gets the same sound);
- skewness of the k-occurrence (how often each library entry is among the k nearest of a query;
  Radovanović et al. 2010): near 0 for an even spread, large and positive with hubs.

The option, `centre_library`, is a transformation of the library's embeddings alone (queries are
unchanged), so an exact search or any vector index built over the transformed library applies it:
the library is centred on its own mean embedding and every entry is brought to the library's
median norm. A library recorded apart from the training data (isolated effects, silence around
them) sits off-centre from the video embeddings, and the entry nearest to the queries' centre
becomes everyone's top-1; centring removes that offset, equal norms remove the advantage of
entries near the centre, so the ranking follows each entry's direction (cosine after centring).
"""

import numpy as np
from scipy import stats

HUBNESS_OPTIONS = ("none", "centre")
K_OCCURRENCE = 10


def centre_library(library: np.ndarray) -> np.ndarray:
    """The library's embeddings centred on their mean and scaled to their median norm (float32)."""
    a = np.asarray(library, dtype=np.float64)
    if a.ndim != 2 or len(a) < 2:
        raise ValueError(f"centring needs a library of at least 2 embeddings [N, D], got shape {a.shape}")
    centred = a - a.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    scale = float(np.median(np.linalg.norm(a, axis=1)))
    return (centred / np.maximum(norms, 1e-12) * scale).astype(np.float32)


def apply_option(library: np.ndarray, option: str) -> np.ndarray:
    """The library as the search sees it under a hubness option (`none` or `centre`)."""
    if option == "none":
        return np.asarray(library, dtype=np.float32)
    if option == "centre":
        return centre_library(library)
    raise ValueError(f"unknown hubness option {option!r}; choose one of {list(HUBNESS_OPTIONS)}")


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
    neighbours = nearest(queries, library, k)
    top1 = neighbours[:, 0]
    return {"hub_share": hub_share(top1), "k_skewness": k_occurrence_skewness(neighbours, len(library)),
            "k": int(neighbours.shape[1]), "distinct_top1": int(len(np.unique(top1))),
            "hub": int(np.bincount(top1).argmax())}
