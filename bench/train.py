"""Training throughput in clips per second.

demo preset (CPU): one joint-training epoch of `proposed` on cached frozen-trunk features, against
the reference of the same epoch recomputing the frozen trunk from frames in every batch (what
training would cost without the feature cache); plus the one-time feature extraction.
paper preset (only where CUDA is present, or with --paper): training steps with the upper 3 trunk
layers trained on 224x224x32 frames.

    .venv/bin/python bench/train.py [--clips 64] [--paper]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from retrieval.config import default_config  # noqa: E402
from retrieval.inference import build_net  # noqa: E402
from retrieval.losses import CrossModalLoss  # noqa: E402
from retrieval.presets import get_preset  # noqa: E402
from retrieval.train import TrainSplit, frozen_features, train_one_epoch  # noqa: E402


def fake_split(preset, n, rng, frames: bool, net=None, device="cpu"):
    raw = rng.integers(0, 256, (n, preset.frames, preset.size, preset.size, 3), dtype=np.uint8)
    specs = rng.normal(size=(n, preset.freq_bins, preset.stft_frames)).astype(np.float32)
    has_se = np.arange(n) % 2 == 0
    if frames:
        return TrainSplit(raw, specs, has_se, video_is_frames=True), raw
    return TrainSplit(frozen_features(net, raw, device, progress=False), specs, has_se), raw


def epoch_rate(config, net, split, device) -> float:
    optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=config.lr)
    criterion = CrossModalLoss(generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    train_one_epoch(net, net, split, optimizer, criterion, config, 0, device, progress=False)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--paper", action="store_true", help="also the paper preset without a GPU (slow)")
    parser.add_argument("--paper-batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rows = bench_demo(args.clips, device)
    if device.type == "cuda" or args.paper:
        rows += bench_paper(args.clips, device, args.paper_batch)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {args.threads} threads"
    print(f"{args.clips} synthetic clips on {name}")
    print(f"{'measurement':<58} {'clips/s':>8}")
    for label, rate, _ in rows:
        print(f"{label:<58} {rate:8.1f}")
    ours = next(r for _, r, k in rows if k == "ours")
    ref = next(r for _, r, k in rows if k == "ref")
    print(f"speed-up of the feature cache (cached / trunk per batch): {ours / ref:.1f}x")


if __name__ == "__main__":
    main()
