"""Objective evaluation (the paper's Tables 1 and 2) of trained checkpoints on a dataset split."""

from pathlib import Path

import numpy as np

from .inference import RetrievalModel
from .metrics import detection_accuracy, gt_ranks, random_scores, retrieval_scores
from .train import TrainSplit, load_train_split

VARIANT_NAMES = {"triplet1": "Triplet 1", "triplet2": "Triplet 2", "proposed": "Proposed"}


def evaluate_checkpoint(path, data_dir, split: str = "test", device: str = "auto", progress: bool = True,
                        method: str | None = None) -> dict:
    """Retrieval among the split's samples with a sound effect; detection over all its samples."""
    model = RetrievalModel.from_checkpoint(path, device=device)
    data = load_train_split(model.net, data_dir, split, model.preset, model.device, progress)
    video = _embed_video(model, data)
    audio = model.embed_spectrograms(data.spectrograms)
    with_se = data.has_se.astype(bool)
    if with_se.sum() < 2:
        raise ValueError(f"{Path(data_dir) / 'manifest.csv'}: split {split!r} has fewer than 2 samples "
                         "with a sound effect; retrieval cannot be ranked")
    row = {"method": method or f"{VARIANT_NAMES[model.variant]} ({Path(path).name})",
           "variant": model.variant, "checkpoint": str(path),
           **retrieval_scores(gt_ranks(video[with_se], audio[with_se]), int(with_se.sum()))}
    probabilities = model.detect(video, audio)
    row["det_video"] = detection_accuracy(probabilities[0], with_se) if probabilities else None
    row["det_audio"] = detection_accuracy(probabilities[1], with_se) if probabilities else None
    row["det_n"] = len(with_se)
    return row


def _embed_video(model: RetrievalModel, data: TrainSplit) -> np.ndarray:
    if data.video_is_frames:
        return model.embed_videos(data.video)
    return model.embed_video_features(data.video)


def random_row(n: int) -> dict:
    return {"method": "Random", "variant": "random", "checkpoint": None, **random_scores(n),
            "det_video": None, "det_audio": None, "det_n": None}


def evaluate(checkpoints, data_dir, split="test", random=True, device="auto", progress=True,
             names=None) -> list[dict]:
    names = list(names or [None] * len(checkpoints))
    pairs = zip(checkpoints, names, strict=True)
    rows = [evaluate_checkpoint(p, data_dir, split, device, progress, name) for p, name in pairs]
    if random:
        n = rows[0]["n"] if rows else _count_with_se(data_dir, split)
        rows.insert(0, random_row(n))
    return rows


def _count_with_se(data_dir, split) -> int:
    from .data.manifest import read_manifest

    return sum(1 for r in read_manifest(data_dir) if r.split == split and r.has_se)


def format_tables(rows: list[dict]) -> str:
    """Table 1 (retrieval) and Table 2 (sound-effect detection) as plain text."""
    width = max([len(r["method"]) for r in rows] + [6])
    n = rows[0]["n"] if rows else 0
    lines = [f"Table 1: retrieval on {n} test samples with a sound effect",
             f"{'method':<{width}}  ACC_rank    R@5   R@50  R@100"]
    for r in rows:
        lines.append(f"{r['method']:<{width}}  {r['acc_rank']:8.3f} {r['r@5']:6.3f} {r['r@50']:6.3f} "
                     f"{r['r@100']:6.3f}")
    detected = [r for r in rows if r["det_video"] is not None]
    lines += ["", "Table 2: sound-effect detection accuracy (awareness heads, threshold 0.5)",
              f"{'method':<{width}}     video  audio"]
    for r in detected:
        lines.append(f"{r['method']:<{width}}     {r['det_video']:5.3f}  {r['det_audio']:5.3f}")
    if not detected:
        lines.append("(no model with awareness heads)")
    return "\n".join(lines)
