"""A synthetic TV-like benchmark with the structure that makes the paper's problem hard.

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
"""

import csv
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from media import decode_audio

from ..speech import espeak_available
from . import synth_audio as sa
from .errors import DatasetError, MediaError
from .manifest import read_manifest
from .writers import Mp4Writer
from .segment import _publish, segment
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

SAMPLE_RATE = 48_000
SLOT = 6.4  # seconds: the segment length, so every effect lies inside one sample
SNR_DB = (-6.0, 6.0)  # effect level against the background around it: often quieter
MAX_BURIAL_DB = 30.0  # below -36 dB an effect is inaudible: nothing left to learn
LEVELS = {"talk": 0.08, "music": 0.06, "ambience": 0.03}
SHOT_KINDS, SHOT_WEIGHTS = ("talk", "music", "ambience"), (0.45, 0.35, 0.2)
SFX_EXTENSIONS = {".wav", ".ogg", ".oga", ".flac", ".mp3", ".opus"}
MAX_UTTERANCES = 64  # recorded speech: utterances decoded and kept for the presenter
MIN_UTTERANCE_SECONDS = 1.0
MAX_SFX_CLASSES = len(PALETTE)
MIN_EFFECT_SECONDS = 0.15  # segment labels an effect that overlaps a sample by 0.1 s


class SynthBank:
    """Synthesised sound effects, one class per visual kind; every instance is drawn afresh."""

    source = "synthesised"

    def __init__(self):
        self.classes = list(sa.SOUND_CLASSES)

    def draw(self, cls: str, rng, held_out: bool = False) -> np.ndarray:
        return sa.synth_effect(cls, rng, SAMPLE_RATE)


class FolderBank:
    """Real recordings: `DIR/<class>/*.<audio>`, or `DIR/<class>_<name>.<audio>`.

    With `split_by_recording` (the default) each class's files are divided once, by a hash of
    the file name: about a third are held out for the valid and test days and never used on a
    training day, so a test sound was never heard in training. Classes with fewer than 2 usable
    files cannot be split and are dropped; so are files shorter than MIN_EFFECT_SECONDS once
    leading silence is trimmed (segment would label them "no effect"). Every drop is logged.
    """

    def __init__(self, folder, split_by_recording: bool = True, log=print):
        folder = Path(folder)
        if not folder.is_dir():
            raise DatasetError(f"{folder}: sound-effect folder does not exist")
        files: dict[str, list[Path]] = {}
        ignored: dict[str, int] = {}
        for p in sorted(folder.rglob("*")):
            if p.is_file() and p.suffix.lower() in SFX_EXTENSIONS:
                files.setdefault(sfx_class(p, folder), []).append(p)
            elif p.is_file():
                ignored[p.suffix.lower() or "(none)"] = ignored.get(p.suffix.lower() or "(none)", 0) + 1
        if ignored:
            log(f"{folder}: ignored {sum(ignored.values())} file(s) that are not audio "
                f"({', '.join(f'{n} {ext}' for ext, n in sorted(ignored.items()))})")
        self._decoded: dict[Path, np.ndarray] = {}
        short = []
        for cls in list(files):
            usable = []
            for p in files[cls]:
                try:
                    if len(self._load(p)) >= MIN_EFFECT_SECONDS * SAMPLE_RATE:
                        usable.append(p)
                    else:
                        short.append(p)
                except MediaError as exc:
                    log(f"skipping {exc}")
            files[cls] = usable
        if short:
            log(f"skipping {len(short)} recording(s) shorter than {MIN_EFFECT_SECONDS} s after trimming "
                f"silence (a sample would be labelled 'no effect'): " + ", ".join(p.name for p in short[:5])
                + (" ..." if len(short) > 5 else ""))
        need = 2 if split_by_recording else 1
        small = sorted(c for c, f in files.items() if len(f) < need)
        if small:
            log(f"dropping {len(small)} class(es) with fewer than {need} usable recording(s)"
                f"{' (a class needs one for training and one held out)' if split_by_recording else ''}: "
                + ", ".join(small[:8]) + (" ..." if len(small) > 8 else ""))
        files = {c: f for c, f in files.items() if len(f) >= need}
        if len(files) < 2:
            raise DatasetError(f"{folder}: need sound effects of at least 2 classes with {need}+ usable "
                               f"recordings each ({', '.join(sorted(SFX_EXTENSIONS))}), found {len(files)}; "
                               "a class is the sub-folder, or the file-name prefix before _ - or space")
        # the largest classes, each paired with its own visual effect and colour
        keep = sorted(files, key=lambda c: (-len(files[c]), c))[:MAX_SFX_CLASSES]
        dropped = sorted(set(files) - set(keep))
        if dropped:
            log(f"keeping the {len(keep)} largest classes; dropping {len(dropped)}: {', '.join(dropped)}")
        self.files = {c: files[c] for c in sorted(keep)}
        self.classes = list(self.files)
        self.source = str(folder)
        self.held = {c: self._held_out(f) if split_by_recording else list(f) for c, f in self.files.items()}
        self.train = {c: [p for p in f if p not in self.held[c]] if split_by_recording else list(f)
                      for c, f in self.files.items()}
        log(f"sound effects: {sum(map(len, self.files.values()))} recordings in {len(keep)} classes "
            f"({', '.join(f'{c} {len(f)}' for c, f in self.files.items())}); "
            + ("split by recording: " + f"{sum(map(len, self.held.values()))} held out for valid/test"
               if split_by_recording else "train and test draw from the same recordings"))

    @staticmethod
    def _held_out(paths: list[Path]) -> list[Path]:
        order = sorted(paths, key=lambda p: hashlib.sha256(p.name.encode()).hexdigest())
        return order[: max(1, round(len(order) / 3))]

    def draw(self, cls: str, rng, held_out: bool = False) -> np.ndarray:
        pool = (self.held if held_out else self.train)[cls]
        path = pool[rng.integers(len(pool))]
        wave = self._load(path)
        length = max(int(rng.uniform(0.3, 3.0) * SAMPLE_RATE), int(MIN_EFFECT_SECONDS * SAMPLE_RATE))
        return sa.normalise(sa._fade(wave[:length].copy(), SAMPLE_RATE, 0.002, 0.05))

    def recordings(self) -> dict:
        """{class: {"train": [names], "held_out": [names]}} for dataset.json."""
        return {c: {"train": [str(p) for p in self.train[c]], "held_out": [str(p) for p in self.held[c]]}
                for c in self.classes}

    def _load(self, path: Path) -> np.ndarray:
        if path not in self._decoded:
            wave = decode_audio(path, SAMPLE_RATE)
            loud = np.flatnonzero(np.abs(wave) > 0.02 * (np.abs(wave).max() + 1e-12))
            if not loud.size:
                raise MediaError(f"{path}: silent sound effect")
            self._decoded[path] = wave[loud[0]:]  # the effect starts at its onset
        return self._decoded[path]


