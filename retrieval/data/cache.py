"""Preprocessed splits cached as memory-mapped arrays, so epochs after the first never decode.

Layout: `<dataset>/.cache/<preset>/<split>-<key>/{frames,spectrograms,has_se}.npy` where `key`
hashes the preset, the split's manifest rows and each source file's size and mtime: editing or
replacing a clip gives a new key, hence a rebuild. A build goes to a temporary folder that is
renamed into place when complete, under an exclusive `fcntl` lock, so two processes never build
the same split at once (the second waits, then maps what the first built).

The paper preset's frames take 4.8 MB a clip (32 x 224 x 224 x 3 bytes) and its spectrograms
1.2 MB: 60 GB for 10,000 clips. The compact cache (`compact=True`, `<preset>-compact/`) keeps
the spectrograms as float16 (0.6 MB a clip, within 0.4% of the float32 values) and no frames:
`SplitData.frames` is then a `ClipFrames`, which decodes a clip's frames from the sample MP4
(already in the dataset) when they are read, the same frames the full cache stores. A loader with
worker processes (retrieval.inputs, `train --workers`) does that decoding beside the training step.
"""

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from media import decode_audio

from ..features import log_stft
from .decode import decode_video
from .errors import DatasetError
from .manifest import ManifestRow, read_manifest

CACHE_VERSION = 1
STFT_BATCH = 64


class ClipFrames:
    """A split's frames decoded from its sample clips when read: `frames[i]`, `frames[a:b]` or
    `frames[index_array]` give uint8 [..., T, S, S, 3] like the full cache's memmap."""

    dtype = np.dtype(np.uint8)
    ndim = 5

    def __init__(self, videos: list[Path], preset):
        self.videos, self.preset = list(videos), preset

    def __len__(self) -> int:
        return len(self.videos)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), self.preset.frames, self.preset.size, self.preset.size, 3)

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            return decode_video(self.videos[index], self.preset)
        picked = range(len(self))[index] if isinstance(index, slice) else np.asarray(index).reshape(-1)
        out = np.empty((len(picked), *self.shape[1:]), np.uint8)
        for k, i in enumerate(picked):
            out[k] = decode_video(self.videos[int(i)], self.preset)
        return out


@dataclass
class SplitData:
    rows: list[ManifestRow]
    frames: np.ndarray | ClipFrames  # uint8 [N, T, S, S, 3]: memmap, or decoded on reading (compact)
    spectrograms: np.ndarray  # [N, F, T'] memmap: float32, float16 in the compact cache
    has_se: np.ndarray  # bool [N]
    path: Path  # the cache folder

    def __len__(self) -> int:
        return len(self.rows)


def load_split(dataset_dir, split: str, preset, progress: bool = True, compact: bool = False) -> SplitData:
    """The split's cache, built if missing or stale; `compact`: float16 spectrograms, no frames."""
    root = Path(dataset_dir).resolve()
    rows = [r for r in read_manifest(root) if r.split == split]
    if not rows:
        raise DatasetError(f"{root / 'manifest.csv'}: split {split!r} has no samples")
    base = root / ".cache" / (f"{preset.name}-compact" if compact else preset.name)
    base.mkdir(parents=True, exist_ok=True)
    final = base / f"{split}-{cache_key(root, rows, preset, compact)}"
    if not (final / "meta.json").is_file():
        with _locked(base / f"{split}.lock"):
            if not (final / "meta.json").is_file():  # another process may have built it meanwhile
                _remove_stale(base, split, keep=None)
                _build(final, rows, preset, progress, f"{split} ({base.name})", compact)
                _remove_stale(base, split, keep=final)
    return _open(final, rows, preset)


def cache_key(root: Path, rows: list[ManifestRow], preset, compact: bool = False) -> str:
    h = hashlib.sha256(json.dumps([CACHE_VERSION, preset.to_dict(), *(["compact"] * compact)]).encode())
    for r in rows:
        h.update(f"{r.clip_id}|{r.has_se}".encode())
        for path in (r.video, r.audio):
            st = path.stat()
            h.update(f"|{path.relative_to(root) if path.is_relative_to(root) else path}|{st.st_size}"
                     f"|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


@contextmanager
def _locked(path: Path):
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _build(final: Path, rows: list[ManifestRow], preset, progress: bool, label: str,
           compact: bool = False) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is shared like the dataset
    try:
        n, s = len(rows), preset.size
        frames = None
        if not compact:
            frames = np.lib.format.open_memmap(tmp / "frames.npy", "w+", np.uint8,
                                               (n, preset.frames, s, s, 3))
        dtype = np.float16 if compact else np.float32
        specs = np.lib.format.open_memmap(tmp / "spectrograms.npy", "w+", dtype,
                                          (n, preset.freq_bins, preset.stft_frames))
        waves = np.empty((min(n, STFT_BATCH), preset.samples), np.float32)
        for i, row in enumerate(tqdm(rows, desc=f"caching {label}", unit="clip", disable=not progress)):
            if frames is not None:
                frames[i] = decode_video(row.video, preset)
            waves[i % STFT_BATCH] = decode_audio(row.audio, preset.sample_rate, preset.clip_seconds)
            if i % STFT_BATCH == STFT_BATCH - 1 or i == n - 1:
                first = i - i % STFT_BATCH
                batch = torch.from_numpy(waves[: i - first + 1])
                specs[first : i + 1] = log_stft(batch, preset.n_fft, preset.hop).numpy()
        for array in (frames, specs):
            if array is not None:
                array.flush()
        del frames, specs
        np.save(tmp / "has_se.npy", np.array([r.has_se for r in rows], bool))
        meta = {"version": CACHE_VERSION, "preset": preset.to_dict(), "compact": compact,
                "clips": [r.clip_id for r in rows]}
        # meta.json last: its presence marks a complete cache
        (tmp / "meta.json").write_text(json.dumps(meta))
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove_stale(base: Path, split: str, keep: Path | None) -> None:
    # Under the lock: other builds of this split, and leftovers of a killed one, are garbage.
    # Processes that still map an old cache keep their data (unlinking does not unmap).
    for old in [*base.glob(f"{split}-*"), *base.glob(f".tmp-{split}-*")]:
        if old != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def _open(folder: Path, rows: list[ManifestRow], preset) -> SplitData:
    # copy-on-write maps: callers may write (torch wants writable arrays), the cache stays intact
    stored = folder / "frames.npy"
    frames: np.ndarray | ClipFrames = ClipFrames([r.video for r in rows], preset)
    if stored.is_file():
        frames = np.load(stored, mmap_mode="c")
    return SplitData(
        rows=rows,
        frames=frames,
        spectrograms=np.load(folder / "spectrograms.npy", mmap_mode="c"),
        has_se=np.load(folder / "has_se.npy"),
        path=folder,
    )
