"""Signal helpers for muxing: loudness (ITU-R BS.1770), onsets, and the synthetic control sounds.

Plain numpy/scipy, no Django: tested on their own with signals whose answers are known.
"""

import numpy as np
from scipy.signal import lfilter

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0


def k_weighting(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two BS.1770 pre-filters (high shelf, then high pass), designed for any sample rate."""
    k = np.tan(np.pi * 1681.974450955533 / sample_rate)
    q = 0.7071752369554196
    vh = 10 ** (3.999843853973347 / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = np.array([vh + vb * k / q + k * k, 2 * (k * k - vh), vh - vb * k / q + k * k]) / a0
    shelf_a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    k = np.tan(np.pi * 38.13547087602444 / sample_rate)
    q = 0.5003270373238773
    a0 = 1 + k / q + k * k
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return [(shelf_b, shelf_a), (hp_b, hp_a)]


def integrated_loudness(wave: np.ndarray, sample_rate: int) -> float:
    """Gated integrated loudness of a mono signal in LUFS; -inf for silence."""
    y = np.asarray(wave, dtype=np.float64)
    for b, a in k_weighting(sample_rate):
        y = lfilter(b, a, y)
    block, step = round(0.4 * sample_rate), round(0.1 * sample_rate)
    if len(y) < block:
        blocks = np.array([np.mean(y**2)]) if len(y) else np.zeros(0)
    else:
        # Mean square of every 400 ms block, 75% overlap, from one cumulative sum.
        c = np.concatenate([[0.0], np.cumsum(y**2)])
        starts = np.arange(0, len(y) - block + 1, step)
        blocks = (c[starts + block] - c[starts]) / block
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(blocks)
    kept = blocks[levels > ABSOLUTE_GATE_LUFS]
    if kept.size == 0:
        return float("-inf")
    relative = -0.691 + 10 * np.log10(kept.mean()) + RELATIVE_GATE_LU
    kept = blocks[(levels > ABSOLUTE_GATE_LUFS) & (levels > relative)]
    return float(-0.691 + 10 * np.log10(kept.mean()))


def normalize_loudness(wave: np.ndarray, sample_rate: int, target_lufs: float) -> tuple[np.ndarray, float]:
    """Scales `wave` to `target_lufs`; returns it and the gain in dB (0 for silence).

    Peaks above full scale are clipped, which at broadcast levels (-23 LUFS) only touches
    pathological inputs; matching loudness across methods matters more than a rare clipped peak.
    """
    level = integrated_loudness(wave, sample_rate)
    if not np.isfinite(level):
        return wave.astype(np.float32), 0.0
    gain_db = target_lufs - level
    out = wave * np.float32(10 ** (gain_db / 20))
    return np.clip(out, -1.0, 1.0).astype(np.float32), float(gain_db)


def audio_onset(wave: np.ndarray, sample_rate: int, threshold_db: float = -20.0) -> float:
    """Seconds to the first 10 ms frame whose RMS comes within `threshold_db` of the loudest one."""
    hop = max(1, sample_rate // 100)
    n = len(wave) // hop
    if n == 0:
        return 0.0
    rms = np.sqrt(np.mean(np.asarray(wave[: n * hop], dtype=np.float64).reshape(n, hop) ** 2, axis=1))
    if rms.max() <= 0:
        return 0.0
    first = int(np.argmax(rms >= rms.max() * 10 ** (threshold_db / 20)))
    return first * hop / sample_rate


def place(sound: np.ndarray, offset_samples: int, length: int) -> np.ndarray:
    """The sound shifted by `offset_samples` (negative: its start is cut) on a track of `length`."""
    track = np.zeros(length, dtype=np.float32)
    src = sound[max(0, -offset_samples):]
    start = max(0, offset_samples)
    n = max(0, min(len(src), length - start))
    track[start : start + n] = src[:n]
    return track


def harsh_noise(seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """The gold clips' obviously wrong sound: alternating 250 ms bursts of a 2.9 kHz square wave
    and white noise for the whole clip. Nothing a video could plausibly make, yet not painful
    once loudness-matched to the other clips."""
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    square = np.sign(np.sin(2 * np.pi * 2900.0 * t))
    noise = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
    burst = (t // 0.25).astype(int) % 2 == 0
    return (0.5 * np.where(burst, square, noise)).astype(np.float32)


def db(value: float) -> float:
    return float(10 ** (value / 20))
