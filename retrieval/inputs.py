"""The training input pipeline: splits, index batches and the loader that brings them to the device.

A split (`TrainSplit`) holds spectrograms and either frozen-trunk features (cached once per
dataset, preset and trunk) or raw frames when the trunk has trainable layers, in memory or
memory-mapped from the dataset's cache. Index batches come shuffled (`batches`), with a fixed
share of samples without an effect (`mixed_batches`) or in order (`in_order`); `load_batches`
reads them through a torch DataLoader: with `workers` > 0, that many processes read the next
batches (and decode the frames, from a compact cache) while the current one trains.
"""

import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .features import normalize_frames
from .presets import Preset
from .rows import Rows, RowView, by_reference


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss, a checkpoint of another run, too little data)."""



@dataclass
class TrainSplit:
    video: Rows  # frozen-trunk features [N, C, T', H', W'] or uint8 frames [N, T, S, S, 3]
    spectrograms: Rows  # [N, F, T'], float32 (float16 from a compact cache)
    has_se: np.ndarray  # bool [N]
    video_is_frames: bool = False
    classes: np.ndarray | None = None  # se_class per sample ("" without an effect), when known

    def __len__(self) -> int:
        return len(self.has_se)

    def subset(self, mask: np.ndarray) -> "TrainSplit":
        index = np.flatnonzero(mask)
        classes = None if self.classes is None else self.classes[index]
        return TrainSplit(RowView(self.video, index), RowView(self.spectrograms, index), self.has_se[index],
                          self.video_is_frames, classes)


class SplitBatches(torch.utils.data.Dataset):
    """A split read a batch at a time: `[index array]` gives (video rows, float32 spectrograms,
    float32 labels); with `video=False` an empty video array (audio pre-training reads no frames)."""

    def __init__(self, split: TrainSplit, video: bool = True):
        self.split, self.video = split, video

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index):
        s = self.split
        video = np.asarray(s.video[index]) if self.video else np.zeros(0, np.float32)
        return video, np.asarray(s.spectrograms[index], np.float32), s.has_se[index].astype(np.float32)

    def __getstate__(self) -> dict:
        # Pickled for each loader worker: memory-mapped columns go by their files, not their bytes.
        s = self.split
        return {"split": replace(s, video=by_reference(s.video), spectrograms=by_reference(s.spectrograms)),
                "video": self.video}


def loader_context():
    """Where loader workers come from: a fork server, started once, that has imported this module.

    A worker forked from the training process itself starts by running that process's after-fork
    hooks, and inherits its sockets and the locks its other threads held: after the process had
    used Celery, kombu's hook in each forked worker closed the inherited Redis connection by
    reading the reply to the parent's pending BRPOP, and workers and parent hung, all waiting.
    The fork server's process has none of that; the dataset reaches each worker pickled
    (`SplitBatches.__getstate__`: memory maps by their files).
    """
    context = torch.multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def load_batches(split: TrainSplit, index_batches: list, device, workers: int = 0, video: bool = True):
    """(video, spectrograms, labels) tensors on `device`, one per index batch, in their order.

    With `workers` > 0 that many processes (`loader_context`) read the next batches while the
    caller trains (two batches ahead each); 0 reads each batch in this process when it is asked for.
    """
    device = torch.device(device)
    loader = torch.utils.data.DataLoader(SplitBatches(split, video), sampler=index_batches, batch_size=None,
                                         num_workers=workers, pin_memory=device.type == "cuda",
                                         multiprocessing_context=loader_context() if workers else None)
    for v, spec, labels in loader:
        yield (v.to(device, non_blocking=True), spec.to(device, non_blocking=True),
               labels.to(device, non_blocking=True))


def timed(loaded, clock: dict):
    """Items of `loaded`, adding the seconds spent waiting for each to `clock["data_s"]`."""
    items = iter(loaded)
    while True:
        start = time.perf_counter()
        try:
            item = next(items)
        except StopIteration:
            return
        clock["data_s"] = clock.get("data_s", 0.0) + time.perf_counter() - start
        yield item


def in_order(n: int, batch_size: int, min_size: int = 1) -> list[np.ndarray]:
    """Index batches 0..n-1 in order, leaving out a last one shorter than `min_size`."""
    starts = range(0, n, batch_size)
    return [np.arange(i, min(i + batch_size, n)) for i in starts if min(batch_size, n - i) >= min_size]


# --- data --------------------------------------------------------------------------------------


def frozen_features(net, frames: np.ndarray, device, progress: bool = True, batch: int = 8) -> np.ndarray:
    """Frozen-trunk output for uint8 frames, as float16 (halves the cache; values are O(1))."""
    out = None
    net.video.eval()
    with torch.inference_mode():
        for start in tqdm(range(0, len(frames), batch), desc="video trunk features", unit="batch",
                          disable=not progress):
            x = normalize_frames(torch.from_numpy(np.asarray(frames[start : start + batch])).to(device))
            feats = net.video.features(x).half().cpu().numpy()
            if out is None:
                out = np.empty((len(frames), *feats.shape[1:]), np.float16)
            out[start : start + len(feats)] = feats
    if out is None or not np.isfinite(out).all():
        raise TrainingError("frozen trunk features are empty or not finite")
    return out


def cached_frozen_features(net, split_data, device, progress: bool = True) -> np.ndarray:
    """Frozen features of a dataset split, computed once and kept beside the split's cache.

    The file name carries a hash of the frozen weights, so variants with the same trunk share it
    and a different trunk (other seed, other weights) never reads a stale one.
    """
    path = Path(split_data.path) / f"video-features-{net.video.frozen_fingerprint()}.npy"
    if path.is_file():
        return np.load(path, mmap_mode="r")
    feats = frozen_features(net, split_data.frames, device, progress)
    fd, tmp = tempfile.mkstemp(prefix=".features-", suffix=".npy", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, feats)
        os.replace(tmp, path)  # two processes racing both write the same values
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return np.load(path, mmap_mode="r")


def load_train_split(net, data_dir, split: str, preset: Preset, device, progress: bool = True,
                     compact: bool = False) -> TrainSplit:
    from .data.cache import load_split  # the dataset package is only needed for real datasets

    data = load_split(data_dir, split, preset, progress=progress, compact=compact)
    classes = np.array([r.se_class or "" for r in data.rows])
    if net.config.trainable_layers == 0:
        video = cached_frozen_features(net, data, device, progress)
        return TrainSplit(video, data.spectrograms, data.has_se, classes=classes)
    return TrainSplit(data.frames, data.spectrograms, data.has_se, video_is_frames=True, classes=classes)


def video_input(net, split: TrainSplit, chunk: torch.Tensor) -> torch.Tensor:
    """The video encoder's input for a loaded batch: trunk features of frames, or cached features."""
    if split.video_is_frames:
        return net.video.features(normalize_frames(chunk))
    return chunk.float()


