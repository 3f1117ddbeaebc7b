"""A synthetic TV-like benchmark: renders each day's recording and writes the dataset (`make_dataset`).

Each "day" is one long recording made of shots: a presenter talking (espeak-ng speech, the mouth
moving with it), music over a panning camera, street ambience. Into about half of the 6.4 s slots
goes a target co-occurrence: a short sound effect (0.3-3 s) starting with a visual effect of its
class, often quieter than the speech or music around it. The recordings and an annotation file of
the effects are then cut by `segment` like a user's own recordings; whole days go to train, valid
and test. With `sfx_dir`, the sound effects are real recordings (class = sub-folder or file-name
prefix) and each class is given its own visual effect.

`Difficulty` makes the paper's problem harder in the ways its premise names, each setting off by
default (today's generator): visual effects with no sound, effect sounds with nothing on screen,
and effects buried deeper in the speech and music. See docs/datasets.md (Difficulty).

What a day holds is planned in `synth_plan`, its sounds come from `synth_sources` and
`synth_audio`, its pictures from `synth_video`.
"""

import csv
import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..speech import espeak_available
from . import synth_audio as sa
from .errors import DatasetError
from .manifest import read_manifest
from .segment import _publish, segment
from .synth_plan import (
    SLOT,
    Difficulty,
    Distractor,
    PlannedEffect,
    background_audio,
    mix_effects,
    mouth_envelope,
    plan_distractors,
    plan_effects,
    plan_shots,
)
from .synth_sources import SAMPLE_RATE, FolderBank, SynthBank, recorded_speech
from .synth_video import (
    FPS,
    HEIGHT,
    KINDS,
    PALETTE,
    WIDTH,
    AmbienceScene,
    Effect,
    MusicScene,
    TalkScene,
    landscape,
)
from .writers import Mp4Writer

__all__ = ["SAMPLE_RATE", "SLOT", "Difficulty", "make_dataset"]


@dataclass
class Day:
    """What render_day planted, with the level of each sound (dB against the sound around it)."""

    effects: list[PlannedEffect]
    effect_db: list[float]
    distractors: list[Distractor]
    distractor_db: dict[int, float]  # index in `distractors` -> level, for the acoustic ones


