"""Nearest-neighbour search by L2 distance over a sound library's embeddings.

Below `approximate_from` library rows the search is exact: a chunked matrix search (on this 2-core
CPU about half faiss IndexFlatL2's time for the same answers; it runs on CUDA where a worker has
it). From that size on, a faiss HNSW graph answers a single query in a fraction of a millisecond
instead of tens of milliseconds, at a recall@1 measured by bench/search.py. The graph is built
once per library and model and kept beside the embeddings' cache file (`cached_index`).

Both indexes answer `search(queries, k)` with the k closest rows, closest first, so a caller can
re-rank top-k candidates (hubness correction) the same way whichever index is in use:
`study_top1` does so for the hubness options that need the study's videos (csls, assign).
"""

import logging
import os
import uuid
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

CHUNK = 65_536  # library rows per block, at least: bounds the [queries x chunk] distance matrix
PENALTY_ROWS = 16_384  # library rows whose nearest study videos are found at a time (csls)
BLOCK_ELEMENTS = 1 << 24  # few queries take bigger blocks (one for a single query): fewer passes


class ExactIndex:
    """The library as a tensor with its squared norms computed once, for repeated searches."""

    def __init__(self, library: np.ndarray, device: str | torch.device = "cpu"):
        self.vectors = torch.from_numpy(_as_matrix(library, "library")).to(device)
        self.norms = (self.vectors * self.vectors).sum(1)
        self.device = device

    def __len__(self):
        return len(self.vectors)

    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Indices [Q, k] of the k closest rows per query (closest first), and L2 distances."""
        queries = _as_matrix(queries, "queries")
        if queries.shape[1] != self.vectors.shape[1]:
            dims = f"library {self.vectors.shape[1]}, queries {queries.shape[1]}"
            raise ValueError(f"dimension mismatch: {dims}")
        k = min(k, len(self))
        q = torch.from_numpy(queries).to(self.device)
        best_d = torch.full((len(q), 0), float("inf"), device=self.device)
        best_i = torch.zeros((len(q), 0), dtype=torch.long, device=self.device)
        rows = max(CHUNK, BLOCK_ELEMENTS // len(q))
        with torch.inference_mode():
            for start in range(0, len(self), rows):
                block = self.vectors[start : start + rows]
                # ||q - x||^2 = ||q||^2 - 2 q.x + ||x||^2; ||q||^2 does not change the order.
                d = torch.addmm(self.norms[start : start + rows][None, :], q, block.T, alpha=-2)
                val, idx = d.topk(min(k, d.shape[1]), dim=1, largest=False)
                merged = torch.cat([best_d, val], 1)
                best_d, order = merged.topk(min(k, merged.shape[1]), dim=1, largest=False)
                best_i = torch.cat([best_i, idx + start], 1).gather(1, order)
            best_d += (q * q).sum(1, keepdim=True)
        return best_i.cpu().numpy(), best_d.clamp_min(0).sqrt().cpu().numpy()


class ApproximateIndex:
    """A faiss HNSW graph over the library (flat vectors: the distances it returns are exact)."""

    M = 32  # graph degree: 32 keeps recall@1 high on 64-d embeddings at ~270 bytes per row extra
    EF_CONSTRUCTION = 80
    EF_SEARCH = 128  # candidates kept while searching: recall against latency (bench/search.py)

    def __init__(self, index, ef_search: int | None = None):
        self.index = index
        self.ef_search = ef_search or self.EF_SEARCH
        if self.ef_search < 1:
            raise ValueError(f"efSearch must be at least 1 (got {self.ef_search})")
        self.index.hnsw.efSearch = self.ef_search

    @classmethod
    def build(cls, library: np.ndarray, m: int | None = None, ef_search: int | None = None):
        import faiss

        vectors = _as_matrix(library, "library")
        index = faiss.IndexHNSWFlat(vectors.shape[1], m or cls.M)
        index.hnsw.efConstruction = cls.EF_CONSTRUCTION
        for start in range(0, len(vectors), CHUNK * 4):  # the graph grows; no copy of the library
            index.add(vectors[start : start + CHUNK * 4])
        return cls(index, ef_search)

    def __len__(self):
        return self.index.ntotal

    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Indices [Q, k] of the k closest rows found per query (closest first), and L2 distances."""
        queries = _as_matrix(queries, "queries")
        if queries.shape[1] != self.index.d:
            raise ValueError(f"dimension mismatch: library {self.index.d}, queries {queries.shape[1]}")
        k = min(k, len(self))
        self.index.hnsw.efSearch = max(self.ef_search, k)  # fewer candidates than k cannot give k
        dist, idx = self.index.search(queries, k)
        return idx.astype(np.int64), np.sqrt(np.maximum(dist, 0))

    def save(self, path: Path) -> None:
        import faiss

        tmp = path.with_name(f".tmp-{uuid.uuid4().hex}{path.suffix}")
        try:
            faiss.write_index(self.index, str(tmp))
            os.replace(tmp, path)  # two workers racing both end with a complete file
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, ef_search: int | None = None):
        import faiss

        return cls(faiss.read_index(str(path)), ef_search)


