"""What padding a short video costs the model: ACC_rank on test clips cut to 2, 4 and 6.4 s.

    .venv/bin/python bench/short_videos.py DATA CKPT [--seconds 2 4 6.4] [--split test]
        [--from-start] [--cut-sound]

The site accepts videos from VIDEO_MIN_SECONDS (1 s) and embeds one shorter than the model's
6.4 s window with its last frame held to the window's end (`decode_video(..., seconds=S)`).
Here the picture of every sample of the split with a sound effect is cut to S seconds from
`max(0, min(onset - 0.5, 6.4 - S))`, so that the effect's onset stays in the cut (S = 6.4: the
sample as it is; `--from-start`: the first S seconds), padded as the site pads it, and queries
the dictionary of the samples' whole sounds, as a short video queries a sound library whose
sounds do not depend on it. `--cut-sound` cuts each sound the same way and pads it with silence
to the window (as `sound_window` pads a short library sound). ACC_rank, R@1 and R@5 as
`manage.py evaluate` computes them, the same queries and dictionary size at every S.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval.data import decode_audio, decode_video, read_manifest  # noqa: E402
from retrieval.inference import RetrievalModel  # noqa: E402
from retrieval.metrics import gt_ranks, recall_at_k, retrieval_scores  # noqa: E402


def cut(row, seconds: float, window: float, work: Path, from_start: bool) -> tuple[Path, float]:
    """The sample's video cut to `seconds` around its effect onset, re-encoded; and where it starts."""
    onset = max(0.0, min((row.se_onset or 0.0) - 0.5, window - seconds))
    start = 0.0 if seconds >= window or from_start else onset
    out = work / f"{row.clip_id}-{seconds:g}.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-ss", f"{start:.3f}", "-i",
                    str(row.video), "-t", f"{seconds:.3f}", "-an", "-c:v", "libx264", "-crf", "18",
                    "-pix_fmt", "yuv420p", str(out)], check=True)
    return out, start


def scores(model: RetrievalModel, rows, seconds: float, work: Path, from_start: bool,
           cut_sound: bool) -> dict:
    preset = model.preset
    frames, waves = [], []
    for row in rows:
        video, start = cut(row, seconds, preset.clip_seconds, work, from_start)
        frames.append(decode_video(video, preset, seconds=min(seconds, preset.clip_seconds)))
        heard = (start, seconds) if cut_sound else (0.0, preset.clip_seconds)
        wave = decode_audio(row.audio, preset.sample_rate, seconds=heard[1], start=heard[0])
        waves.append(np.pad(wave, (0, preset.samples - len(wave)))[: preset.samples])
    video = model.embed_videos(np.stack(frames))
    audio = model.embed_sounds(np.stack(waves))
    ranks = gt_ranks(video, audio)
    return {**retrieval_scores(ranks, len(rows), ks=(5,)), "r@1": recall_at_k(ranks, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("checkpoint")
    parser.add_argument("--seconds", type=float, nargs="+", default=[2.0, 4.0, 6.4])
    parser.add_argument("--split", default="test")
    parser.add_argument("--from-start", action="store_true", help="cut the first S seconds")
    parser.add_argument("--cut-sound", action="store_true", help="cut and pad the sounds too")
    args = parser.parse_args()
    model = RetrievalModel.from_checkpoint(args.checkpoint, device="cpu")
    rows = [r for r in read_manifest(args.data) if r.split == args.split and r.has_se]
    print(f"{len(rows)} {args.split} samples with a sound effect, {Path(args.checkpoint).name}, "
          f"preset {model.preset.name}; cut {'the first S seconds' if args.from_start else 'at the onset'}, "
          f"{'sounds cut too' if args.cut_sound else 'whole sounds'}; Random: ACC_rank 0.500, "
          f"R@1 {1 / len(rows):.3f}")
    print(f"{'video':>8} {'ACC_rank':>9} {'R@1':>6} {'R@5':>6}")
    with tempfile.TemporaryDirectory() as work:
        for seconds in args.seconds:
            got = scores(model, rows, seconds, Path(work), args.from_start, args.cut_sound)
            print(f"{seconds:>6.1f} s {got['acc_rank']:>9.3f} {got['r@1']:>6.3f} {got['r@5']:>6.3f}")


if __name__ == "__main__":
    main()
