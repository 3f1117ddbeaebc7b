"""Decoding video and audio with PyAV (in-process FFmpeg: no subprocess per clip).

`decode_video` returns what the video encoder eats: `preset.frames` RGB frames sampled at
`preset.fps`, each made square by scaling the shorter side to `preset.size` and cropping the
centre. Frame k is the picture on screen at `start + k / fps` (the latest frame whose timestamp is
not after it), as a player would show it. `decode_audio` returns mono float32 at any rate.
"""

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .errors import MediaError

# A source this much shorter than asked for is an error; less is padded (container rounding).
AUDIO_TOLERANCE_S = 0.05
VIDEO_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class MediaInfo:
    duration: float  # seconds, the longest stream
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: Fraction | None = None
    sample_rate: int = 0


def _open(path, what="media"):
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise MediaError(f"{path}: cannot read {what} ({e})") from None


def probe(path) -> MediaInfo:
    """Streams and duration of a media file, without decoding it."""
    with _open(path) as c:
        v = c.streams.video[0] if c.streams.video else None
        a = c.streams.audio[0] if c.streams.audio else None
        durations = [c.duration / av.time_base] if c.duration else []
        for s in (v, a):
            if s is not None and s.duration and s.time_base:
                durations.append(float(s.duration * s.time_base))
        return MediaInfo(
            duration=max(durations, default=0.0), has_video=v is not None, has_audio=a is not None,
            width=v.codec_context.width if v else 0, height=v.codec_context.height if v else 0,
            fps=v.average_rate if v else None, sample_rate=a.codec_context.sample_rate if a else 0,
        )


def square_size(width: int, height: int, size: int) -> tuple[int, int]:
    """Size after scaling the shorter side to `size` (the longer one is then cropped)."""
    if width >= height:
        return max(size, round(width * size / height)), size
    return size, max(size, round(height * size / width))


def to_square_rgb(frame: av.VideoFrame, size: int) -> np.ndarray:
    w, h = square_size(frame.width, frame.height, size)
    rgb = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
    x, y = (w - size) // 2, (h - size) // 2
    return rgb[y:y + size, x:x + size]


def decode_video(path, preset, start: float = 0.0) -> np.ndarray:
    """uint8 [preset.frames, S, S, 3] from `start` (seconds); a clip too short is a MediaError."""
    return decode_frames(path, preset.frames, preset.fps, preset.size, start, preset.clip_seconds)


def decode_frames(path, frames: int, fps: float, size: int, start: float = 0.0,
                  seconds: float | None = None) -> np.ndarray:
    seconds = frames / fps if seconds is None else seconds
    times = start + np.arange(frames) / fps
    out = np.empty((frames, size, size, 3), np.uint8)
    with _open(path, "video") as c:
        if not c.streams.video:
            raise MediaError(f"{path}: no video stream")
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        if start > 0:
            c.seek(int(start * av.time_base), backward=True, any_frame=False)
        latest, end, k = None, 0.0, 0
        try:
            for frame in c.decode(stream):
                t = _frame_time(frame, stream)
                # Frame k is the one on screen at times[k]: emit once a later frame shows up.
                while k < frames and t > times[k] + 1e-6:
                    if latest is None:
                        break
                    out[k] = to_square_rgb(latest, size)
                    k += 1
                if k == frames:
                    break
                latest, end = frame, t + _frame_duration(frame, stream)
        except av.FFmpegError as e:
            raise MediaError(f"{path}: cannot decode video ({e})") from None
        if latest is None:
            raise MediaError(f"{path}: no video frames after {start:.2f} s")
        if k < frames and end < start + seconds - VIDEO_TOLERANCE_S:
            raise MediaError(
                f"{path}: video ends at {end:.2f} s; a {seconds:.2f} s clip from {start:.2f} s needs "
                f"{start + seconds:.2f} s"
            )
        while k < frames:  # the last frame stays on screen to the end of the clip
            out[k] = to_square_rgb(latest, size)
            k += 1
    return out


def _frame_time(frame, stream) -> float:
    if frame.pts is None:
        raise MediaError(f"{stream.container.name}: video frame without timestamp")
    return float(frame.pts * frame.time_base)


def _frame_duration(frame, stream) -> float:
    if frame.duration and frame.time_base:
        return float(frame.duration * frame.time_base)
    rate = stream.average_rate or stream.guessed_rate
    return float(1 / rate) if rate else 0.0


def decode_audio(path, sample_rate: int, seconds: float | None = None, start: float = 0.0) -> np.ndarray:
    """Mono float32 at `sample_rate` from `start`; exactly round(seconds * rate) samples if given."""
    need = None if seconds is None else round(seconds * sample_rate)
    with _open(path, "audio") as c:
        if not c.streams.audio:
            raise MediaError(f"{path}: no audio stream")
        stream = c.streams.audio[0]
        if start > 0:
            c.seek(int(start * av.time_base), backward=True, any_frame=False)
        wave = _decode_mono(path, c, stream, sample_rate, start, need)
    if need is not None:
        if len(wave) < need - AUDIO_TOLERANCE_S * sample_rate:
            raise MediaError(
                f"{path}: audio is {len(wave) / sample_rate:.2f} s from {start:.2f} s, "
                f"shorter than the {seconds:.2f} s needed"
            )
        wave = np.pad(wave, (0, max(0, need - len(wave))))[:need]
    return np.ascontiguousarray(wave, dtype=np.float32)


def _decode_mono(path, container, stream, sample_rate, start, need) -> np.ndarray:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    chunks, first, have = [], None, 0
    try:
        for frame in container.decode(stream):
            if first is None:
                first = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
                have += chunks[-1].size
            if need is not None and have - (start - first) * sample_rate > need + sample_rate // 10:
                break
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as e:
        raise MediaError(f"{path}: cannot decode audio ({e})") from None
    wave = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    # After a seek (or with a delayed first packet) decoding starts elsewhere than `start`.
    offset = round((start - (first or 0.0)) * sample_rate)
    if offset > 0:
        return wave[offset:]
    return np.concatenate([np.zeros(-offset, np.float32), wave]) if offset < 0 else wave
