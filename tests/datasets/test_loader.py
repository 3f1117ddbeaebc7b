"""Training input through the DataLoader: the same batches and the same training with worker
processes as without, from memory-mapped and compact caches."""

import numpy as np
import pytest
import torch

from retrieval.config import default_config
from retrieval.data import load_split
from retrieval.presets import PRESETS
from retrieval.rows import RowView
from retrieval.train import TrainSplit, batches, fit, load_batches

DEMO = PRESETS["demo"]


def _batches(split, index_batches, workers, video=True):
    return [tuple(t.numpy() for t in b) for b in load_batches(split, index_batches, "cpu", workers, video)]


@pytest.mark.skip(
    reason="forked workers that decode clips hung in a full-suite run (a parent that has run ffmpeg's "
    "decoder threads before the fork); open, see docs/datasets.md"
)
def test_worker_processes_read_the_batches_of_a_compact_cache_in_order(synthetic_copy):
    data = load_split(synthetic_copy, "train", DEMO, progress=False, compact=True)
    split = TrainSplit(data.frames, data.spectrograms, data.has_se, video_is_frames=True)
    index_batches = batches(len(split), 3, np.random.default_rng(0))
    here, forked = _batches(split, index_batches, 0), _batches(split, index_batches, 2)
    assert len(here) == len(forked) == 2
    for (video, spec, labels), (v2, s2, l2), index in zip(here, forked, index_batches, strict=True):
        np.testing.assert_array_equal(video, data.frames[index])  # decoded from the clips
        np.testing.assert_array_equal(v2, video)
        assert spec.dtype == np.float32 and np.array_equal(spec, data.spectrograms[index].astype(np.float32))
        np.testing.assert_array_equal(s2, spec)
        np.testing.assert_array_equal(labels, data.has_se[index].astype(np.float32))
        np.testing.assert_array_equal(l2, labels)
    # audio pre-training reads no frames
    assert all(v.size == 0 for v, _, _ in _batches(split, index_batches, 1, video=False))


def test_a_subset_of_a_memory_mapped_split_reads_its_rows_from_the_map(synthetic_copy):
    data = load_split(synthetic_copy, "valid", DEMO, progress=False)
    split = TrainSplit(data.frames, data.spectrograms, data.has_se, video_is_frames=True)
    sub = split.subset(split.has_se)
    assert isinstance(sub.video, RowView) and sub.video.shape == (int(data.has_se.sum()), 32, 64, 64, 3)
    picked = np.flatnonzero(data.has_se)
    np.testing.assert_array_equal(sub.video[np.arange(len(sub))], data.frames[picked])
    np.testing.assert_array_equal(sub.spectrograms[1], data.spectrograms[picked[1]])


@pytest.mark.skip(reason="forked loader workers hung in full-suite runs; open, see docs/datasets.md")
@pytest.mark.parametrize("variant", ["proposed", "triplet1"])
def test_training_with_loader_workers_gives_the_same_model(tmp_path, variant):
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n = 24
    video = rng.normal(size=(n, 256, 4, 4, 4)).astype(np.float16)
    spec = rng.normal(size=(n, DEMO.freq_bins, DEMO.stft_frames)).astype(np.float32)
    np.save(tmp_path / "video.npy", video)
    np.save(tmp_path / "spec.npy", spec)
    has_se = np.arange(n) % 3 != 0
    in_memory = TrainSplit(video, spec, has_se)
    mapped = TrainSplit(
        np.load(tmp_path / "video.npy", mmap_mode="c"), np.load(tmp_path / "spec.npy", mmap_mode="c"), has_se
    )
    config = default_config(variant, "demo", epochs=2, pretrain_epochs=1, batch_size=8)
    runs = {}
    for name, split, workers in (("here", in_memory, 0), ("workers", mapped, 2)):
        out = tmp_path / f"{name}.pt"
        summary = fit(
            config, split, split, out, device="cpu", progress=False, log=lambda m: None, workers=workers
        )
        history = [{k: v for k, v in r.items() if k != "time"} for r in torch.load(out)["history"]]
        runs[name] = summary["best"], history, torch.load(out)["model"]
    (best, history, weights), (best2, history2, weights2) = runs["here"], runs["workers"]
    assert best == best2 and history == history2
    assert all(torch.equal(weights[k], weights2[k]) for k in weights)
