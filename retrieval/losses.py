"""The paper's losses (eq. 1-7), vectorised: one distance matrix per batch, masked mining.

These functions take the embeddings as they come and normalise nothing themselves; the encoders
standardise them by default (`ModelConfig.embed_norm="batchnorm"`: distances near sqrt(2 D), where
the margins 1..10 of eq. 7 mean something; "none" is the paper's literal, unnormalised form).
Semi-hard negatives satisfy d_p < d_n < d_p + margin (eq. 3); one is chosen per anchor, at random
(seeded by `generator`) or the closest (`negative="hardest"`). An anchor without a semi-hard
negative contributes 0; pass a `stats` dict to count those.
"""

import torch
import torch.nn.functional as F
from torch import nn


def triplet(anchor, positive, negative, margin) -> torch.Tensor:
    """Eq. 1 per row: max(||a - p|| - ||a - n|| + margin, 0)."""
    d_p = (anchor - positive).norm(dim=-1)
    d_n = (anchor - negative).norm(dim=-1)
    return torch.relu(d_p - d_n + margin)


def _distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # Exact differences rather than the |x|^2 + |y|^2 - 2xy shortcut, so that the semi-hard test
    # agrees with the distances the loss is computed from. Mining needs no gradient.
    return torch.cdist(x.detach(), y.detach(), compute_mode="donot_use_mm_for_euclid_dist")


def semihard_negatives(dist, d_pos, margin, exclude, negative="random", generator=None):
    """For each row anchor, a column index of a semi-hard negative and whether one exists.

    dist: [B, B] anchor-to-candidate distances; d_pos: [B]; exclude: [B, B] bool (self, positive).
    """
    lo = d_pos.unsqueeze(1)
    mask = (dist > lo) & (dist < lo + margin) & ~exclude
    if negative == "hardest":
        index = dist.masked_fill(~mask, float("inf")).argmin(dim=1)
    elif negative == "random":
        device = generator.device if generator is not None else dist.device
        scores = torch.rand(dist.shape, generator=generator, device=device).to(dist.device)
        index = scores.masked_fill(~mask, -1.0).argmax(dim=1)
    else:
        raise ValueError(f"negative must be 'random' or 'hardest', got {negative!r}")
    return index, mask.any(dim=1)


def _reduce(per_anchor: torch.Tensor, found: torch.Tensor, reduction: str, stats: dict | None):
    if stats is not None:
        stats["anchors"] = stats.get("anchors", 0) + int(found.numel())
        stats["no_negative"] = stats.get("no_negative", 0) + int((~found).sum())
    losses = per_anchor * found
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.mean()
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def inter_modal_loss(video, audio, margin, negative="random", generator=None, reduction="sum", stats=None):
    """Eq. 2: video anchors against audio and audio anchors against video; positive = same sample."""
    n = video.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=video.device)
    dist = _distances(video, audio)  # [video i, audio j]
    d_pos = dist.diagonal()
    per_anchor, found = [], []
    for anchors, others, d in ((video, audio, dist), (audio, video, dist.T)):
        index, ok = semihard_negatives(d, d_pos, margin, eye, negative, generator)
        per_anchor.append(triplet(anchors, others, others[index], margin))
        found.append(ok)
    return _reduce(torch.cat(per_anchor), torch.cat(found), reduction, stats)


def _intra_one(x, margin, negative, generator):
    n = x.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=x.device)
    dist = _distances(x, x)
    positive = dist.masked_fill(eye, float("inf")).argmin(dim=1)  # nearest other sample
    d_pos = dist.gather(1, positive.unsqueeze(1)).squeeze(1)
    exclude = eye | F.one_hot(positive, n).bool()
    index, ok = semihard_negatives(dist, d_pos, margin, exclude, negative, generator)
    return triplet(x, x[positive], x[index], margin), ok


def intra_modal_loss(video, audio, margin, negative="random", generator=None, reduction="sum", stats=None):
    """Eq. 4: within each modality, positive = the nearest other sample, negative semi-hard to it."""
    parts = [_intra_one(x, margin, negative, generator) for x in (video, audio)]
    per_anchor = torch.cat([p for p, _ in parts])
    found = torch.cat([ok for _, ok in parts])
    return _reduce(per_anchor, found, reduction, stats)


def awareness_loss(p_video, p_audio, labels, reduction="sum") -> torch.Tensor:
    """Eq. 5: BCE of both awareness heads' probabilities against the weak label (1 = has SE)."""
    target = labels.to(p_video.dtype)
    return F.binary_cross_entropy(p_video, target, reduction=reduction) + F.binary_cross_entropy(
        p_audio, target, reduction=reduction
    )


def margin_at(epoch, epochs, delta0=1.0, delta_max=10.0) -> float:
    """Eq. 7: delta0 * (delta_max / delta0) ** (epoch / epochs), epochs counted from 0."""
    return delta0 * (delta_max / delta0) ** (epoch / epochs)


class CrossModalLoss(nn.Module):
    """Eq. 6: (L_inter + lambda1 L_intra) / margin + lambda2 L_aware (the last only with awareness)."""

    def __init__(self, lambda1=0.1, lambda2=1.0, negative="random", reduction="sum", generator=None):
        super().__init__()
        self.lambda1, self.lambda2 = lambda1, lambda2
        self.negative, self.reduction, self.generator = negative, reduction, generator

    def forward(self, out: dict, labels: torch.Tensor, margin: float, stats: dict | None = None):
        kw = {"negative": self.negative, "generator": self.generator, "reduction": self.reduction}
        inter = inter_modal_loss(out["video"], out["audio"], margin, stats=stats, **kw)
        intra = intra_modal_loss(out["video"], out["audio"], margin, **kw)
        total = (inter + self.lambda1 * intra) / margin
        parts = {"inter": inter.detach(), "intra": intra.detach()}
        if "p_video" in out:
            aware = awareness_loss(out["p_video"], out["p_audio"], labels, self.reduction)
            total = total + self.lambda2 * aware
            parts["aware"] = aware.detach()
        return total, parts
