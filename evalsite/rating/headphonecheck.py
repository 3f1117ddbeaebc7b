"""The headphone check: the antiphase loudness test of Woods et al. (2017), generated here.

Each trial plays three 200 Hz tones, 1 s each with 0.5 s between them: one at the reference level
(S), one 6 dB quieter (Q) and one at the reference level with the right channel in antiphase (A).
The participant picks the quietest. On headphones the antiphase tone sounds as loud as the
reference, so Q is heard as quietest; through loudspeakers the two channels partly cancel in the
air, the antiphase tone sounds quieter than Q, and the listener picks A. Six trials; five or more
correct pass. The answer key stays on the server; only the sound reaches the browser.
"""

import itertools
import secrets

import numpy as np

from .audiocheck import MAX_ATTEMPTS, wav_bytes

__all__ = [
    "MAX_ATTEMPTS", "PASS_MARK", "TRIALS",
    "clip_wav", "correct_count", "new_key", "quiet_positions", "trial_orders",
]  # fmt: skip

TRIALS = 6
PASS_MARK = 5  # correct trials out of TRIALS
SAMPLE_RATE = 16000
TONE_HZ = 200.0
TONE_SECONDS = 1.0
RAMP_SECONDS = 0.1
GAP_SECONDS = 0.5
LEVEL = 0.5  # the reference tone's amplitude; Q is 6 dB below it
TONES = "SQA"  # reference, quieter, antiphase
ORDERS = ["".join(order) for order in itertools.permutations(TONES)]


def new_key(trials: int = TRIALS) -> str:
    """Each trial's order of the three tones, such as 'QAS' + 'SAQ' + ...: 3 letters a trial."""
    return "".join(secrets.choice(ORDERS) for _ in range(trials))


def trial_orders(key: str) -> list[str]:
    return [key[i : i + 3] for i in range(0, len(key), 3)]


def quiet_positions(key: str) -> list[int]:
    """The right answer of each trial: the position (1, 2 or 3) of the quieter tone."""
    return [order.index("Q") + 1 for order in trial_orders(key)]


def correct_count(key: str, answers: list[int]) -> int:
    return sum(1 for right, given in zip(quiet_positions(key), answers, strict=True) if right == given)


def _tone() -> np.ndarray:
    t = np.arange(int(TONE_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * TONE_HZ * t)
    ramp = int(RAMP_SECONDS * SAMPLE_RATE)
    window = np.ones_like(tone)
    window[:ramp] = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)  # raised-cosine on/off ramps
    window[-ramp:] = window[:ramp][::-1]
    return tone * window


def _stereo(kind: str) -> np.ndarray:
    tone = _tone() * LEVEL
    if kind == "Q":
        tone = tone * 10 ** (-6 / 20)
    right = -tone if kind == "A" else tone
    return np.column_stack([tone, right])


def clip_wav(order: str) -> bytes:
    """One trial: a stereo WAV of the three tones in `order` (such as 'SAQ'), with silence around."""
    gap = np.zeros((int(GAP_SECONDS * SAMPLE_RATE), 2))
    parts = [gap]
    for kind in order:
        parts += [_stereo(kind), gap]
    return wav_bytes(np.concatenate(parts), SAMPLE_RATE)
