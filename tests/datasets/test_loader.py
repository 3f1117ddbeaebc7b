"""Training input through the DataLoader: the same batches and the same training with worker
processes as without, from memory-mapped and compact caches."""

import pickle

import numpy as np
import pytest
import torch

from retrieval.config import default_config
from retrieval.data import load_split
from retrieval.inputs import SplitBatches, TrainSplit, batches, load_batches
from retrieval.presets import PRESETS
from retrieval.rows import RowView
from retrieval.train import TIMING_KEYS, fit

DEMO = PRESETS["demo"]


def _batches(split, index_batches, workers, video=True):
    return [tuple(t.numpy() for t in b) for b in load_batches(split, index_batches, "cpu", workers, video)]


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


def test_a_memory_mapped_split_reaches_a_worker_by_its_files_not_its_bytes(synthetic_copy):
    data = load_split(synthetic_copy, "train", DEMO, progress=False)
    split = TrainSplit(data.frames, data.spectrograms, data.has_se, video_is_frames=True)
    subset = split.subset(~split.has_se)
    for sent in (split, subset):
        message = pickle.dumps(SplitBatches(sent))
        assert len(message) < 10_000 < data.frames.nbytes // 100  # paths, not the frames
        there = pickle.loads(message).split
        rows = np.arange(len(sent))
        np.testing.assert_array_equal(there.video[rows], sent.video[rows])
        np.testing.assert_array_equal(there.spectrograms[rows], sent.spectrograms[rows])
    assert isinstance(there.video, RowView) and not there.video.base.flags.writeable
    # a slice of a map is not the file: it goes as its rows
    sliced = pickle.loads(pickle.dumps(SplitBatches(TrainSplit(data.frames[1:3], data.spectrograms[1:3],
                                                               data.has_se[1:3])))).split
    np.testing.assert_array_equal(sliced.video[np.arange(2)], data.frames[1:3])


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
        history = [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in torch.load(out)["history"]]
        runs[name] = summary["best"], history, torch.load(out)["model"]
    (best, history, weights), (best2, history2, weights2) = runs["here"], runs["workers"]
    assert best == best2 and history == history2
    assert all(torch.equal(weights[k], weights2[k]) for k in weights)


@pytest.mark.redis
@pytest.mark.timeout(120)
def test_loader_workers_start_in_a_process_that_has_asked_the_broker():
    # Forked from such a process, each worker ran kombu's after-fork hook, which closed the
    # inherited Redis connection by waiting for the reply to the parent's pending BRPOP: the
    # workers and the parent hung (the suite's training tests did, after its worker tests).
    from evalsite.celery import app

    app.control.inspect(timeout=0.2).query_task(["no-such-task"])
    rng = np.random.default_rng(1)
    split = TrainSplit(rng.normal(size=(8, 4)).astype(np.float32),
                       rng.normal(size=(8, DEMO.freq_bins, 5)).astype(np.float32), np.arange(8) % 2 == 0)
    index_batches = batches(len(split), 3, rng)
    here, workers = _batches(split, index_batches, 0), _batches(split, index_batches, 2)
    assert len(workers) == len(index_batches) == 3
    for ours, theirs in zip(here, workers, strict=True):
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)
