"""Nearest-neighbour search over 1,000,000 x 64 embeddings: exact against the HNSW index.

    .venv/bin/python bench/search.py [--library 1000000] [--queries 1000] [--data clustered gaussian]

Libraries above settings.SEARCH_APPROXIMATE_FROM are searched with workers.search's faiss HNSW
graph; this prints, beside the exact searches (faiss IndexFlatL2, the reference, and ours), the
graph's build time and size, and for several efSearch values its recall@1 against exact search,
batch throughput and single-query latency p50/p99, with the ratio to the reference's latency.

Two libraries: "clustered" is embedding-like (1,000 classes on a 16-d subspace of the 64-d space,
plus noise; queries drawn the same way, not copies of rows), "gaussian" is i.i.d. N(0, 1) in 64-d,
the hardest case for any graph or partition index (no structure at all). The machine's load
(os.getloadavg) is printed with the figures: other jobs share the CPU.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workers import search  # noqa: E402


def library_rows(kind: str, n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal((n, dim), dtype=np.float32)
    centres = np.random.default_rng(1).standard_normal((1000, 16)).astype(np.float32) * 3
    basis = np.random.default_rng(2).standard_normal((16, dim)).astype(np.float32) / 4
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        z = centres[rng.integers(0, 1000, m)] + rng.standard_normal((m, 16), dtype=np.float32)
        out[start : start + m] = z @ basis + 0.1 * rng.standard_normal((m, dim), dtype=np.float32)
    return out


def latencies(fn, queries, n=200):
    times = []
    for q in queries[:n]:
        t0 = time.perf_counter()
        fn(q[None, :])
        times.append(time.perf_counter() - t0)
    return np.percentile(times, 50) * 1e3, np.percentile(times, 99) * 1e3


def timed(fn, queries):
    t0 = time.perf_counter()
    out = fn(queries)
    return time.perf_counter() - t0, out


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def row(name, recall, seconds, queries, p50, p99, ratio, digits=2):
    print(f"{name:40s} {recall:8.3f} {seconds:8.2f} {queries / seconds:8.0f} {p50:7.{digits}f} "
          f"{p99:7.{digits}f} {ratio:9.{digits + 2}f}x")


def exact(library, queries):
    """The reference (faiss IndexFlatL2) and ours: true neighbours and the reference's p50."""
    import faiss

    flat = faiss.IndexFlatL2(library.shape[1])
    flat.add(library)
    seconds, (_, truth) = timed(lambda q: flat.search(q, 1), queries)
    ref_p50, ref_p99 = latencies(lambda q: flat.search(q, 1), queries, 50)
    row("exact: faiss IndexFlatL2 (reference)", 1, seconds, len(queries), ref_p50, ref_p99, 1)
    ours = search.ExactIndex(library)
    seconds, (idx, _) = timed(lambda q: ours.search(q, 1), queries)
    p50, p99 = latencies(lambda q: ours.search(q, 1), queries, 50)
    row("exact: ours (ExactIndex, torch)", np.mean(idx[:, 0] == truth[:, 0]), seconds, len(queries), p50, p99,
        p50 / ref_p50)
    return truth, ref_p50


def bench(kind, args):
    import faiss

    library = library_rows(kind, args.library, args.dim, 0)
    queries = library_rows(kind, args.queries, args.dim, 1)
    print(f"\n{kind}: library {args.library:,} x {args.dim}, {args.queries:,} queries, top-1; {load()}")
    print(f"{'method':40s} {'recall@1':>8s} {'batch s':>8s} {'q/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} "
          f"{'p50 vs ref':>10s}")
    truth, ref_p50 = exact(library, queries)
    t0 = time.perf_counter()
    index = search.ApproximateIndex.build(library)
    build = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.faiss"
        index.save(path)
        size = path.stat().st_size
        t0 = time.perf_counter()
        search.ApproximateIndex.load(path)
        read = time.perf_counter() - t0
    for ef in args.ef:
        index.ef_search = ef  # what settings.SEARCH_EF sets in the workers
        seconds, (idx, _) = timed(lambda q: index.search(q, 1), queries)
        recall = np.mean(idx[:, 0] == truth[:, 0])
        faiss.omp_set_num_threads(1)  # one query is one thread's work; a worker serves one at a time
        p50, p99 = latencies(lambda q: index.search(q, 1), queries)
        faiss.omp_set_num_threads(os.cpu_count())
        mark = " (default SEARCH_EF)" if ef == search.ApproximateIndex.EF_SEARCH else ""
        row(f"HNSW{search.ApproximateIndex.M} efSearch {ef}{mark}", recall, seconds, len(queries), p50, p99,
            p50 / ref_p50, digits=3)
    print(f"HNSW{search.ApproximateIndex.M}: built in {build:.0f} s ({args.library / build:,.0f} rows/s), "
          f"{size / 2**20:.0f} MiB on disk ({size / args.library:.0f} bytes/row), read back in {read:.1f} s; "
          f"{load()}")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--library", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--data", nargs="+", default=["clustered", "gaussian"],
                        choices=["clustered", "gaussian"])
    parser.add_argument("--ef", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512])
    parser.add_argument("--threads", type=int, default=0, help="0: library defaults")
    args = parser.parse_args()
    if args.threads:
        import faiss
        import torch

        faiss.omp_set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
    for kind in args.data:
        bench(kind, args)


if __name__ == "__main__":
    main()
