"""What the synthetic benchmark plants in a day: its shots, soundtrack, effects and distractors.

Exactly half of a day's 6.4 s slots hold a target co-occurrence (an effect sound with the visual
effect of its class), whole inside its slot and on a frame boundary; `Difficulty` adds
distractors (half of a co-occurrence) to slots without one and mixes the effects quieter.
"""

import math
from dataclasses import dataclass

import numpy as np

from . import synth_audio as sa
from .errors import DatasetError
from .synth_sources import SAMPLE_RATE
from .synth_video import FPS, KINDS, PALETTE, Effect

SLOT = 6.4  # seconds: the segment length, so every effect lies inside one sample
SNR_DB = (-6.0, 6.0)  # effect level against the background around it: often quieter
MAX_BURIAL_DB = 30.0  # below -36 dB an effect is inaudible: nothing left to learn
LEVELS = {"talk": 0.08, "music": 0.06, "ambience": 0.03}
SHOT_KINDS, SHOT_WEIGHTS = ("talk", "music", "ambience"), (0.45, 0.35, 0.2)


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
