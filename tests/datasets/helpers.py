"""Hand-made media for the dataset tests, written with the ffmpeg binary (not our own writer).

Picture: the source frame's index written in binary as 8 black/white vertical stripes across the
centre square, with red and blue bands at the far left and right that a centre crop removes.
Sound: a tone whose frequency steps up every second (300 Hz + 100 Hz per second), so both can be
checked for alignment.
"""

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from scipy.io import wavfile

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def tone(t: np.ndarray) -> np.ndarray:
    """The test soundtrack at absolute times t (continuous phase within each second)."""
    return 0.4 * np.sin(2 * np.pi * (300 + 100 * np.floor(t)) * t)


def picture(index: int, width: int, height: int) -> np.ndarray:
    img = np.zeros((height, width, 3), np.uint8)
    x0 = (width - height) // 2
    for bit in range(8):
        if index >> bit & 1:
            img[:, x0 + bit * height // 8: x0 + (bit + 1) * height // 8] = 255
    band = x0 - 4  # outside the centre square
    if band > 0:
        img[:, :band] = (255, 0, 0)
        img[:, width - band:] = (0, 0, 255)
    return img


def read_index(frame: np.ndarray) -> int:
    """The source frame index a square frame of `picture` shows."""
    size = frame.shape[1]
    row = frame[size // 2, :, :].astype(int).mean(axis=1)
    return sum(1 << bit for bit in range(8) if row[(2 * bit + 1) * size // 16] > 128)


def make_recording(path, seconds: float, fps: int = 30, size=(160, 90), sample_rate: int = 44_100,
                   channels: int = 2, audio: bool = True, audio_seconds: float | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    cmd = [FFMPEG, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
    if audio:
        t = np.arange(round((audio_seconds or seconds) * sample_rate)) / sample_rate
        wave = np.repeat(tone(t)[:, None], channels, axis=1)
        wav = path.with_suffix(".src.wav")
        wavfile.write(wav, sample_rate, (wave * 32767).astype(np.int16))
        cmd += ["-i", str(wav), "-c:a", "aac" if path.suffix != ".mkv" else "libopus"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "12", "-g", "30", str(path)]
    frames = b"".join(picture(i, width, height).tobytes() for i in range(round(seconds * fps)))
    subprocess.run(cmd, input=frames, check=True, timeout=60)
    if audio:
        wav.unlink()
    return path


def dominant_frequency(wave: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.argmax(spectrum) * sample_rate / len(wave))
