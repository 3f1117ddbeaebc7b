"""Decoding speed: our PyAV decode_video against a raw ffmpeg pipe, and a cached epoch against a decoding one.

    .venv/bin/python bench/decode.py [--repeats 7]

1. A 6.4 s, 30 fps, 640x360 H.264 clip (with sound) becomes 32 frames at the preset's size.
   Reference: `ffmpeg -i clip -vf fps=5,scale=S:S -f rawvideo -pix_fmt rgb24 -` read through a pipe
   (the imageio-ffmpeg binary), measured in the same run. Goal: ours at most 1.2x the reference.
2. One pass over a small synthetic dataset's train split: decoding every clip (video + audio +
   log-STFT) against reading the memory-mapped cache that `load_split` built.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval.data import decode_audio, decode_video, load_split, read_manifest  # noqa: E402
from retrieval.data.synth import make_dataset  # noqa: E402
from retrieval.features import log_stft  # noqa: E402
from retrieval.presets import PRESETS  # noqa: E402

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def make_clip(path: Path) -> Path:
    subprocess.run([FFMPEG, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "6.4",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)], check=True)
    return path


def ffmpeg_pipe(path: Path, size: int) -> np.ndarray:
    cmd = [FFMPEG, "-loglevel", "error", "-i", str(path), "-vf", f"fps=5,scale={size}:{size}",
           "-frames:v", "32", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, size, size, 3)


def median_time(fn, repeats: int) -> float:
    fn()  # warm up (page cache, lazy imports)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_clip(clip: Path, repeats: int) -> None:
    print(f"{'preset':8} {'size':>5} {'decode_video (PyAV)':>20} {'ffmpeg pipe':>12} {'ratio':>6}")
    for name in ("demo", "paper"):
        preset = PRESETS[name]
        ours = median_time(lambda p=preset: decode_video(clip, p), repeats)
        ref = median_time(lambda s=preset.size: ffmpeg_pipe(clip, s), repeats)
        assert decode_video(clip, preset).shape == ffmpeg_pipe(clip, preset.size).shape
        print(f"{name:8} {preset.size:>5} {ours * 1000:>17.1f} ms {ref * 1000:>9.1f} ms {ours / ref:>5.2f}x")


def decoding_epoch(rows, preset) -> float:
    total = 0.0
    for r in rows:
        frames = torch.from_numpy(decode_video(r.video, preset))
        wave = torch.from_numpy(decode_audio(r.audio, preset.sample_rate, preset.clip_seconds))
        total += float(frames.float().mean()) + float(log_stft(wave, preset.n_fft, preset.hop).mean())
    return total


def cached_epoch(dataset, preset) -> float:
    data = load_split(dataset, "train", preset, progress=False)
    total = 0.0
    for i in range(len(data)):
        total += float(torch.from_numpy(np.array(data.frames[i])).float().mean())
        total += float(torch.from_numpy(np.array(data.spectrograms[i])).mean())
    return total


def bench_epoch(root: Path, repeats: int) -> None:
    dataset = make_dataset(root / "ds", days=3, minutes_per_day=1.5, seed=0, progress=False)
    preset = PRESETS["demo"]
    rows = [r for r in read_manifest(dataset) if r.split == "train"]
    t = time.perf_counter()
    load_split(dataset, "train", preset, progress=False)
    build = time.perf_counter() - t
    decoding = median_time(lambda: decoding_epoch(rows, preset), max(1, repeats // 2))
    cached = median_time(lambda: cached_epoch(dataset, preset), repeats)
    print(f"\nepoch over {len(rows)} train clips (demo preset)")
    print(f"{'decoding epoch':24} {decoding:8.3f} s")
    print(f"{'cached epoch (memmap)':24} {cached:8.3f} s   speed-up {decoding / cached:.0f}x")
    print(f"{'building the cache once':24} {build:8.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4")
        print("6.4 s 30 fps 640x360 H.264 clip -> 32 frames (median of", args.repeats, "runs)")
        bench_clip(clip, args.repeats)
        bench_epoch(Path(tmp), args.repeats)


if __name__ == "__main__":
    main()
