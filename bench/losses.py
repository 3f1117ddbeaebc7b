"""One training step's loss (inter + intra modal with semi-hard mining, batch 256, D 64) against
pytorch-metric-learning's semi-hard triplet loss on the same embeddings.

Reference: pml TripletMarginLoss + TripletMarginMiner(type_of_triplets="semihard"), unnormalised
L2 distances, the two modalities of a sample sharing a label. Both forward and backward are timed.

    .venv/bin/python bench/losses.py [--batch 256] [--dim 64] [--repeats 30]
"""

import argparse
import sys
import time
from pathlib import Path

import torch
from pytorch_metric_learning import distances, losses, miners

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from retrieval.losses import inter_modal_loss, intra_modal_loss  # noqa: E402


def ours(video, audio, margin, generator):
    return inter_modal_loss(video, audio, margin, generator=generator) + 0.1 * intra_modal_loss(
        video, audio, margin, generator=generator
    )


def make_pml(margin):
    dist = distances.LpDistance(normalize_embeddings=False)
    loss = losses.TripletMarginLoss(margin=margin, distance=dist)
    miner = miners.TripletMarginMiner(margin=margin, type_of_triplets="semihard", distance=dist)

    def step(video, audio):
        emb = torch.cat([video, audio])
        labels = torch.arange(len(video)).repeat(2)
        return loss(emb, labels, miner(emb, labels))

    return step


def timed(fn, video, audio, repeats):
    for _ in range(3):  # warm-up
        fn(video, audio).backward()
    start = time.perf_counter()
    for _ in range(repeats):
        video.grad = audio.grad = None
        fn(video, audio).backward()
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--margin", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    video = torch.randn(args.batch, args.dim, requires_grad=True)
    audio = torch.randn(args.batch, args.dim, requires_grad=True)
    generator = torch.Generator().manual_seed(0)
    t_ours = timed(lambda v, a: ours(v, a, args.margin, generator), video, audio, args.repeats)
    t_pml = timed(make_pml(args.margin), video, audio, args.repeats)
    print(f"batch {args.batch}, D {args.dim}, margin {args.margin}, {args.threads} threads, "
          f"forward + backward, mean of {args.repeats}")
    print(f"{'loss':<52} {'ms/step':>8}")
    print(f"{'ours: inter + 0.1 intra (semi-hard, 4 anchor sets)':<52} {t_ours * 1e3:8.2f}")
    print(f"{'pytorch-metric-learning semi-hard triplet (ref.)':<52} {t_pml * 1e3:8.2f}")
    print(f"ratio ours / reference: {t_ours / t_pml:.2f} (goal: <= 1)")


if __name__ == "__main__":
    main()
