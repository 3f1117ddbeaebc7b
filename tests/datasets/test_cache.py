"""load_split: memory-mapped frames and spectrograms, cached once, rebuilt on change, built once."""

import multiprocessing
import os

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from retrieval.data import DatasetError, MediaError, decode_audio, decode_video, load_split, read_manifest
from retrieval.data.cache import ClipFrames
from retrieval.features import log_stft
from retrieval.presets import PRESETS

DEMO = PRESETS["demo"]


def test_it_caches_frames_and_spectrograms_as_memmaps(synthetic_copy):
    data = load_split(synthetic_copy, "train", DEMO, progress=False)
    rows = [r for r in read_manifest(synthetic_copy) if r.split == "train"]
    assert [r.clip_id for r in data.rows] == [r.clip_id for r in rows] and len(data) == 7
    assert data.frames.shape == (7, 32, 64, 64, 3) and data.frames.dtype == np.uint8
    assert data.spectrograms.shape == (7, 257, 401) and data.spectrograms.dtype == np.float32
    assert isinstance(data.frames, np.memmap) and isinstance(data.spectrograms, np.memmap)
    assert data.has_se.tolist() == [r.has_se for r in rows]
    assert data.path.parent == synthetic_copy / ".cache" / "demo"
    np.testing.assert_array_equal(data.frames[3], decode_video(rows[3].video, DEMO))
    wave = torch.from_numpy(decode_audio(rows[3].audio, 16_000, seconds=6.4))
    np.testing.assert_allclose(data.spectrograms[3], log_stft(wave, 512, 256).numpy(), atol=1e-4)


def test_it_reuses_the_cache_until_a_source_changes(synthetic_copy):
    first = load_split(synthetic_copy, "valid", DEMO, progress=False)
    inode = os.stat(first.path / "frames.npy").st_ino
    again = load_split(synthetic_copy, "valid", DEMO, progress=False)
    assert again.path == first.path and os.stat(again.path / "frames.npy").st_ino == inode
    old = np.array(first.spectrograms[2])
    # replace one sample's sound by silence: a new key, a rebuilt cache, the old one removed
    wavfile.write(again.rows[2].audio, 48_000, np.zeros(307_200, np.int16))
    rebuilt = load_split(synthetic_copy, "valid", DEMO, progress=False)
    assert rebuilt.path != first.path and not first.path.exists()
    assert np.allclose(rebuilt.spectrograms[2], np.log(1e-6))
    assert not np.allclose(old, rebuilt.spectrograms[2])
    np.testing.assert_array_equal(rebuilt.spectrograms[1], first.spectrograms[1])


def _load_in_child(dataset, queue):
    torch.set_num_threads(1)
    data = load_split(dataset, "test", DEMO, progress=False)
    queue.put((str(data.path), os.stat(data.path / "frames.npy").st_ino, float(data.frames.mean())))


@pytest.mark.slow
def test_it_builds_once_when_two_processes_ask_at_once(synthetic_copy):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_load_in_child, args=(synthetic_copy, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    # both map the one folder the first built (a second build would have replaced it: a new inode)
    assert results[0] == results[1]
    cache = synthetic_copy / ".cache" / "demo"
    assert sorted(p.name for p in cache.iterdir() if p.is_dir()) == [os.path.basename(results[0][0])]


def test_it_names_an_empty_split(synthetic_copy):
    manifest = synthetic_copy / "manifest.csv"
    manifest.write_text(manifest.read_text().replace(",valid,", ",train,"))
    with pytest.raises(DatasetError, match=r"manifest\.csv: split 'valid' has no samples"):
        load_split(synthetic_copy, "valid", DEMO, progress=False)


def test_it_leaves_no_cache_behind_when_a_clip_is_bad(synthetic_copy):
    bad = [r for r in read_manifest(synthetic_copy) if r.split == "test"][4]
    bad.video.write_bytes(b"not a video any more")
    with pytest.raises(MediaError, match=f"{bad.video.name}: not a readable media file"):
        load_split(synthetic_copy, "test", DEMO, progress=False)
    assert [p.name for p in (synthetic_copy / ".cache" / "demo").iterdir()] == ["test.lock"]


def test_the_compact_cache_keeps_float16_spectrograms_and_decodes_frames_from_the_clips(synthetic_copy):
    full = load_split(synthetic_copy, "train", DEMO, progress=False)
    compact = load_split(synthetic_copy, "train", DEMO, progress=False, compact=True)
    # side by side: building one does not remove the other
    assert compact.path.parent == synthetic_copy / ".cache" / "demo-compact"
    assert (full.path / "meta.json").is_file()
    assert not (compact.path / "frames.npy").exists()
    assert compact.spectrograms.dtype == np.float16 and compact.spectrograms.shape == full.spectrograms.shape
    np.testing.assert_allclose(compact.spectrograms, full.spectrograms, rtol=1e-3, atol=1e-3)
    assert isinstance(compact.frames, ClipFrames)
    assert compact.frames.shape == full.frames.shape and len(compact.frames) == 7
    np.testing.assert_array_equal(compact.frames[3], full.frames[3])
    np.testing.assert_array_equal(compact.frames[np.array([5, 1])], full.frames[[5, 1]])
    np.testing.assert_array_equal(compact.frames[2:4], full.frames[2:4])
    assert compact.has_se.tolist() == full.has_se.tolist()

    def size(folder):
        return sum(p.stat().st_size for p in folder.iterdir())

    # demo preset: frames 393 KB and float32 spectrograms 412 KB a clip, against 206 KB
    assert size(compact.path) < 0.3 * size(full.path)
    again = load_split(synthetic_copy, "train", DEMO, progress=False, compact=True)
    assert again.path == compact.path
