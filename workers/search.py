"""Exact nearest-neighbour search by L2 distance over a sound library's embeddings.

bench/search.py measures this chunked matrix search against faiss's IndexFlatL2 (1,000 queries
over 1,000,000 x 64): on this 2-core CPU it took about half faiss's time for the same exact
answers, and it runs on CUDA where a worker has it, so faiss is not needed (see docs/workers.md).
"""

import numpy as np
import torch

CHUNK = 65_536  # library rows per block, at least: bounds the [queries x chunk] distance matrix
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


def top_k(library: np.ndarray, queries: np.ndarray, k: int = 1,
          device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """One search: indices [Q, k] of the k closest library rows per query, and their distances."""
    return ExactIndex(library, device).search(queries, k)


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty [N, D] matrix, got shape {x.shape}")
    return x