def recorded_speech(folder, rng, log=print) -> list[np.ndarray]:
    """The presenter's utterances from a folder of recorded speech (any audio files, searched
    recursively): up to MAX_UTTERANCES files of at least MIN_UTTERANCE_SECONDS, drawn by `rng`,
    decoded mono at SAMPLE_RATE. Unreadable, silent and short files are skipped and counted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: speech folder does not exist")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SFX_EXTENSIONS)
    out: list[np.ndarray] = []
    short = f"shorter than {MIN_UTTERANCE_SECONDS:g} s"
    skipped = {"unreadable": 0, "silent": 0, short: 0}
    for i in rng.permutation(len(files)):
        if len(out) == MAX_UTTERANCES:
            break
        try:
            wave = decode_audio(files[i], SAMPLE_RATE)
        except MediaError as exc:
            log(f"speech: skipping {exc}")
            skipped["unreadable"] += 1
            continue
        if not np.abs(wave).max() > 0:
            skipped["silent"] += 1
        elif len(wave) < MIN_UTTERANCE_SECONDS * SAMPLE_RATE:
            skipped[short] += 1
        else:
            out.append(wave)
    if not out:
        raise DatasetError(f"{folder}: no recorded utterance of at least {MIN_UTTERANCE_SECONDS:g} s among "
                           f"{len(files)} audio file(s) ({', '.join(sorted(SFX_EXTENSIONS))})")
    left_out = ", ".join(f"{n} {why}" for why, n in skipped.items() if n)
    log(f"speech: {len(out)} recorded utterances from {folder} ({len(files)} audio files"
        + (f"; skipped {left_out})" if left_out else ")"))
    return out


def sfx_class(path: Path, root: Path) -> str:
    rel = path.relative_to(root)
    if len(rel.parts) > 1:
        return rel.parts[0]
    stem = path.stem
    for sep in ("_", "-", " "):
        if sep in stem:
            parts = [p for p in stem.split(sep) if p]
            # a leading number (00_ship_horn) is an index, not a class
            while len(parts) > 1 and parts[0].isdigit():
                parts = parts[1:]
            return parts[0].lower()
    return stem.lower()


@dataclass(frozen=True)
class Difficulty:
    """How much harder than today's generator (the defaults) the benchmark is.

    Shares are of all the 6.4 s slots of a day (rounded, like the targets' half); distractors go
    only to slots without a target, so the two shares add up to at most 0.5. The weak label of
    every distractor slot is "no effect": the label denotes the target co-occurrence (an effect
    with its visual effect), as the paper's weak labels do, and a distractor is half of one.
    """

    visual_distractors: float = 0.0  # a visual effect of a class, no sound effect
    acoustic_distractors: float = 0.0  # an effect sound of a class, nothing on screen (off-screen)
    burial_db: float = 0.0  # effects (and acoustic distractors) this much quieter than -6 ... +6 dB

    def __post_init__(self):
        for name in ("visual_distractors", "acoustic_distractors"):
            share = getattr(self, name)
            if not _is_number(share) or not 0 <= share <= 0.5:
                raise DatasetError(f"{name} must be a share of the slots between 0 and 0.5, got {share!r}")
        if self.visual_distractors + self.acoustic_distractors > 0.5:
            raise DatasetError(
                "visual_distractors + acoustic_distractors must be at most 0.5 (distractors go to the "
                f"half of the slots without a target), got {self.visual_distractors} + "
                f"{self.acoustic_distractors}")
        if not _is_number(self.burial_db) or not 0 <= self.burial_db <= MAX_BURIAL_DB:
            raise DatasetError(f"burial_db must be between 0 and {MAX_BURIAL_DB:g} dB (how much quieter "
                               f"than {SNR_DB[0]:g} ... +{SNR_DB[1]:g} dB the effects are mixed), "
                               f"got {self.burial_db!r}")

    @property
    def snr_db(self) -> tuple[float, float]:
        return SNR_DB[0] - self.burial_db, SNR_DB[1] - self.burial_db

    @property
    def any_distractors(self) -> bool:
        return self.visual_distractors > 0 or self.acoustic_distractors > 0


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclass
class PlannedEffect:
    onset: float  # seconds in the day's recording, on a frame boundary
    cls: str
    sound: np.ndarray
    visual: Effect

    @property
    def end(self) -> float:
        return self.onset + len(self.sound) / SAMPLE_RATE


def plan_effects(rng, slots: int, bank, held_out: bool = False) -> list[PlannedEffect]:
    """Exactly half the slots (rounded) hold one effect; classes cycle so each day has them all."""
    chosen = np.sort(rng.choice(slots, size=max(1, round(slots / 2)), replace=False))
    order = list(rng.permutation(bank.classes))
    effects = []
    for n, slot in enumerate(chosen):
        cls = order[n % len(order)]
        sound, onset, dur = _placed_sound(rng, int(slot), cls, bank, held_out)
        effects.append(PlannedEffect(onset, cls, sound, _visual(bank, cls, dur, rng)))
    return effects


def _placed_sound(rng, slot: int, cls: str, bank, held_out: bool) -> tuple[np.ndarray, float, float]:
    """A sound of `cls` cut to fit a slot, and where in the slot it starts: (sound, onset, seconds)."""
    sound = bank.draw(cls, rng, held_out)[: int((SLOT - 0.6) * SAMPLE_RATE)]
    dur = len(sound) / SAMPLE_RATE
    return sound, _onset(rng, slot, dur), dur


@dataclass
class Distractor:
    """Half of a target co-occurrence in a slot without a target: only its picture ("visual") or
    only its sound ("acoustic", as if off screen). Labelled "no effect"."""

    kind: str
    onset: float
    cls: str
    sound: np.ndarray  # mixed in for an acoustic one; a visual one takes only its duration from it
    visual: Effect | None

    @property
    def end(self) -> float:
        return self.onset + len(self.sound) / SAMPLE_RATE


def plan_distractors(rng, slots: int, taken, bank, difficulty: Difficulty,
                     held_out: bool = False) -> list[Distractor]:
    """Distractors in slots without a target, placed and sized like the targets, classes cycling.

    `rng` is a stream of its own, so the targets, the shots and the background are the same at
    every difficulty (the levels of a study differ only by their distractors and burial)."""
    free = np.setdiff1d(np.arange(slots), np.asarray(sorted(taken), dtype=int))
    n_visual = min(round(difficulty.visual_distractors * slots), len(free))
    n_acoustic = min(round(difficulty.acoustic_distractors * slots), len(free) - n_visual)
    chosen = rng.permutation(free)[: n_visual + n_acoustic]
    order = list(rng.permutation(bank.classes))
    out = []
    for n, slot in enumerate(chosen):
        cls = order[n % len(order)]
        sound, onset, dur = _placed_sound(rng, int(slot), cls, bank, held_out)
        visual = _visual(bank, cls, dur, rng) if n < n_visual else None
        out.append(Distractor("visual" if visual else "acoustic", onset, cls, sound, visual))
    return sorted(out, key=lambda d: d.onset)


def _onset(rng, slot: int, dur: float) -> float:
    """Whole inside its slot, on a frame boundary."""
    return round(slot * SLOT + math.ceil(rng.uniform(0.2, SLOT - dur - 0.3) * FPS) / FPS, 6)


def _visual(bank, cls: str, dur: float, rng) -> Effect:
    k = bank.classes.index(cls)
    return Effect(KINDS[k % len(KINDS)], PALETTE[k % len(PALETTE)], dur, rng)


def plan_shots(rng, total: float) -> list[tuple[float, float, str]]:
    shots, t = [], 0.0
    while t < total - 1e-6:
        end = min(total, t + rng.uniform(4.0, 12.0))
        shots.append((t, end, str(rng.choice(SHOT_KINDS, p=SHOT_WEIGHTS))))
        t = end
    return shots


def background_audio(rng, shots, total: float, speech: list[np.ndarray]):
    """The non-target soundtrack and the speech alone (for the presenter's mouth)."""
    n = round(total * SAMPLE_RATE)
    mix, voice = np.zeros(n, np.float32), np.zeros(n, np.float32)
    for start, end, kind in shots:
        i, j = round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)
        if kind == "talk":
            voice[i:j] = _talk(rng, j - i, speech)
        else:
            make = sa.music if kind == "music" else sa.ambience
            part = make(rng, (j - i) / SAMPLE_RATE + 0.01, SAMPLE_RATE)[: j - i]
            mix[i:j] = sa._fade(part[: j - i] * LEVELS[kind] / (sa.rms(part) + 1e-9), SAMPLE_RATE, 0.2, 0.2)
    mix += voice + 0.004 * rng.standard_normal(n).astype(np.float32)
    return mix, voice


def _talk(rng, n: int, speech: list[np.ndarray]) -> np.ndarray:
    out, i = np.zeros(n, np.float32), int(rng.uniform(0.1, 0.5) * SAMPLE_RATE)
    while i < n:
        utterance = speech[rng.integers(len(speech))]
        piece = utterance[: n - i] * (LEVELS["talk"] / (sa.rms(utterance) + 1e-9))
        out[i:i + len(piece)] = piece
        i += len(piece) + int(rng.uniform(0.2, 0.8) * SAMPLE_RATE)
    return out


def mix_effects(mix: np.ndarray, effects, rng, snr_db=SNR_DB) -> list[float]:
    """Adds each effect (`.onset`, `.sound`) at a level drawn from `snr_db` against the sound
    around it; returns the levels drawn (dB)."""
    levels = []
    for e in effects:
        i = round(e.onset * SAMPLE_RATE)
        around = mix[i:i + len(e.sound)]
        db = rng.uniform(*snr_db)
        around += e.sound[: len(around)] * (max(sa.rms(around), 0.01) * 10 ** (db / 20))
        levels.append(float(db))
    return levels


def mouth_envelope(voice: np.ndarray):
    hop = SAMPLE_RATE // FPS
    frames = len(voice) // hop
    env = np.sqrt(np.mean(voice[: frames * hop].reshape(frames, hop) ** 2, axis=1))
    env = np.clip(env / (LEVELS["talk"] * 1.2), 0, 1)
    return lambda t: env[min(int(t * FPS), frames - 1)]


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
    if days < 3:
        raise DatasetError(f"days must be at least 3 (whole days go to train, valid and test), got {days}")
    held = max(1, round(days / 6))
    valid_days, test_days = valid_days or held, test_days or held
    if days - valid_days - test_days < 1:
        raise DatasetError(f"{days} days leave no training day after {valid_days} valid and "
                           f"{test_days} test days")
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
