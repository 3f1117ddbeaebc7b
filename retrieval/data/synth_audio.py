"""Sounds of the synthetic benchmark: sound-effect classes and the non-target soundtrack.

Each sound-effect class has its own spectral signature (a low thump, a band of noise sweeping, a
rising tone, a tremolo rumble, high pings, a bell), and every instance draws its own pitch,
duration and envelope, so which class is which is learnable but instances differ.
"""

import numpy as np
from scipy.signal import butter, sosfilt

from ..speech import SpeechUnavailable, espeak_available, speak

SENTENCES = [
    "Good evening and welcome to the news at nine.",
    "The weather tomorrow will be mostly sunny with a light breeze.",
    "Our reporter spoke to the people who live by the river.",
    "Prices at the market rose again this week.",
    "Now let's take a look at today's sports results.",
    "The museum opens a new exhibition on Saturday.",
    "Scientists say the results were better than expected.",
    "Traffic on the main road is moving slowly this morning.",
    "Thank you for joining us, and see you next time.",
    "Here is a recipe that anyone can cook at home.",
    "The team trained hard for the final match.",
    "A new bridge will connect the two towns next year.",
]


def _t(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32) / sr


def _fade(x: np.ndarray, sr: int, attack=0.005, release=0.05) -> np.ndarray:
    a, r = max(1, int(attack * sr)), max(1, int(release * sr))
    env = np.ones(len(x), np.float32)
    env[:a] = np.linspace(0, 1, min(a, len(x)), dtype=np.float32)[: len(env[:a])]
    env[-r:] *= np.linspace(1, 0, min(r, len(x)), dtype=np.float32)[-len(env[-r:]):]
    return x * env


def _band_noise(rng, n, sr, lo, hi) -> np.ndarray:
    sos = butter(4, [lo, min(hi, 0.45 * sr)], btype="band", fs=sr, output="sos")
    return sosfilt(sos, rng.standard_normal(n)).astype(np.float32)


def _low_noise(rng, n, sr, cutoff) -> np.ndarray:
    sos = butter(4, cutoff, btype="low", fs=sr, output="sos")
    return sosfilt(sos, rng.standard_normal(n)).astype(np.float32)


def impact(rng, dur, sr):
    t = _t(int(dur * sr), sr)
    f0 = rng.uniform(45, 90)
    thump = np.sin(2 * np.pi * f0 * t * (1 + 1.5 * np.exp(-t * 25))) * np.exp(-t * rng.uniform(3, 8))
    crack = _low_noise(rng, len(t), sr, rng.uniform(800, 2000)) * np.exp(-t * rng.uniform(25, 50))
    return thump + 0.5 * crack / (np.abs(crack).max() + 1e-9)


def swoosh(rng, dur, sr):
    n = int(dur * sr)
    t = _t(n, sr)
    f1, f2 = rng.uniform(600, 1200), rng.uniform(2500, 5000)
    if rng.random() < 0.5:
        f1, f2 = f2, f1
    freq = f1 + (f2 - f1) * t / dur
    carrier = np.cos(2 * np.pi * np.cumsum(freq) / sr)
    return _low_noise(rng, n, sr, rng.uniform(250, 500)) * carrier * np.sin(np.pi * t / dur) ** 2


def rise(rng, dur, sr):
    t = _t(int(dur * sr), sr)
    f1, f2 = rng.uniform(200, 400), rng.uniform(1500, 3000)
    phase = 2 * np.pi * np.cumsum(f1 * (f2 / f1) ** (t / dur)) / sr
    tone = sum(a * np.sin(k * phase) for k, a in ((1, 1.0), (2, 0.4), (3, 0.2)))
    return _fade(tone * (0.3 + 0.7 * t / dur), sr, 0.02, 0.05)


def rumble(rng, dur, sr):
    n = int(dur * sr)
    t = _t(n, sr)
    noise = _low_noise(rng, n, sr, rng.uniform(100, 180))
    trem = 1 + 0.9 * np.sin(2 * np.pi * rng.uniform(8, 15) * t)
    return _fade(noise * trem, sr, 0.05, 0.1)


def twinkle(rng, dur, sr):
    n = int(dur * sr)
    out = np.zeros(n, np.float32)
    ping = _t(int(0.12 * sr), sr)
    for start in rng.uniform(0, max(dur - 0.12, 0.01), size=max(3, int(dur * rng.uniform(8, 14)))):
        i = int(start * sr)
        p = np.sin(2 * np.pi * rng.uniform(3000, 6500) * ping) * np.exp(-ping * 40)
        out[i:i + len(p)] += p[: n - i]
    return out


