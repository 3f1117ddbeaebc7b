"""The audio check: a short clip that speaks a few random digits the participant must type."""

import io
import re
import secrets

import numpy as np
from scipy.io import wavfile

from retrieval.speech import speak

DIGIT_COUNT = 4
MAX_ATTEMPTS = 3
SAMPLE_RATE = 16000
DIGIT_WORDS = "zero one two three four five six seven eight nine".split()


def new_digits(count: int = DIGIT_COUNT) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def clip_wav(digits: str) -> bytes:
    """A 16-bit mono WAV that says the digits slowly, one word at a time."""
    text = ", ".join(DIGIT_WORDS[int(d)] for d in digits)
    wave = speak(text, SAMPLE_RATE, words_per_minute=110)
    silence = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)  # some players clip the first instant
    wave = np.concatenate([silence, wave, silence])
    peak = float(np.max(np.abs(wave))) or 1.0
    return wav_bytes(wave / peak * 0.7, SAMPLE_RATE)


def wav_bytes(wave: np.ndarray, sample_rate: int) -> bytes:
    """A 16-bit PCM WAV of samples in [-1, 1]: mono (n,) or one column per channel (n, channels)."""
    pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    wavfile.write(buffer, sample_rate, pcm)
    return buffer.getvalue()


class BadAnswer(ValueError):
    pass


def normalize_answer(raw: str) -> str:
    """Digits only: spaces, commas and dashes between digits are allowed and dropped."""
    answer = re.sub(r"[\s,.\-]", "", raw or "")
    if not answer:
        raise BadAnswer("Type the digits you heard.")
    if not answer.isdigit() or len(answer) > 20:
        raise BadAnswer("Type only the digits you heard, for example 4 7 1 9.")
    return answer
