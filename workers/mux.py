"""Muxing a sound into a video: probe, align, mix, loudness-match, and write a browser-ready MP4.

No Django here: the tasks pass file paths and numbers; probing and decoding are the `media`
module's. The soundtrack is computed in numpy and handed to one ffmpeg call that copies the H.264
video stream as it is (other codecs are re-encoded to H.264 in the same call). The audio is one
mono AAC track at 48 kHz, whatever the source's layout (stereo sources are averaged to mono when
decoded), normalised to the experiment's loudness. Every output is stripped of metadata so that
nothing in the file names the method or the source.
"""

import os
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np

from media import MediaError, MediaInfo, check_video, decode_audio, open_media, probe
from workers import audio

SAMPLE_RATE = 48_000
CHANNELS = 1  # the one channel layout of every stimulus: mono
AUDIO_BITRATE = "128k"  # ffmpeg's AAC default; ample for a mono 48 kHz track
# Browsers play H.264 in MP4 with 4:2:0 chroma; anything else is re-encoded.
COPYABLE = {("h264", "yuv420p"), ("h264", "yuvj420p")}
# No global or per-stream tags, no chapters, no "encoder=Lavf..." tag (bitexact), index first.
CLEAN_OUTPUT = [
    "-map_metadata", "-1", "-map_metadata:s", "-1", "-map_chapters", "-1",
    "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-movflags", "+faststart",
]  # fmt: skip


class MuxError(MediaError):
    """A mux that failed; the message names the file."""


def copyable(info: MediaInfo) -> bool:
    """Whether the video stream goes into the output as it is (browsers play it)."""
    return info.video is not None and (info.video.codec, info.video.pix_fmt) in COPYABLE


@dataclass(frozen=True)
class MixSpec:
    mode: str = "replace"  # or "overlay"
    gain_db: float = 0.0  # of the sound, overlay only
    duck_db: float = -12.0  # of the original, overlay only
    loudness_lufs: float = -23.0


def probe_video(path: str | Path) -> MediaInfo:
    """The video's streams from its headers (media.probe); one without a picture or a duration is
    a MediaError (media.check_video)."""
    return check_video(probe(path))


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The whole first audio stream as mono float32 at `sample_rate`."""
    return decode_audio(path, sample_rate)


def visual_onset(path: str | Path) -> float | None:
    """Seconds to the strongest change between consecutive frames (a cut, flash or pop-in)."""
    times, frames = [], []
    try:
        with open_media(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            step = max(1, min(stream.codec_context.width, stream.codec_context.height) // 48)
            for frame in container.decode(stream):
                frames.append(luma(frame)[::step, ::step].astype(np.int16))
                times.append(float(frame.time or 0.0))
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: cannot decode video ({exc})") from None
    if len(frames) < 2:
        return None
    change = np.abs(np.diff(np.stack(frames), axis=0)).mean(axis=(1, 2))
    return times[int(np.argmax(change)) + 1]


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The frame's brightness plane as it is decoded: no pixel-format conversion (the costly
    part of reading frames), which is fine for YUV video, the norm; others are converted."""
    if not frame.format.name.startswith(("yuv", "yuvj", "nv12", "gray")):
        return frame.reformat(format="gray").to_ndarray()
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
    return rows[: frame.height, : frame.width]


def alignment_offset(video_onset: float | None, sound_onset: float) -> float:
    """Seconds to shift the sound so its onset lands on the video's; 0 when the video has none."""
    return 0.0 if video_onset is None else video_onset - sound_onset


def mix(
    duration: float,
    spec: MixSpec,
    sound: np.ndarray | None = None,
    offset: float = 0.0,
    original: np.ndarray | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """The clip's soundtrack: the sound placed at `offset`, over the ducked original in overlay
    mode, then matched to the target loudness."""
    length = round(duration * sample_rate)
    track = np.zeros(length, np.float32)
    if sound is not None:
        gain = audio.db(spec.gain_db) if spec.mode == "overlay" else 1.0
        track += gain * audio.place(sound, round(offset * sample_rate), length)
    if original is not None and (spec.mode == "overlay" or sound is None):
        duck = audio.db(spec.duck_db) if sound is not None else 1.0
        track += duck * audio.place(original, 0, length)
    return audio.normalize_loudness(track, sample_rate, spec.loudness_lufs)[0]


def write_mp4(video_path: str | Path, info: MediaInfo, track: np.ndarray, out_path: str | Path,
              sample_rate: int = SAMPLE_RATE, timeout: float = 600) -> None:
    """Writes video + `track` to `out_path` through a temporary name in the same folder."""
    out_path = Path(out_path)
    tmp = out_path.with_name(f".tmp-{uuid.uuid4().hex}.mp4")
    try:
        _ffmpeg_mux(video_path, info, track, tmp, sample_rate, timeout)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)


# Re-encoding: H.264 4:2:0 needs even dimensions; an odd one loses its last row or column.
REENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
            "-vf", "crop=trunc(iw/2)*2:trunc(ih/2)*2"]  # fmt: skip


def _ffmpeg_mux(video_path, info, track, tmp, sample_rate, timeout):
    """One ffmpeg call: the video stream copied (browser-ready H.264) or re-encoded, and `track`
    as the only audio stream, mono (CHANNELS), so the file measures what the track was
    normalised to: a mono track copied into two channels would measure +3 LU (BS.1770 sums the
    channels' power)."""
    # The track goes through a raw temporary file, not stdin: subprocess feeds a pipe 512 bytes
    # per poll, which made the pipe the slowest part of a mux.
    # 16-bit PCM, as a WAV would hold it: ffmpeg's AAC encoder takes float input markedly slower.
    pcm = (np.clip(track, -1.0, 1.0) * 32767.0).round().astype("<i2")
    video = ["-c:v", "copy"] if copyable(info) else REENCODE
    with tempfile.NamedTemporaryFile(suffix=".s16") as raw:
        raw.write(pcm.tobytes())
        raw.flush()
        cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-v", "error",
            "-i", str(video_path),
            "-f", "s16le", "-ar", str(sample_rate), "-ac", str(CHANNELS), "-i", raw.name,
            "-map", "0:v:0", "-map", "1:a:0", *video,
            "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ac", str(CHANNELS), "-t", f"{info.duration:.6f}",
            *CLEAN_OUTPUT, "-f", "mp4", str(tmp),
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise MuxError(f"{video_path}: ffmpeg failed: {result.stderr.decode(errors='replace').strip()}")
