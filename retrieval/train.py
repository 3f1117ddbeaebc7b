"""Training of the three variants (docs/retrieval.md, method details): a setup, `train_one_epoch`
returning a dict of metrics, one JSON line per epoch, a checkpoint after each epoch, and resumption
from it. Its input (splits, batches, the loader) is `retrieval.inputs`.
"""

import argparse
import copy
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .config import VARIANTS, TrainConfig, default_config
from .inference import build_net, checkpoint_state, resolve_device
from .inputs import (
    TrainingError,
    TrainSplit,
    batches,
    in_order,
    load_batches,
    load_train_split,
    mixed_batches,
    timed,
    video_input,
)
from .losses import CrossModalLoss, margin_at
from .metrics import detection_accuracy, gt_ranks, retrieval_scores
from .presets import DEFAULT_PRESET, PRESETS, get_preset

# Keys of an epoch record that measure time (seconds): they differ between two runs that
# otherwise give the same record.
TIMING_KEYS = frozenset({"time", "data_s", "step_s", "bn_s", "valid_s"})


def get_args_parser() -> argparse.ArgumentParser:
    """Training flags, shared by `manage.py train` and any plain script."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data", required=True, type=Path, help="dataset directory (manifest.csv)")
    parser.add_argument("--variant", required=True, choices=VARIANTS)
    parser.add_argument("--out", required=True, type=Path, help="checkpoint file to write (and resume)")
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=sorted(PRESETS))
    parser.add_argument("--epochs", type=int, help="joint-training epochs (preset default)")
    parser.add_argument("--pretrain-epochs", type=int, help="audio pre-training epochs for proposed")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--video-weights", type=Path, help="torchvision r3d_18 state dict (Kinetics-400)")
    parser.add_argument("--negative", choices=("random", "hardest"), help="semi-hard negative choice")
    parser.add_argument("--reduction", choices=("sum", "mean"), help="triplet losses over anchors")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--workers", type=int, default=0,
                        help="data-loading processes beside training (0: load in the training process)")
    parser.add_argument("--compact-cache", action="store_true",
                        help="cache float16 spectrograms and no frames (decoded from the clips when read)")
    parser.add_argument("--no-resume", action="store_true", help="start over even if --out exists")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def config_from_args(args) -> TrainConfig:
    return default_config(
        args.variant,
        args.preset,
        epochs=args.epochs,
        pretrain_epochs=args.pretrain_epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        negative=args.negative,
        reduction=args.reduction,
        video_weights=str(args.video_weights) if args.video_weights else None,
    )


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


# --- the run -----------------------------------------------------------------------------------


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _device_for(device: str, world: int) -> torch.device:
    dev = resolve_device(device)
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    return dev


def resume_state(out: Path, config: TrainConfig, resume: bool, log) -> dict | None:
    """The checkpoint of an interrupted run of `config` at `out`, checked; None to start afresh."""
    if not resume or not out.exists():
        return None
    state = load_checkpoint(out)
    if "resume" not in state:
        raise TrainingError(
            f"{out}: not a checkpoint of an interrupted run; pass --no-resume to overwrite it"
        )
    old = TrainConfig.from_dict(state["config"])
    if (old.variant, old.preset, old.model) != (config.variant, config.preset, config.model):
        raise TrainingError(
            f"{out}: holds a {old.variant}/{old.preset} checkpoint of another configuration; "
            "choose another --out or pass --no-resume"
        )
    log(f"resuming from {out} (epoch {state['epoch']}, pre-training {state.get('pretrain_epoch', 0)})")
    return state


def _optimizer(net, stage: str, lr: float, state: dict | None):
    """Adam over what `stage` trains, with its state restored when the run resumes in that stage."""
    params = net.audio.parameters() if stage == "pretrain" else net.parameters()
    if stage == "pretrain":
        params = list(params) + list(net.audio_aware.parameters())
    optimizer = torch.optim.Adam([p for p in params if p.requires_grad], lr=lr)
    if state is not None and state["resume"]["stage"] == stage:
        optimizer.load_state_dict(state["resume"]["optimizer"])
    return optimizer


def _wrap(net, device, world):
    if world == 1:
        return net
    ids = [device.index] if device.type == "cuda" else None
    # The awareness and video parts sit idle during audio pre-training.
    return torch.nn.parallel.DistributedDataParallel(net, device_ids=ids, find_unused_parameters=True)


def fit(config: TrainConfig, train: TrainSplit, valid: TrainSplit, out: Path, net=None, device="auto",
        resume: bool = True, progress: bool = True, log=print, on_epoch=None, workers: int = 0,
        state: dict | None = None) -> dict:
    """Train `config.variant` on two splits, writing `out` after every epoch. Returns a summary.

    `on_epoch(record)`, when given, is called after each finished epoch (pre-training included);
    `workers`: data-loading processes (`load_batches`), which change no result; `state`: the
    resume state of `out` when the caller has read it already (`resume_state`).
    """
    out = Path(out)
    rank, world = _distributed()
    device = _device_for(device, world)
    preset = get_preset(config.preset)
    if state is None:
        state = resume_state(out, config, resume, log)
    if state is not None:
        config = replace(config, epochs=max(config.epochs, TrainConfig.from_dict(state["config"]).epochs))
    if net is None:
        net = build_net(config, preset, config.video_weights)
    if state is not None:
        net.load_state_dict(state["model"])  # the frozen trunk and the best weights so far
        net.load_state_dict(state["resume"]["model"], strict=False)
    net.to(device)
    if config.variant == "triplet1":
        train = train.subset(train.has_se)  # only samples with a sound effect
    model = _wrap(net, device, world)
    log_path = out.with_name(out.name + ".log.jsonl")
    if state is None and rank == 0:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("")
    ckpt = state or checkpoint_state(net, config, preset, pretrain_epoch=0)
    ckpt["config"] = config.to_dict()
    generator = torch.Generator().manual_seed(config.seed)
    if state is not None:
        generator.set_state(state["resume"]["generator"])
    criterion = CrossModalLoss(config.lambda1, config.lambda2, config.negative, config.reduction, generator)
    best_weights = copy.deepcopy(ckpt["model"])

    def finish_epoch(stage, epoch, optimizer, record, started):
        record.update(stage=stage, epoch=epoch + 1, time=round(time.time() - started, 2))
        if rank != 0:
            return
        with open(log_path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        ckpt["history"].append(record)
        ckpt["model"] = best_weights if ckpt["best"] else net.state_dict()
        ckpt["resume"] = {"model": net.trainable_state_dict(), "optimizer": optimizer.state_dict(),
                          "stage": stage, "generator": generator.get_state()}
        save_checkpoint(out, ckpt)
        if on_epoch is not None:
            on_epoch(record)

    if config.uses_awareness and ckpt["pretrain_epoch"] < config.pretrain_epochs:
        optimizer = _optimizer(net, "pretrain", config.lr, state)
        for epoch in range(ckpt["pretrain_epoch"], config.pretrain_epochs):
            started = time.time()
            record = pretrain_one_epoch(model, net, train, optimizer, config, epoch, device, rank, world,
                                        progress and rank == 0, workers)
            ckpt["pretrain_epoch"] = epoch + 1
            record["bn_s"] = _seconds(recompute_batchnorm, net, train, config.batch_size, device, workers)
            finish_epoch("pretrain", epoch, optimizer, record, started)
            log(f"audio pre-training {epoch + 1}/{config.pretrain_epochs}: {_short(record)}")

    optimizer = _optimizer(net, "joint", config.lr, state)
    for epoch in range(ckpt["epoch"], config.epochs):
        started = time.time()
        record = train_one_epoch(model, net, train, optimizer, criterion, config, epoch, device, rank, world,
                                 progress and rank == 0, workers)
        record["bn_s"] = _seconds(recompute_batchnorm, net, train, config.batch_size, device, workers)
        valid_started = time.perf_counter()
        valid_metrics = split_metrics(net, valid, device, workers) if rank == 0 else {}
        record["valid_s"] = round(time.perf_counter() - valid_started, 4)
        record.update({f"valid_{k}": v for k, v in valid_metrics.items() if k != "n"})
        ckpt["epoch"] = epoch + 1
        if rank == 0 and (ckpt["best"] is None or valid_metrics["acc_rank"] > ckpt["best"]["acc_rank"]):
            ckpt["best"] = {"epoch": epoch + 1, **valid_metrics}
            best_weights = copy.deepcopy(net.state_dict())
        finish_epoch("joint", epoch, optimizer, record, started)
        log(f"epoch {epoch + 1}/{config.epochs}: {_short(record)}")
    if world > 1:
        dist.barrier()
    return {"out": str(out), "variant": config.variant, "epochs": ckpt["epoch"], "best": ckpt["best"],
            "config": config.to_dict()}


def _seconds(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return round(time.perf_counter() - started, 4)


def _short(record: dict) -> str:
    skip = {"stage", "epoch"}
    shown = {k: v for k, v in record.items() if k not in skip}
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items())


def train(config: TrainConfig, data_dir, out, device="auto", resume=True, progress=True, log=print,
          workers: int = 0, compact: bool = False) -> dict:
    """Train on a dataset directory (manifest.csv): train split to learn, valid split to pick the epoch.

    `compact`: the dataset's compact cache (retrieval.data.cache), frames decoded from the clips
    as batches load; give it `workers` so that decoding runs beside training."""
    if config.video_weights is None:
        log("video trunk: no --video-weights given, r3d_18 starts from RANDOM weights "
            "(pass torchvision's r3d_18-b3b3357e.pth for Kinetics-400 features)")
    else:
        log(f"video trunk: r3d_18 weights from {config.video_weights}")
    preset = get_preset(config.preset)
    net = build_net(config, preset, config.video_weights)
    state = resume_state(Path(out), config, resume, log)
    if state is not None:  # the trunk of the run being resumed, for the right cached features
        net.load_state_dict(state["model"])
    dev = _device_for(device, int(os.environ.get("WORLD_SIZE", "1")))
    net.to(dev)
    train_split = load_train_split(net, data_dir, "train", preset, dev, progress, compact)
    valid_split = load_train_split(net, data_dir, "valid", preset, dev, progress, compact)
    return fit(config, train_split, valid_split, out, net=net, device=device, resume=resume,
               progress=progress, log=log, workers=workers, state=state)
