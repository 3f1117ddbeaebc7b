"""Training throughput in clips per second.

demo preset (CPU): one joint-training epoch of `proposed` on cached frozen-trunk features, against
the reference of the same epoch recomputing the frozen trunk from frames in every batch (what
training would cost without the feature cache); plus the one-time feature extraction.
paper preset (only where CUDA is present, or with --paper): training steps with the upper 3 trunk
layers trained on 224x224x32 frames.

--loader: the DataLoader (retrieval.inputs.load_batches) over a generated dataset's train split,
with 0, 1 and 2 worker processes: batches read alone (no model), from the cached frozen-trunk
features in memory (the cached-feature path: the reference), from the memory-mapped full cache
(frames) and from the compact cache (frames decoded from the clips), for the demo and paper
presets; then joint epochs that run the frozen trunk on frames from the compact cache.

    .venv/bin/python bench/train.py [--clips 64] [--paper] [--loader] [--loader-minutes 2]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from retrieval.config import default_config  # noqa: E402
from retrieval.epochs import train_one_epoch  # noqa: E402
from retrieval.features import normalize_frames  # noqa: E402
from retrieval.inference import build_net  # noqa: E402
from retrieval.inputs import TrainSplit, batches, frozen_features, load_batches  # noqa: E402
from retrieval.losses import CrossModalLoss  # noqa: E402
from retrieval.presets import get_preset  # noqa: E402
from retrieval.rows import RowView  # noqa: E402

WORKERS = (0, 1, 2)


def fake_split(preset, n, rng, frames: bool, net=None, device="cpu"):
    raw = rng.integers(0, 256, (n, preset.frames, preset.size, preset.size, 3), dtype=np.uint8)
    specs = rng.normal(size=(n, preset.freq_bins, preset.stft_frames)).astype(np.float32)
    has_se = np.arange(n) % 2 == 0
    if frames:
        return TrainSplit(raw, specs, has_se, video_is_frames=True), raw
    return TrainSplit(frozen_features(net, raw, device, progress=False), specs, has_se), raw


def epoch_rate(config, net, split, device, workers=0) -> float:
    optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=config.lr)
    criterion = CrossModalLoss(generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    train_one_epoch(net, net, split, optimizer, criterion, config, 0, device, progress=False, workers=workers)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(split) / (time.perf_counter() - start)


def bench_demo(clips, device):
    preset, config = get_preset("demo"), default_config("proposed", "demo")
    net = build_net(config, preset).to(device)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    cached, raw = fake_split(preset, clips, rng, frames=False, net=net, device=device)
    extract = clips / (time.perf_counter() - start)
    uncached = TrainSplit(raw, cached.spectrograms, cached.has_se, video_is_frames=True)
    return [("demo: trunk feature extraction (once)", extract, None),
            ("demo: joint epoch, cached features", epoch_rate(config, net, cached, device), "ours"),
            ("demo: joint epoch, trunk per batch (ref.)", epoch_rate(config, net, uncached, device), "ref")]


def bench_paper(clips, device, batch):
    preset = get_preset("paper")
    config = default_config("proposed", "paper", batch_size=batch)
    net = build_net(config, preset).to(device)
    split, _ = fake_split(preset, clips, np.random.default_rng(0), frames=True)
    return [(f"paper: joint epoch, 3 trunk layers trained, batch {batch}",
             epoch_rate(config, net, split, device), None)]


def embed_rates(name, device, n=64, batch=32):
    """Inference clips/s of the audio encoder (a library's sounds) and the whole video encoder
    (a study's videos), from spectrograms and frames already in memory: what a gpu worker does
    per sound and per video beyond decoding them."""
    preset, config = get_preset(name), default_config("proposed", name)
    net = build_net(config, preset).to(device).eval()
    rng = np.random.default_rng(0)
    spec = torch.from_numpy(rng.normal(size=(n, preset.freq_bins, preset.stft_frames)).astype(np.float32))
    frames = rng.integers(0, 256, (min(n, 16), preset.frames, preset.size, preset.size, 3), dtype=np.uint8)
    def sounds(i):
        return net.audio(spec[i].to(device))

    def videos(i):
        return net.video(normalize_frames(torch.from_numpy(frames[i]).to(device)))

    rows = []
    with torch.inference_mode():
        for label, fn, total in ((f"{name}: embedding sounds (audio encoder)", sounds, n),
                                 (f"{name}: embedding videos (trunk + head)", videos, len(frames))):
            start = time.perf_counter()
            for i in range(0, total, batch):
                fn(slice(i, i + batch))
            if device.type == "cuda":
                torch.cuda.synchronize()
            rows.append((label, total / (time.perf_counter() - start), None))
    return rows


def cycled(split, n):
    """`split` read as an epoch of `n` rows (its clips over and over), so that a worker's start-up
    is spread over enough batches to show the steady rate."""
    index = np.arange(n) % len(split)
    return TrainSplit(RowView(split.video, index), RowView(split.spectrograms, index), split.has_se[index],
                      split.video_is_frames)


def loader_rate(split, device, workers, batch=8) -> tuple[float, float]:
    """(clips/s over one epoch of shuffled batches, seconds to the first batch), no model."""
    index_batches = batches(len(split), batch, np.random.default_rng(0))
    start, clips, first = time.perf_counter(), 0, None
    for *_, labels in load_batches(split, index_batches, device, workers):
        first = time.perf_counter() - start if first is None else first
        clips += len(labels)
    return clips / (time.perf_counter() - start), first or 0.0


def bench_loader(minutes, device, rows_per_epoch):
    from retrieval.data import load_split
    from retrieval.data.synth import make_dataset

    rows = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        dataset = make_dataset(Path(tmp) / "ds", days=3, minutes_per_day=minutes, seed=0, progress=False,
                               log=lambda *a: None)
        for name in ("demo", "paper"):
            preset = get_preset(name)
            full = load_split(dataset, "train", preset, progress=False)
            compact = load_split(dataset, "train", preset, progress=False, compact=True)
            sources = {
                "full cache, frames memmap": (TrainSplit(full.frames, full.spectrograms, full.has_se, True),
                                              rows_per_epoch),
                "compact cache, frames from clips": (TrainSplit(compact.frames, compact.spectrograms,
                                                                compact.has_se, True), rows_per_epoch // 4),
            }
            if name == "demo":
                config = default_config("proposed", "demo")
                net = build_net(config, preset).to(device)
                feats = frozen_features(net, full.frames, device, progress=False)
                ref = TrainSplit(feats, np.array(full.spectrograms), full.has_se)
                sources = {"cached features in memory (ref.)": (ref, rows_per_epoch), **sources}
            for label, (split, n) in sources.items():
                for workers in WORKERS:
                    kind = "ref" if "(ref.)" in label and workers == 0 else None
                    rate, first = loader_rate(cycled(split, n), device, workers)
                    rows.append((f"{name}: read {label}, {workers} workers", rate, first, kind))
            if name == "demo":
                split = sources["compact cache, frames from clips"][0]
                for workers in WORKERS:
                    rate = epoch_rate(config, net, split, device, workers)
                    label = f"demo: joint epoch, trunk on frames from clips, {workers} workers"
                    rows.append((label, rate, None, None))
        clips = len(full)
    return clips, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--paper", action="store_true", help="also the paper preset without a GPU (slow)")
    parser.add_argument("--paper-batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--embed", action="store_true", help="also inference rates (library and videos)")
    parser.add_argument("--loader", action="store_true", help="also the DataLoader with 0/1/2 workers")
    parser.add_argument("--loader-minutes", type=float, default=2.0,
                        help="minutes of recording a day of the generated dataset (3 days)")
    parser.add_argument("--loader-rows", type=int, default=512, help="rows per measured epoch")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rows = bench_demo(args.clips, device)
    if device.type == "cuda" or args.paper:
        rows += bench_paper(args.clips, device, args.paper_batch)
    if args.embed:
        rows += embed_rates("demo", device) + embed_rates("paper", device, n=16)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {args.threads} threads"
    print(f"{args.clips} synthetic clips on {name}, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'measurement':<58} {'clips/s':>8}")
    for label, rate, _ in rows:
        print(f"{label:<58} {rate:8.1f}")
    ours = next(r for _, r, k in rows if k == "ours")
    ref = next(r for _, r, k in rows if k == "ref")
    print(f"speed-up of the feature cache (cached / trunk per batch): {ours / ref:.1f}x")
    if args.loader:
        clips, rows = bench_loader(args.loader_minutes, device, args.loader_rows)
        print(f"\nDataLoader over {clips} train clips read as epochs of {args.loader_rows} rows "
              f"({args.loader_rows // 4} decoding from clips), batches of 8; "
              f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"{'measurement':<64} {'clips/s':>8} {'1st batch s':>11} {'vs ref':>7}")
        ref = next(r for _, r, _, k in rows if k == "ref")
        for label, rate, first, _ in rows:
            shown = "" if first is None else f"{first:.2f}"
            print(f"{label:<64} {rate:8.1f} {shown:>11} {rate / ref:6.3f}x")


if __name__ == "__main__":
    main()