def render_day(path: Path, rng, slots: int, bank, speech, texture, held_out: bool = False,
               difficulty: Difficulty = Difficulty(), distractor_rng=None) -> Day:
    total = slots * SLOT
    shots = plan_shots(rng, total)
    effects = plan_effects(rng, slots, bank, held_out)
    distractors = (plan_distractors(distractor_rng, slots, {int(e.onset // SLOT) for e in effects}, bank,
                                    difficulty, held_out) if difficulty.any_distractors else [])
    mix, voice = background_audio(rng, shots, total, speech)
    effect_db = mix_effects(mix, effects, rng, difficulty.snr_db)
    heard = [k for k, d in enumerate(distractors) if d.kind == "acoustic"]
    distractor_db = dict(zip(heard, mix_effects(mix, [distractors[k] for k in heard], distractor_rng,
                                                difficulty.snr_db), strict=True))
    peak = np.abs(mix).max()
    if peak > 0.98:
        mix *= 0.98 / peak
    envelope = mouth_envelope(voice)
    scenes = [_scene(kind, rng, start, envelope, texture) for start, _, kind in shots]
    shown: list[tuple[float, float, Effect]] = [(e.onset, e.end, e.visual) for e in effects]
    shown += [(d.onset, d.end, d.visual) for d in distractors if d.visual is not None]
    path.parent.mkdir(parents=True, exist_ok=True)
    with Mp4Writer(path, WIDTH, HEIGHT, FPS, SAMPLE_RATE) as writer:
        shot = 0
        for f in range(round(total * FPS)):
            t = f / FPS
            while shots[shot][1] <= t + 1e-9:
                shot += 1
            img = scenes[shot].frame(t)
            for onset, end, visual in shown:
                if onset - 1e-6 <= t < end:
                    img = visual.apply(img, t - onset)
            writer.add_frame((np.clip(img, 0, 1) * 255).astype(np.uint8))
        writer.set_audio(mix)
    return Day(effects, effect_db, distractors, distractor_db)


def _scene(kind, rng, start, envelope, texture):
    if kind == "talk":
        return TalkScene(rng, envelope)
    return MusicScene(rng, texture, start) if kind == "music" else AmbienceScene(rng, start)


def make_dataset(out_dir, days: int = 6, minutes_per_day: float = 4.0, seed: int = 0, sfx_dir=None,
                 progress: bool = True, overwrite: bool = False, log=print, valid_days: int | None = None,
                 test_days: int | None = None, sfx_split: str = "recording", speech_dir=None,
                 visual_distractors: float = 0.0, acoustic_distractors: float = 0.0,
                 burial_db: float = 0.0) -> Path:
    """Renders `days` recordings, annotates them, cuts them with `segment`; returns the dataset folder.

    The last `test_days` days go to test and the `valid_days` before them to valid (default: one
    day in six each); a large test dictionary comes from many test days, not longer ones. With
    `sfx_dir`, `sfx_split="recording"` keeps the recordings of valid and test days apart from the
    training days' (see FolderBank); "shared" lets every day draw from all of them. With
    `speech_dir` the presenter speaks recorded utterances from that folder (`recorded_speech`)
    instead of espeak-ng's.

    `visual_distractors`, `acoustic_distractors` and `burial_db` make it harder (`Difficulty`); at
    their defaults (0) the dataset is the one this function made before they existed. Every planted
    sound and picture, distractors included, is listed in `planted.csv` (recording, start, end,
    class, kind = target / visual / acoustic, level_db against the sound around it).
    """
    out = Path(out_dir).resolve()
    slots = int(minutes_per_day * 60 // SLOT)
    valid_days, test_days = _held_days(days, valid_days, test_days)
    if slots < 2:
        raise DatasetError(f"minutes_per_day must give at least 2 samples of {SLOT} s, got {minutes_per_day}")
    if out.exists() and not overwrite:
        raise DatasetError(f"{out}: already exists (choose another folder, or --overwrite to replace it)")
    if sfx_split not in ("recording", "shared"):
        raise DatasetError(f"sfx_split must be 'recording' or 'shared', got {sfx_split!r}")
    difficulty = Difficulty(visual_distractors, acoustic_distractors, burial_db)
    bank = FolderBank(sfx_dir, sfx_split == "recording", log) if sfx_dir else SynthBank()
    speech_rng = np.random.default_rng([seed, 10_000])
    speech = (recorded_speech(speech_dir, speech_rng, log) if speech_dir
              else sa.speech_pool(speech_rng, SAMPLE_RATE, log=log))
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(out, log)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.make-", dir=out.parent))
    (tmp / "pid").write_text(str(os.getpid()))
    train_days = days - valid_days - test_days
    try:
        annotations, planted = tmp / "annotations.csv", Counter[str]()
        with open(annotations, "w", newline="") as f, open(tmp / "planted.csv", "w", newline="") as g:
            writer, plan = csv.writer(f), csv.writer(g)
            writer.writerow(["recording", "start", "end", "class"])
            plan.writerow(["recording", "start", "end", "class", "kind", "level_db"])
            for day in tqdm(range(1, days + 1), desc="rendering days", unit="day", disable=not progress):
                rng = np.random.default_rng([seed, day])
                rec = f"day-{day:02d}/broadcast.mp4"
                # the distractors' own stream: the targets and background stay as they are
                done = render_day(tmp / "recordings" / rec, rng, slots, bank, speech, landscape(rng),
                                  held_out=day > train_days, difficulty=difficulty,
                                  distractor_rng=np.random.default_rng([seed, day, 1]))
                rows = [(e.onset, e.end, e.cls, "target", f"{db:.2f}")
                        for e, db in zip(done.effects, done.effect_db, strict=True)]
                rows += [(d.onset, d.end, d.cls, d.kind,
                          f"{done.distractor_db[k]:.2f}" if k in done.distractor_db else "")
                         for k, d in enumerate(done.distractors)]
                for start, end, cls, kind, db in sorted(rows):
                    plan.writerow([rec, f"{start:.3f}", f"{end:.3f}", cls, kind, db])
                    planted[kind] += 1
                for e in done.effects:
                    writer.writerow([rec, f"{e.onset:.3f}", f"{e.end:.3f}", e.cls])
        segment(tmp / "recordings", annotations, tmp / "dataset", valid_sources=valid_days,
                test_sources=test_days,
                sample_rate=SAMPLE_RATE, progress=progress)
        labelled = sum(r.has_se for r in read_manifest(tmp / "dataset"))
        if labelled != planted["target"]:
            log(f"warning: {planted['target']} effects planted but {labelled} samples labelled with one")
        if difficulty.any_distractors:
            log(f"distractors labelled 'no effect': {planted['visual']} visual (no sound), "
                f"{planted['acoustic']} acoustic (nothing on screen)")
        os.rename(tmp / "recordings", tmp / "dataset" / "recordings")
        os.rename(annotations, tmp / "dataset" / "annotations.csv")
        os.rename(tmp / "planted.csv", tmp / "dataset" / "planted.csv")
        _describe(tmp / "dataset", bank, days, minutes_per_day, seed,
                  {"recorded": str(speech_dir), "utterances": len(speech)} if speech_dir else None,
                  difficulty, planted)
        _publish(tmp / "dataset", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _held_days(days: int, valid_days: int | None, test_days: int | None) -> tuple[int, int]:
    """(valid days, test days): one day in six each by default, leaving at least one for training."""
    if days < 3:
        raise DatasetError(f"days must be at least 3 (whole days go to train, valid and test), got {days}")
    held = max(1, round(days / 6))
    valid_days, test_days = valid_days or held, test_days or held
    if days - valid_days - test_days < 1:
        raise DatasetError(f"{days} days leave no training day after {valid_days} valid and "
                           f"{test_days} test days")
    return valid_days, test_days


def _remove_abandoned(out: Path, log) -> None:
    """Temporary folders of earlier runs for the same output whose process is gone (killed)."""
    for old in out.parent.glob(f".{out.name}.make-*"):
        try:
            pid = int((old / "pid").read_text())
            os.kill(pid, 0)
            continue  # that run is still going
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            pass  # no pid file: an abandoned folder of an older version
        log(f"removing {old}, left behind by an interrupted run")
        shutil.rmtree(old, ignore_errors=True)


def _describe(folder: Path, bank, days, minutes_per_day, seed, recorded: dict | None = None,
              difficulty: Difficulty = Difficulty(), planted: Counter[str] | None = None) -> None:
    planted = planted or Counter()
    classes = {c: {"visual": KINDS[k % len(KINDS)], "colour": PALETTE[k % len(PALETTE)]}
               for k, c in enumerate(bank.classes)}
    info = {"generator": "retrieval.data.synth.make_dataset", "days": days,
            "minutes_per_day": minutes_per_day, "seed": seed, "sound_effects": bank.source,
            "classes": classes,
            **({"recordings": bank.recordings()} if isinstance(bank, FolderBank) else {}),
            "recording_size": [WIDTH, HEIGHT],
            "recording_fps": FPS, "sample_rate": SAMPLE_RATE,
            "speech": recorded or ("espeak-ng" if espeak_available() else "synthetic babble"),
            "difficulty": {**asdict(difficulty), "effect_level_db": list(difficulty.snr_db),
                           "label": "has_se = 1 only for a target co-occurrence (an effect sound with "
                                    "its visual effect); visual and acoustic distractors are 'no effect'"},
            "planted": {"targets": planted["target"],
                        "visual_distractors": planted["visual"],
                        "acoustic_distractors": planted["acoustic"]}}
    (folder / "dataset.json").write_text(json.dumps(info, indent=2))
