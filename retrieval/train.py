"""Training runs of the three variants (docs/retrieval.md, method details): a setup, the epochs
of `retrieval.epochs`, one JSON line per epoch, a checkpoint after each epoch, and resumption
from it. Its input (splits, batches, the loader) is `retrieval.inputs`.
"""

import argparse
import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .checkpoint import load_checkpoint, save_checkpoint
from .config import VARIANTS, TrainConfig, default_config
from .epochs import pretrain_one_epoch, recompute_batchnorm, split_metrics, train_one_epoch
from .inference import build_net, checkpoint_state, resolve_device
from .inputs import TrainingError, TrainSplit, load_train_split
from .losses import CrossModalLoss
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
    state = resume_state(out, config, resume, log) if state is None else state
    if state is not None:
        config = replace(config, epochs=max(config.epochs, TrainConfig.from_dict(state["config"]).epochs))
    net = _resumed_net(net, config, state).to(device)
    if config.variant == "triplet1":
        train = train.subset(train.has_se)  # only samples with a sound effect
    run = _Run(config, net, _wrap(net, device, world), train, valid, out, state, device, rank, world,
               workers, progress and rank == 0, log, on_epoch)
    if config.uses_awareness and run.ckpt["pretrain_epoch"] < config.pretrain_epochs:
        run.pretrain()
    run.joint()
    if world > 1:
        dist.barrier()
    return {"out": str(out), "variant": config.variant, "epochs": run.ckpt["epoch"], "best": run.ckpt["best"],
            "config": config.to_dict()}


def _resumed_net(net, config: TrainConfig, state: dict | None):
    net = build_net(config, get_preset(config.preset), config.video_weights) if net is None else net
    if state is not None:
        net.load_state_dict(state["model"])  # the frozen trunk and the best weights so far
        net.load_state_dict(state["resume"]["model"], strict=False)
    return net


@dataclass
class _Run:
    """One call of `fit`: its net and data, and the checkpoint (`ckpt`) written after every epoch
    with the best weights so far and what resuming needs (trainable weights, optimizer, stage,
    the generator of the negatives)."""

    config: TrainConfig
    net: Any
    model: Any  # the net, wrapped for distributed training
    train: TrainSplit
    valid: TrainSplit
    out: Path
    state: dict | None  # the resume state read from `out`
    device: torch.device
    rank: int
    world: int
    workers: int
    progress: bool
    log: Callable
    on_epoch: Callable | None

    def __post_init__(self):
        self.log_path = self.out.with_name(self.out.name + ".log.jsonl")
        if self.state is None and self.rank == 0:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_text("")
        preset = get_preset(self.config.preset)
        self.ckpt = self.state or checkpoint_state(self.net, self.config, preset, pretrain_epoch=0)
        self.ckpt["config"] = self.config.to_dict()
        self.generator = torch.Generator().manual_seed(self.config.seed)
        if self.state is not None:
            self.generator.set_state(self.state["resume"]["generator"])
        self.best_weights = copy.deepcopy(self.ckpt["model"])

    def pretrain(self) -> None:
        config = self.config
        optimizer = _optimizer(self.net, "pretrain", config.lr, self.state)
        for epoch in range(self.ckpt["pretrain_epoch"], config.pretrain_epochs):
            started = time.time()
            record = pretrain_one_epoch(self.model, self.net, self.train, optimizer, config, epoch,
                                        self.device, self.rank, self.world, self.progress, self.workers)
            self.ckpt["pretrain_epoch"] = epoch + 1
            self.finish_epoch("pretrain", epoch, optimizer, record, started)
            self.log(f"audio pre-training {epoch + 1}/{config.pretrain_epochs}: {_short(record)}")

    def joint(self) -> None:
        config = self.config
        criterion = CrossModalLoss(config.lambda1, config.lambda2, config.negative, config.reduction,
                                   self.generator)
        optimizer = _optimizer(self.net, "joint", config.lr, self.state)
        for epoch in range(self.ckpt["epoch"], config.epochs):
            started = time.time()
            record = train_one_epoch(self.model, self.net, self.train, optimizer, criterion, config, epoch,
                                     self.device, self.rank, self.world, self.progress, self.workers)
            self.ckpt["epoch"] = epoch + 1
            self.finish_epoch("joint", epoch, optimizer, record, started)
            self.log(f"epoch {epoch + 1}/{config.epochs}: {_short(record)}")

    def validate(self, epoch: int, record: dict) -> None:
        """Scores the valid split into `record`; the best epoch so far keeps its weights."""
        started = time.perf_counter()
        metrics = split_metrics(self.net, self.valid, self.device, self.workers) if self.rank == 0 else {}
        record["valid_s"] = round(time.perf_counter() - started, 4)
        record.update({f"valid_{k}": v for k, v in metrics.items() if k != "n"})
        best = self.ckpt["best"]
        if self.rank == 0 and (best is None or metrics["acc_rank"] > best["acc_rank"]):
            self.ckpt["best"] = {"epoch": epoch + 1, **metrics}
            self.best_weights = copy.deepcopy(self.net.state_dict())

    def finish_epoch(self, stage: str, epoch: int, optimizer, record: dict, started: float) -> None:
        """Batch-norm statistics recomputed, the joint stage validated, then (on rank 0) the epoch's
        JSON line, the checkpoint and `on_epoch`."""
        record["bn_s"] = _seconds(recompute_batchnorm, self.net, self.train, self.config.batch_size,
                                  self.device, self.workers)
        if stage == "joint":
            self.validate(epoch, record)
        record.update(stage=stage, epoch=epoch + 1, time=round(time.time() - started, 2))
        if self.rank != 0:
            return
        with open(self.log_path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        self.ckpt["history"].append(record)
        self.ckpt["model"] = self.best_weights if self.ckpt["best"] else self.net.state_dict()
        self.ckpt["resume"] = {"model": self.net.trainable_state_dict(), "optimizer": optimizer.state_dict(),
                               "stage": stage, "generator": self.generator.get_state()}
        save_checkpoint(self.out, self.ckpt)
        if self.on_epoch is not None:
            self.on_epoch(record)


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
