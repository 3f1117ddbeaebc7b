"""Decoded content: square RGB frames at a chosen rate, mono float32 sound at a chosen rate.

Frame k of `decode_frames` is the picture on screen at `start + k / fps` (the latest frame whose
timestamp is not after it), as a player would show it, made square by scaling the shorter side to
`size` and cropping the centre. Times count from the container's start (`origin`).
"""

import itertools

import av
import numpy as np

from .probe import MediaError, PacketDecoder, frame_duration, open_media, origin

# A source this much shorter than asked for is an error; less is padded (container rounding).
AUDIO_TOLERANCE_S = 0.05
VIDEO_TOLERANCE_S = 0.05


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


def decode_frames(path, frames: int, fps: float, size: int, start: float = 0.0,
                  seconds: float | None = None) -> np.ndarray:
    """uint8 [frames, size, size, 3] from `start`; a video ending before `start + seconds` (default
    frames / fps) by more than VIDEO_TOLERANCE_S is a MediaError."""
    seconds = frames / fps if seconds is None else seconds
    times = start + np.arange(frames) / fps
    out = np.empty((frames, size, size, 3), np.uint8)
    latest, end, k = None, 0.0, 0
    for frame, t, duration in _decoded(path, "video", start):
        if frame is None:  # the stream's end, after a still picture's empty packets
            end = max(end, t)
            continue
        # Frame k is the one on screen at times[k]: emit it once a later frame shows up.
        while latest is not None and k < frames and t > times[k] + 1e-6:
            out[k] = to_square_rgb(latest, size)
            k += 1
        if k == frames:
            break
        latest, end = frame, t + duration
    if latest is None:
        raise MediaError(f"{path}: no video frames after {start:.2f} s")
    if k < frames and end < start + seconds - VIDEO_TOLERANCE_S:
        raise MediaError(f"{path}: video ends at {end:.2f} s; a {seconds:.2f} s clip from {start:.2f} s "
                         f"needs {start + seconds:.2f} s")
    while k < frames:  # the last frame stays on screen to the end of the clip
        out[k] = to_square_rgb(latest, size)
        k += 1
    return out


def decode_audio(path, sample_rate: int, seconds: float | None = None, start: float = 0.0) -> np.ndarray:
    """Mono float32 at `sample_rate` from `start`: exactly round(seconds * rate) samples if given
    (a shortfall within AUDIO_TOLERANCE_S is padded), else to the end (which must not be empty)."""
    need = None if seconds is None else round(seconds * sample_rate)
    wave = _decode_mono(path, sample_rate, start, need)
    if need is not None:
        if len(wave) < need - AUDIO_TOLERANCE_S * sample_rate:
            raise MediaError(
                f"{path}: audio is {len(wave) / sample_rate:.2f} s from {start:.2f} s, "
                f"shorter than the {seconds:.2f} s needed"
            )
        wave = np.pad(wave, (0, max(0, need - len(wave))))[:need]
    elif wave.size == 0:
        raise MediaError(f"{path}: the audio stream is empty after {start:.2f} s")
    return np.ascontiguousarray(wave, dtype=np.float32)


def _decode_mono(path, sample_rate, start, need) -> np.ndarray:
    mono = MonoAudio(sample_rate, start)
    chunks, have = [], 0
    for frame, t, _ in _decoded(path, "audio", start):
        for chunk in mono.add(frame, t):
            chunks.append(chunk)
            have += chunk.size
        if need is not None and have > need + sample_rate // 10:
            break
    chunks += mono.end()
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


class MonoAudio:
    """One audio stream's frames, in order, as mono float32 at `rate` whose sample 0 is at `start`.

    Decoding begins at a frame boundary (after a seek), early (encoder priming before time 0) or
    late (a delayed stream): the first frame's timestamp places it, so what lies before `start` is
    dropped and a late start is preceded by silence. `skip` drops that many more samples first
    (ones already given by an earlier pass over the same stream).
    """

    def __init__(self, rate: int, start: float = 0.0, skip: int = 0):
        self.rate, self.start, self._skip = rate, start, skip
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        self._started = False

    def add(self, frame: av.AudioFrame, t: float) -> list[np.ndarray]:
        """The samples that `frame`, decoded at `t` seconds, completes (often none or one chunk)."""
        out: list[np.ndarray] = []
        if not self._started:
            self._started = True
            lead = round((t - self.start) * self.rate)
            out.append(np.zeros(max(lead, 0), np.float32))
            self._skip += max(-lead, 0)
        out += [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return self._skipped(out)

    def end(self) -> list[np.ndarray]:
        """What the resampler still holds once the stream has ended."""
        return self._skipped([f.to_ndarray().reshape(-1) for f in self._resampler.resample(None)])

    def _skipped(self, chunks: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        for data in chunks:
            if self._skip:
                data, self._skip = data[self._skip:], max(0, self._skip - len(data))
            if data.size:
                out.append(data)
        return out


def _decoded(path, kind: str, start: float):
    """(frame, seconds from the file's start, frame duration) of the first `kind` stream, from `start`.

    Seeks when `start` > 0; a demuxer whose seek lands after `start` (MPEG-TS can) is read again
    from the beginning instead. A video whose last packets are empty (a still Theora picture)
    ends with (None, where they end, 0.0).
    """
    for seek in (True, False) if start > 0 else (False,):
        late = False
        with open_media(path) as c:
            streams = c.streams.video if kind == "video" else c.streams.audio
            if not streams:
                raise MediaError(f"{path}: no {kind} stream")
            stream = streams[0]
            stream.thread_type = "AUTO"
            zero = origin(c)
            if seek:
                c.seek(int((zero + start) * av.time_base), backward=True, any_frame=False)
            try:
                decode = PacketDecoder()
                packets = (f for packet in c.demux(stream) for f in decode(packet))
                frames = itertools.chain(packets, _later(decode.flush, stream))
                for n, frame in enumerate(frames):
                    if frame.pts is None:
                        raise MediaError(f"{path}: {kind} frame without timestamp")
                    t = float(frame.pts * frame.time_base) - zero
                    if n == 0 and seek and t > start + 1e-3:
                        late = True
                        break
                    yield frame, t, frame_duration(frame, stream)
                if not late and kind == "video" and (until := decode.until(stream)) is not None:
                    yield None, until - zero, 0.0  # a still picture, unchanged to here
            except av.FFmpegError as e:
                raise MediaError(f"{path}: cannot decode {kind} ({e})") from None
        if not late:
            return


def _later(function, *args):
    """`function(*args)`'s items, called only once the items before are taken."""
    yield from function(*args)
