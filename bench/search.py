"""Top-1 search for 1,000 queries over 1,000,000 x 64 embeddings: ours against faiss IndexFlatL2.

    .venv/bin/python bench/search.py [--library 1000000] [--queries 1000] [--threads N]

Prints a table (seconds for the batch, queries per second, single-query latency p50/p99) and the
ratio of each exact search to faiss IndexFlatL2 measured in the same run; checks that every
method returns the same neighbours.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workers import search  # noqa: E402


def timed(fn, *args, repeat=3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def latencies(fn, library, queries, n=50):
    times = []
    for q in queries[:n]:
        t0 = time.perf_counter()
        fn(library, q[None, :])
        times.append(time.perf_counter() - t0)
    return np.percentile(times, 50) * 1e3, np.percentile(times, 99) * 1e3


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--library", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="0: library defaults")
    args = parser.parse_args()

    import faiss
    import torch

    if args.threads:
        faiss.omp_set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    library = rng.standard_normal((args.library, args.dim), dtype=np.float32)
    queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    index = faiss.IndexFlatL2(args.dim)
    index.add(library)
    ours = search.ExactIndex(library)

    def faiss_search(_, q):
        return index.search(q, 1)

    def faiss_with_index(lib, q):
        fresh = faiss.IndexFlatL2(lib.shape[1])
        fresh.add(lib)
        return fresh.search(q, 1)

    methods = [
        ("faiss IndexFlatL2 (reference)", faiss_search),
        ("faiss IndexFlatL2 incl. building the index", faiss_with_index),
        ("ours: ExactIndex (torch), norms precomputed", lambda _, q: ours.search(q, 1)),
        ("ours: top_k incl. building the ExactIndex", lambda lib, q: search.top_k(lib, q, 1)),
    ]
    print(f"library {args.library:,} x {args.dim}, {args.queries:,} queries, top-1, "
          f"faiss threads {faiss.omp_get_max_threads()}, torch threads {torch.get_num_threads()}")
    print(f"{'method':45s} {'batch s':>8s} {'q/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'vs faiss':>9s}")
    ref_time, ref_idx = None, None
    for name, fn in methods:
        seconds, (a, b) = timed(fn, library, queries)
        idx = b if name.startswith("faiss") else a  # faiss returns (distances, indices)
        if ref_idx is None:
            ref_time, ref_idx = seconds, idx
        agree = float(np.mean(idx[:, 0] == ref_idx[:, 0]))
        p50, p99 = latencies(fn, library, queries)
        print(f"{name:45s} {seconds:8.3f} {args.queries / seconds:9.0f} {p50:8.2f} {p99:8.2f} "
              f"{seconds / ref_time:8.2f}x  same top-1: {agree:.3f}")


if __name__ == "__main__":
    main()