def ding(rng, dur, sr):
    t = _t(int(dur * sr), sr)
    f = rng.uniform(600, 1200)
    partials = ((1, 1.0), (2.76, 0.6), (5.40, 0.35), (8.93, 0.2))
    tone = sum(a * np.sin(2 * np.pi * f * k * t) for k, a in partials)
    return _fade(tone * np.exp(-t * 3.0 / dur), sr, 0.002, 0.03)


# class -> (synthesiser, (shortest, longest) seconds)
# Effects fill a good part of their 6.4 s sample (models pool over time), within the 0.3-3 s range.
SOUND_CLASSES = {
    "impact": (impact, (0.5, 1.5)),
    "swoosh": (swoosh, (0.8, 2.0)),
    "rise": (rise, (1.2, 3.0)),
    "rumble": (rumble, (1.2, 3.0)),
    "twinkle": (twinkle, (1.0, 3.0)),
    "ding": (ding, (0.8, 2.5)),
}


def synth_effect(name: str, rng, sr: int) -> np.ndarray:
    fn, (lo, hi) = SOUND_CLASSES[name]
    return normalise(fn(rng, rng.uniform(lo, hi), sr))


def normalise(x: np.ndarray) -> np.ndarray:
    """Unit RMS over the part that sounds (so effect levels compare with the background)."""
    x = np.asarray(x, np.float32)
    loud = np.abs(x) > 0.05 * (np.abs(x).max() + 1e-12)
    rms = np.sqrt(np.mean(x[loud] ** 2)) if loud.any() else 1.0
    return x / (rms + 1e-9)


def speech_pool(rng, sr: int, log=print) -> list[np.ndarray]:
    """Spoken sentences (espeak-ng), or a babble of voiced syllables when it is not installed."""
    if espeak_available():
        try:
            return [speak(s, sr, voice=str(rng.choice(["en", "en-us", "en-gb"])),
                          words_per_minute=int(rng.integers(140, 190)), pitch=int(rng.integers(25, 75)))
                    for s in SENTENCES]
        except SpeechUnavailable as e:
            log(f"speech: {e}; using a synthetic babble instead")
    else:
        log("speech: espeak-ng is not installed (apt-get install espeak-ng); using a synthetic babble")
    return [babble(rng, rng.uniform(2.0, 4.0), sr) for _ in SENTENCES]


def babble(rng, dur, sr) -> np.ndarray:
    """Voiced syllables: a glottal-like harmonic tone gated at the syllable rate (speech fallback)."""
    t = _t(int(dur * sr), sr)
    f0 = rng.uniform(100, 220) * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * rng.uniform(3, 5) * t), 0, None) ** 0.5
    return (0.3 * voice * syllables).astype(np.float32)


def music(rng, dur, sr) -> np.ndarray:
    """Chords of harmonic tones on a beat, with a kick drum."""
    n = int(dur * sr)
    out = np.zeros(n, np.float32)
    beat = 60 / rng.uniform(80, 130)
    root = 110 * 2 ** (rng.integers(0, 12) / 12)
    chords = [(0, 4, 7), (5, 9, 12), (7, 11, 14), (-3, 0, 4)]
    note = _t(int(beat * 2 * sr), sr)
    env = np.exp(-note * 2.5)
    for k, start in enumerate(np.arange(0, dur, beat * 2)):
        i = int(start * sr)
        chord = chords[k % len(chords)]
        tone = sum(np.sin(2 * np.pi * root * 2 ** (s / 12) * h * note) / h for s in chord for h in (1, 2, 3))
        out[i:i + len(note)] += (tone * env)[: n - i]
    kick_t = _t(int(0.15 * sr), sr)
    kick = np.sin(2 * np.pi * 60 * kick_t) * np.exp(-kick_t * 30) * 3
    for start in np.arange(0, dur, beat):
        i = int(start * sr)
        out[i:i + len(kick)] += kick[: n - i]
    return out


def ambience(rng, dur, sr) -> np.ndarray:
    n = int(dur * sr)
    t = _t(n, sr)
    gusts = 1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t)
    wind = _low_noise(rng, n, sr, rng.uniform(300, 900)) * gusts
    hum = 0.2 * np.sin(2 * np.pi * rng.uniform(50, 120) * t)
    return wind + hum


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
