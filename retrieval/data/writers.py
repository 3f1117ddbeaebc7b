"""Writing dataset samples: H.264 + AAC MP4 (with its own soundtrack) and 16-bit PCM WAV."""

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from scipy.io import wavfile

CRF = "18"  # visually lossless-ish; segments are re-encoded once
X264_PRESET = "veryfast"


def write_wav(path, wave: np.ndarray, sample_rate: int) -> Path:
    pcm = np.clip(np.asarray(wave, np.float32), -1.0, 1.0)
    wavfile.write(str(path), sample_rate, (pcm * 32767.0).round().astype(np.int16))
    return Path(path)


class Mp4Writer:
    """Encodes RGB/any frames and a mono soundtrack into a faststart MP4."""

    def __init__(self, path, width: int, height: int, fps, sample_rate: int = 48_000,
                 audio: bool = True, crf: str = CRF):
        self.path = Path(path)
        self.rate = Fraction(fps).limit_denominator(1001 * 1000)
        self.container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        self.video = self.container.add_stream("libx264", rate=self.rate)
        # yuv420p wants even sizes
        self.video.width, self.video.height = width - width % 2, height - height % 2
        self.video.pix_fmt = "yuv420p"
        self.video.options = {"crf": crf, "preset": X264_PRESET}
        self.audio = None
        if audio:
            self.audio = self.container.add_stream("aac", rate=sample_rate, layout="mono")
            self.audio.bit_rate = 128_000
        self.sample_rate = sample_rate
        self._last_pts = -1

    def add_frame(self, frame, pts: int | None = None) -> None:
        """`frame` is a uint8 [H, W, 3] array or an av.VideoFrame; pts counts frames at `fps`."""
        if isinstance(frame, np.ndarray):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        pts = self._last_pts + 1 if pts is None else pts
        if pts <= self._last_pts:  # a variable-rate source squeezed onto a constant rate
            return
        frame = frame.reformat(width=self.video.width, height=self.video.height, format="yuv420p")
        frame.pts, frame.time_base = pts, 1 / self.rate
        self._last_pts = pts
        self.container.mux(self.video.encode(frame))

    def add_frames(self, frames: Iterable) -> None:
        for f in frames:
            self.add_frame(f)

    def set_audio(self, wave: np.ndarray) -> None:
        pcm = np.clip(np.asarray(wave, np.float32), -1.0, 1.0).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = self.sample_rate, 0
        if self.audio is None:
            raise ValueError(f"{self.path}: written without an audio stream")
        self.container.mux(self.audio.encode(frame))

    def close(self) -> None:
        self.container.mux(self.video.encode(None))
        if self.audio is not None:
            self.container.mux(self.audio.encode(None))
        self.container.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.container.close()
