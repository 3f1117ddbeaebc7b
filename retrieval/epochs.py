"""One epoch of each training stage (audio pre-training, joint training), each returning a dict
of metrics; the batch-norm recomputation after it, and the valid split's metrics
(docs/retrieval.md, method details). `retrieval.train` runs the epochs and keeps the checkpoint."""

import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .inputs import (
    TrainingError,
    TrainSplit,
    batches,
    in_order,
    load_batches,
    mixed_batches,
    timed,
    video_input,
)
from .losses import margin_at
from .metrics import detection_accuracy, gt_ranks, retrieval_scores


def recompute_batchnorm(net, split: TrainSplit, batch_size: int, device, workers: int = 0) -> None:
    """Set BatchNorm running statistics to the current weights' statistics over the training split.

    With a few batches per epoch, running averages (momentum 0.1) lag far behind the weights; in
    eval mode that squashes the standardised embeddings into one point and validation ranks
    collapse to exactly Random. One forward pass without gradients fixes them ("precise BN").
    """
    frozen = set(net.video.frozen.modules())
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    norms = [m for m in norms if m not in frozen]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over this pass
    net.train()
    with torch.no_grad():
        for video, spec, _ in load_batches(split, in_order(len(split), batch_size, 2), device, workers):
            net(video_input(net, split, video), spec)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


# --- evaluation --------------------------------------------------------------------------------


def embed_split(net, split: TrainSplit, device, batch: int = 32, workers: int = 0) -> dict:
    net.eval()
    out: dict[str, list] = {"video": [], "audio": [], "p_video": [], "p_audio": []}
    with torch.inference_mode():
        for video, spec, _ in load_batches(split, in_order(len(split), batch), device, workers):
            res = net(video_input(net, split, video), spec)
            for key in out:
                if key in res:
                    out[key].append(res[key].float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items() if v}


def split_metrics(net, split: TrainSplit, device, workers: int = 0) -> dict:
    """Retrieval among the samples with a sound effect (as the paper tests), detection over all."""
    emb = embed_split(net, split, device, workers=workers)
    with_se = split.has_se.astype(bool)
    if with_se.sum() < 2:
        raise TrainingError("a split needs at least 2 samples with a sound effect to rank retrieval")
    ranks = gt_ranks(emb["video"][with_se], emb["audio"][with_se])
    metrics = retrieval_scores(ranks, int(with_se.sum()))
    if "p_video" in emb:
        metrics["det_video"] = detection_accuracy(emb["p_video"], split.has_se)
        metrics["det_audio"] = detection_accuracy(emb["p_audio"], split.has_se)
    return metrics


# --- one epoch ---------------------------------------------------------------------------------


def _check_finite(loss: torch.Tensor, stage: str, epoch: int, step: int, parts: dict) -> None:
    if not torch.isfinite(loss):
        detail = ", ".join(f"{k}={float(torch.as_tensor(v).detach()):.4g}" for k, v in parts.items())
        raise TrainingError(
            f"non-finite loss in {stage} epoch {epoch + 1}, batch {step + 1} ({detail}); "
            "the checkpoint of the last finished epoch is kept. Try a lower learning rate or "
            "--reduction mean."
        )


def pretrain_one_epoch(model, net, split, optimizer, config, epoch, device, rank=0, world=1, progress=True,
                       workers=0):
    """Audio encoder and its awareness head alone, on sound-effect detection (BCE)."""
    net.train()
    rng = np.random.default_rng([config.seed, 1, epoch])
    total, correct, count = 0.0, 0, 0
    clock = {"data_s": 0.0, "step_s": 0.0}
    index_batches = batches(len(split), config.batch_size, rng, rank, world)
    loaded = timed(load_batches(split, index_batches, device, workers, video=False), clock)
    for step, (_, spec, labels) in enumerate(tqdm(loaded, total=len(index_batches), desc=f"{config.variant} "
                                                  f"audio pre-training {epoch + 1}/{config.pretrain_epochs}",
                                                  unit="batch", disable=not progress, leave=False)):
        start = time.perf_counter()
        p_audio = model(None, spec)["p_audio"]
        loss = F.binary_cross_entropy(p_audio, labels, reduction=config.reduction)
        _check_finite(loss, "pre-training", epoch, step, {"bce": loss})
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach())  # waits for the device: the step's time is complete
        correct += int(((p_audio >= 0.5) == labels.bool()).sum())
        count += len(labels)
        clock["step_s"] += time.perf_counter() - start
    return {"loss": total, "train_det_audio": correct / max(count, 1), "steps": len(index_batches),
            **_rounded(clock)}


def train_one_epoch(model, net, split, optimizer, criterion, config, epoch, device, rank=0, world=1,
                    progress=True, workers=0):
    net.train()
    margin = margin_at(epoch, config.epochs, config.delta0, config.delta_max)
    rng = np.random.default_rng([config.seed, 2, epoch])
    sums: dict[str, float] = {"loss": 0.0}
    stats: dict[str, float] = {}
    if config.no_se_share is None:
        index_batches = batches(len(split), config.batch_size, rng, rank, world)
    else:
        index_batches = mixed_batches(split.has_se, config.batch_size, config.no_se_share, rng, rank, world)
    clock = {"data_s": 0.0, "step_s": 0.0}
    loaded = timed(load_batches(split, index_batches, device, workers), clock)
    label = f"{config.variant} epoch {epoch + 1}/{config.epochs}"
    shown = tqdm(loaded, total=len(index_batches), desc=label, unit="batch", disable=not progress,
                 leave=False)
    for step, (video, spec, labels) in enumerate(shown):
        start = time.perf_counter()
        out = model(video_input(net, split, video), spec)
        loss, parts = criterion(out, labels, margin, stats)
        _check_finite(loss, "joint", epoch, step, {"loss": loss, **parts})
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sums["loss"] += float(loss.detach())  # waits for the device: the step's time is complete
        for key, value in parts.items():
            sums[key] = sums.get(key, 0.0) + float(value)
        clock["step_s"] += time.perf_counter() - start
    anchors = max(stats.get("anchors", 0), 1)
    return {**sums, "margin": margin, "no_negative_frac": stats.get("no_negative", 0) / anchors,
            "steps": len(index_batches), **_rounded(clock)}


def _rounded(clock: dict) -> dict:
    return {k: round(v, 4) for k, v in clock.items()}