def build_index(library: np.ndarray, approximate_from: int, device: str | torch.device = "cpu",
                ef_search: int | None = None):
    """Exact search below `approximate_from` rows, an HNSW graph from there on (0: never);
    `ef_search`: the graph's candidates per query (None: ApproximateIndex.EF_SEARCH)."""
    if approximate_from and len(library) >= approximate_from:
        return ApproximateIndex.build(library, ef_search=ef_search)
    return ExactIndex(library, device)


def cached_index(library: np.ndarray, embeddings_path: Path | None, approximate_from: int,
                 device: str | torch.device = "cpu", variant: str = "none", ef_search: int | None = None):
    """`build_index`, with the HNSW graph read from (or written to) a file beside the embeddings'
    cache file: the graph of a million rows takes minutes to build, reading it a second.
    `variant` names the transformation applied to the embeddings (the hubness option): one
    graph per variant. efSearch is a search-time parameter: one graph file serves every value."""
    if not approximate_from or len(library) < approximate_from or embeddings_path is None:
        return build_index(library, approximate_from, device, ef_search)
    path = index_path(embeddings_path, variant)
    if path.exists():
        index = ApproximateIndex.load(path, ef_search)
        if len(index) == len(library) and index.index.d == library.shape[1]:
            return index
        log.warning("%s does not match its embeddings (%d rows, not %d); rebuilding", path,
                    len(index), len(library))
    index = ApproximateIndex.build(library, ef_search=ef_search)
    index.save(path)
    return index


def index_path(embeddings_path: Path, variant: str = "none") -> Path:
    p = Path(embeddings_path)
    return p.with_name(f"{p.stem}.{variant}.hnsw{ApproximateIndex.M}.faiss")


def top_k(library: np.ndarray, queries: np.ndarray, k: int = 1,
          device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """One search: indices [Q, k] of the k closest library rows per query, and their distances."""
    return ExactIndex(library, device).search(queries, k)


def study_top1(option: str, queries: np.ndarray, library: np.ndarray, embeddings_path: Path | None,
               approximate_from: int, device: str | torch.device = "cpu", ef_search: int | None = None,
               study_size: int | None = None,
               taken: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each query's library row under a study option of retrieval.hubness, and its L2 distance.

    `csls`: the penalty of every row (half its mean squared distance to its CSLS_K nearest
    queries) comes from an exact search of the rows among the queries; the search for d^2 -
    penalty is then a plain L2 search over the rows with one more coordinate, sqrt(max penalty -
    penalty) (0 for the queries), so the exact index or an HNSW graph answers it.
    `assign`: each query's nearest rows, as many as `candidates_needed` (exact for the exact
    index), assigned with capacity `assign_capacity(study_size, rows)`; `taken` counts per row
    the study's videos that already have that sound."""
    from retrieval.hubness import CSLS_K, assign, assign_capacity, candidates_needed, check_option

    queries, library = _as_matrix(queries, "queries"), _as_matrix(library, "library")
    if check_option(option) == "csls":
        bank = ExactIndex(queries, device)
        penalty = np.concatenate([0.5 * (bank.search(library[s : s + PENALTY_ROWS], CSLS_K)[1] ** 2).mean(1)
                                  for s in range(0, len(library), PENALTY_ROWS)])
        extra = np.sqrt(penalty.max() - penalty)[:, None]
        index = build_index(np.hstack([library, extra]), approximate_from, device, ef_search)
        idx = index.search(np.hstack([queries, np.zeros((len(queries), 1), np.float32)]), 1)[0][:, 0]
    elif option == "assign":
        capacity = assign_capacity(study_size or len(queries), len(library))
        used = 0 if taken is None else int(taken.sum())
        m = min(len(library), candidates_needed(len(queries), capacity, used))
        index = cached_index(library, embeddings_path, approximate_from, device, ef_search=ef_search)
        candidates, distances = index.search(queries, m)
        idx = assign(candidates, distances.astype(np.float64) ** 2, capacity, len(library), taken)
    else:
        raise ValueError(f"{option!r} is a library option: search the transformed library instead")
    return idx, np.linalg.norm(queries - library[idx], axis=1)


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty [N, D] matrix, got shape {x.shape}")
    return x
