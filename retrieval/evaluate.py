"""Objective evaluation (the paper's Tables 1 and 2) of trained checkpoints on a dataset split."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media import is_sound_file

from .hubness import K_OCCURRENCE, cost_hubness, option_costs
from .inference import RetrievalModel
from .inputs import TrainSplit, load_train_split
from .metrics import detection_accuracy, diagonal_ranks, random_scores, recall_at_k, retrieval_scores

VARIANT_NAMES = {"triplet1": "Triplet 1", "triplet2": "Triplet 2", "proposed": "Proposed"}


def evaluate_checkpoint(path, data_dir, split: str = "test", device: str = "auto", progress: bool = True,
                        method: str | None = None, hubness_option: str = "none") -> dict:
    """Retrieval among the split's samples with a sound effect; detection over all its samples."""
    model = RetrievalModel.from_checkpoint(path, device=device)
    data = load_train_split(model.net, data_dir, split, model.preset, model.device, progress)
    if data.has_se.sum() < 2:
        raise ValueError(f"{Path(data_dir) / 'manifest.csv'}: split {split!r} has fewer than 2 samples "
                         "with a sound effect; retrieval cannot be ranked")
    row = {"method": method or f"{VARIANT_NAMES[model.variant]} ({Path(path).name})",
           "variant": model.variant, "checkpoint": str(path)}
    return {**row, **score_split(model, data, (hubness_option,))[hubness_option]}


def score_split(model: RetrievalModel, data: TrainSplit, options=("none",)) -> dict:
    """Table 1 and 2 scores and hubness of a model on a split, for each hubness option.

    The dictionary is the split's own sounds of the samples with an effect (the paper's test), and
    the split's videos with an effect are the study options' query bank; detection is over all
    samples. Returns {option: row}.
    """
    video = _embed_video(model, data)
    audio = model.embed_spectrograms(data.spectrograms)
    with_se = data.has_se.astype(bool)
    probabilities = model.detect(video, audio)
    detection = {"det_video": detection_accuracy(probabilities[0], with_se) if probabilities else None,
                 "det_audio": detection_accuracy(probabilities[1], with_se) if probabilities else None,
                 "det_n": len(with_se)}
    queries = video[with_se]
    rows = {}
    for option in options:
        costs = option_costs(queries, audio[with_se], option)
        ranks = diagonal_ranks(costs)
        # r@1: the share of videos whose top-1, the one sound a study plays, is their own
        rows[option] = {**retrieval_scores(ranks, int(with_se.sum())), "r@1": recall_at_k(ranks, 1),
                        **detection, **cost_hubness(costs), "hubness_option": option}
    return rows


@dataclass
class SoundLibrary:
    """A folder of sound files as an experiment's sound library, with a class per file."""

    folder: Path
    paths: list
    classes: np.ndarray
    _windows: dict | None = None

    def windows(self, preset) -> np.ndarray:
        """Every sound as the audio encoder's input for `preset`, decoded once."""
        from .inference import sound_window

        self._windows = self._windows or {}
        if preset.name not in self._windows:
            self._windows[preset.name] = np.stack([sound_window(p, preset) for p in self.paths])
        return self._windows[preset.name]


def read_library(folder) -> SoundLibrary:
    """Audio files under `folder`; a file's class is its sub-folder or its file-name prefix."""
    from .data.synth_sources import sfx_class

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: sound library folder does not exist")
    paths = [p for p in sorted(folder.rglob("*")) if is_sound_file(p)]
    if len(paths) < 2:
        raise ValueError(f"{folder}: a sound library needs at least 2 sound files, found {len(paths)}")
    return SoundLibrary(folder, paths, np.array([sfx_class(p, folder) for p in paths]))


def library_scores(model: RetrievalModel, data: TrainSplit, library: SoundLibrary,
                   options=("none",)) -> dict:
    """The split's videos with an effect query a separate sound library, as an experiment does.

    There is no ground-truth file, so the score is the share of queries whose top-1 sound has the
    query's effect class (`class_acc`; `class_chance` is its expectation for a random top-1), with
    the hubness of the search. When no library class is named like a query's effect class, both
    are None: the score cannot be computed. Returns {option: row}.
    """
    with_se = data.has_se.astype(bool)
    if data.classes is None:
        raise ValueError("the split has no effect classes to score a separate library against")
    queries = _embed_video(model, data)[with_se]
    query_classes = data.classes[with_se]
    sounds = model.embed_sounds(library.windows(model.preset))
    lib_share = {c: float(np.mean(library.classes == c)) for c in set(query_classes)}
    chance = float(np.mean([lib_share[c] for c in query_classes]))
    scored = chance > 0
    rows = {}
    for option in options:
        costs = option_costs(queries, sounds, option)
        hits = library.classes[np.argmin(costs, axis=1)] == query_classes
        rows[option] = {"class_acc": float(np.mean(hits)) if scored else None,
                        "class_chance": chance if scored else None, "library_n": len(library.paths),
                        "queries": int(with_se.sum()), **cost_hubness(costs), "hubness_option": option}
    return rows


def _embed_video(model: RetrievalModel, data: TrainSplit) -> np.ndarray:
    if data.video_is_frames:
        return model.embed_videos(data.video)
    return model.embed_video_features(data.video)


def random_row(n: int) -> dict:
    return {"method": "Random", "variant": "random", "checkpoint": None, **random_scores(n),
            "det_video": None, "det_audio": None, "det_n": None, "hub_share": None, "k_skewness": None}


def evaluate(checkpoints, data_dir, split="test", random=True, device="auto", progress=True,
             names=None, hubness_option: str = "none") -> list[dict]:
    names = list(names or [None] * len(checkpoints))
    pairs = zip(checkpoints, names, strict=True)
    rows = [evaluate_checkpoint(p, data_dir, split, device, progress, name, hubness_option)
            for p, name in pairs]
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
    option = next((r["hubness_option"] for r in rows if r.get("hubness_option")), "none")
    title = f"Table 1: retrieval on {n} test samples with a sound effect"
    lines = [title + ("" if option == "none" else f" (hubness option: {option})"),
             f"{'method':<{width}}  ACC_rank    R@5   R@50  R@100  hub share  k-skew"]
    for r in rows:
        hub = (" " * 17 if r["hub_share"] is None
               else f"{r['hub_share']:9.3f} {r['k_skewness']:7.2f}")
        lines.append(f"{r['method']:<{width}}  {r['acc_rank']:8.3f} {r['r@5']:6.3f} {r['r@50']:6.3f} "
                     f"{r['r@100']:6.3f}  {hub}")
    lines.append(f"hub share: share of queries whose top-1 is the most chosen sound (Random: 1/{n} "
                 f"at best); k-skew: skewness of the {K_OCCURRENCE}-occurrence")
    detected = [r for r in rows if r["det_video"] is not None]
    lines += ["", "Table 2: sound-effect detection accuracy (awareness heads, threshold 0.5)",
              f"{'method':<{width}}     video  audio"]
    for r in detected:
        lines.append(f"{r['method']:<{width}}     {r['det_video']:5.3f}  {r['det_audio']:5.3f}")
    if not detected:
        lines.append("(no model with awareness heads)")
    return "\n".join(lines)
