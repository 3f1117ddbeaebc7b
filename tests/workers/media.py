"""Small real media files for the worker tests, written with PyAV and scipy."""

from pathlib import Path

import av
import numpy as np
from scipy.io import wavfile

SR = 48_000


def make_video(
    path: Path,
    seconds: float = 3.0,
    fps: int = 25,
    size=(160, 120),
    tone_hz: float | None = 440.0,
    codec: str = "libx264",
    flash_at: float | None = None,
) -> Path:
    """A dark clip that turns bright at `flash_at` (one strong visual change), with a sine
    soundtrack unless `tone_hz` is None."""
    width, height = size
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=SR, layout="mono") if tone_hz else None
        for i in range(round(seconds * fps)):
            t = i / fps
            level = 200 if flash_at is not None and t >= flash_at else 60 + i % 3
            img = np.full((height, width, 3), level, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None:
            wave = 0.3 * np.sin(2 * np.pi * tone_hz * np.arange(round(seconds * SR)) / SR)
            samples = wave.astype(np.float32)
            for start in range(0, len(samples), 1024):
                frame = av.AudioFrame.from_ndarray(
                    samples[None, start : start + 1024], format="flt", layout="mono"
                )
                frame.sample_rate = SR
                for packet in audio.encode(frame):
                    out.mux(packet)
            for packet in audio.encode():
                out.mux(packet)
    return path


def chirp(seconds: float = 1.0, sr: int = SR, f0: float = 300.0, f1: float = 3000.0, seed: int = 0):
    """A sound with a clear onset and a shape that survives AAC: a rising chirp with a decay."""
    t = np.arange(round(seconds * sr)) / sr
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds))
    rng = np.random.default_rng(seed)
    return (0.5 * np.sin(phase + rng.uniform(0, 6)) * np.exp(-2 * t)).astype(np.float32)


def make_wav(path: Path, wave: np.ndarray, sr: int = SR, lead_silence: float = 0.0) -> Path:
    full = np.concatenate([np.zeros(round(lead_silence * sr), np.float32), wave])
    wavfile.write(path, sr, (full * 32767).astype(np.int16))
    return path