def batches(n: int, batch_size: int, rng: np.random.Generator, rank: int = 0, world: int = 1):
    """Shuffled index batches; every rank gets the same number, batches of 1 are dropped (BatchNorm)."""
    per_rank = n // world
    shard = rng.permutation(n)[rank::world][:per_rank]  # the same permutation on every rank
    chunks = [shard[i : i + batch_size] for i in range(0, per_rank, batch_size)]
    return [c for c in chunks if len(c) > 1]


class _Pool:
    """Indices drawn in a shuffled order, reshuffled each time the pool runs out.

    One draw never repeats an index (at most the pool's size): after a reshuffle in the middle of
    a draw, the indices it already holds go to the end of the new order.
    """

    def __init__(self, index: np.ndarray, rng: np.random.Generator):
        self.index, self.rng, self.order = index, rng, index[:0]

    def take(self, count: int) -> np.ndarray:
        parts: list[np.ndarray] = []
        while count > 0:
            if not len(self.order):
                order = self.rng.permutation(self.index)
                held = np.isin(order, np.concatenate(parts)) if parts else np.zeros(len(order), bool)
                self.order = np.concatenate([order[~held], order[held]])
            parts.append(self.order[:count])
            self.order = self.order[len(parts[-1]) :]
            count -= len(parts[-1])
        return np.concatenate(parts) if parts else self.index[:0]


def mixed_batches(has_se: np.ndarray, batch_size: int, share: float, rng: np.random.Generator,
                  rank: int = 0, world: int = 1):
    """Batches with `round(share * batch_size)` samples without a sound effect, the rest with one.

    As many full batches per rank as the split holds (`len // world // batch_size`, at least one),
    so the number of steps per epoch does not depend on `share`. Each kind comes from its own
    shuffled pool, reshuffled when it runs out: every sample of the smaller pool is seen in turn,
    the other pool's samples repeat. Every rank draws the same global batches and takes its part.
    """
    has_se = np.asarray(has_se, bool)
    without = round(share * batch_size)
    pools = {True: np.flatnonzero(has_se), False: np.flatnonzero(~has_se)}
    need = {True: batch_size - without, False: without}
    for kind, count in need.items():
        if count * world > len(pools[kind]):
            raise TrainingError(f"no_se_share={share}: the split has {len(pools[kind])} samples "
                                f"{'with' if kind else 'without'} a sound effect, a batch needs "
                                f"{count * world}")
    draw = {kind: _Pool(index, rng) for kind, index in pools.items()}
    out = []
    for _ in range(max(len(has_se) // world // batch_size, 1)):
        parts = [draw[kind].take(need[kind] * world)[rank::world] for kind in (True, False)]
        out.append(rng.permutation(np.concatenate(parts)))
    return out
