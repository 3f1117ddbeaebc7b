"""Retrieval and detection metrics (docs/retrieval.md, `evaluate`), as pure functions on numpy arrays."""

import numpy as np
import torch


def gt_ranks(video_emb, audio_emb) -> np.ndarray:
    """1-based rank of audio i among all audio entries for video query i, by L2 distance.

    Entries at exactly the ground truth's distance share the mean rank of the tie, so a model
    that maps everything to one point scores like Random rather than perfectly.
    """
    v = torch.as_tensor(np.asarray(video_emb), dtype=torch.float64)
    a = torch.as_tensor(np.asarray(audio_emb), dtype=torch.float64)
    if v.ndim != 2 or v.shape != a.shape:
        raise ValueError(f"need embeddings of one shape [N, D], got {tuple(v.shape)}, {tuple(a.shape)}")
    return diagonal_ranks(torch.cdist(v, a, compute_mode="donot_use_mm_for_euclid_dist"))


def diagonal_ranks(costs) -> np.ndarray:
    """1-based rank of entry i for query i in a [N, N] cost matrix (lower first), ties shared."""
    dist = torch.as_tensor(np.asarray(costs), dtype=torch.float64)
    if dist.ndim != 2 or dist.shape[0] != dist.shape[1]:
        raise ValueError(f"need a square cost matrix, got {tuple(dist.shape)}")
    d_gt = dist.diagonal().unsqueeze(1)
    closer = (dist < d_gt).sum(dim=1)
    tied = (dist == d_gt).sum(dim=1) - 1  # minus the ground truth itself
    return (1 + closer + tied / 2).numpy()


def acc_rank(ranks, n: int) -> float:
    """Mean of (N - R) / (N - 1): 1 when the ground truth always comes first, 0.5 for Random."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if n < 2:
        raise ValueError("ACC_rank needs a dictionary of at least 2 entries")
    return float(np.mean((n - ranks) / (n - 1)))


def recall_at_k(ranks, k: int) -> float:
    """Fraction of queries whose ground truth is within the first k results."""
    return float(np.mean(np.asarray(ranks) <= k))


def detection_accuracy(probabilities, labels, threshold: float = 0.5) -> float:
    return float(np.mean((np.asarray(probabilities) >= threshold) == np.asarray(labels, dtype=bool)))


def retrieval_scores(ranks, n: int, ks=(5, 50, 100)) -> dict:
    return {"n": n, "acc_rank": acc_rank(ranks, n), **{f"r@{k}": recall_at_k(ranks, k) for k in ks}}


def random_scores(n: int, ks=(5, 50, 100)) -> dict:
    """Expected scores of a random ordering: ACC_rank 0.5 and R@K = K / N."""
    return {"n": n, "acc_rank": 0.5, **{f"r@{k}": min(k, n) / n for k in ks}}
