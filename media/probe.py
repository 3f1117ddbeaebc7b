"""What a media file holds: container format, streams, picture size, sample rate, durations.

The duration rule, the only one in the project: a stream lasts from its first frame to the end of
its last one. From the headers that is the stream's own duration, else the container's; after a
complete decode it is measured on the decoded frames (a sound: its samples' length). A file lasts
as long as its picture, or as its sound when it has no picture (`MediaInfo.duration`).
"""

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from . import ffmpeg


class MediaError(ValueError):
    """A media file that cannot be used as needed; the message names the file and the problem."""


@dataclass(frozen=True)
class StreamInfo:
    index: int  # in the container
    kind: str  # "video" or "audio"
    codec: str  # e.g. "h264", "aac"
    duration: float | None  # seconds, by the rule above (None: neither header nor decode tells)
    header_duration: float | None  # what the headers claim; None when they say nothing
    frames: int | None = None  # decoded frames (complete probe only)
    width: int = 0
    height: int = 0
    fps: Fraction | None = None
    pix_fmt: str = ""
    sample_rate: int = 0
    channels: int = 0


@dataclass(frozen=True)
class MediaInfo:
    name: str  # how messages name the file
    format: str  # FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "wav"
    format_long: str  # e.g. "QuickTime / MOV"
    streams: tuple[StreamInfo, ...]  # audio and video streams, in container order
    complete: bool  # durations measured by decoding every frame

    def first(self, kind: str) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == kind), None)

    @property
    def video(self) -> StreamInfo | None:
        return self.first("video")

    @property
    def audio(self) -> StreamInfo | None:
        return self.first("audio")

    @property
    def has_video(self) -> bool:
        return self.video is not None

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    @property
    def duration(self) -> float:
        main = self.video or self.audio
        return (main.duration or 0.0) if main is not None else 0.0

    @property
    def width(self) -> int:
        return self.video.width if self.video else 0

    @property
    def height(self) -> int:
        return self.video.height if self.video else 0

    @property
    def fps(self) -> Fraction | None:
        return self.video.fps if self.video else None

    @property
    def sample_rate(self) -> int:
        return self.audio.sample_rate if self.audio else 0


def open_media(source, name: str | None = None):
    """An open PyAV container for a path or a binary file object; a MediaError names it otherwise."""
    name = str(source) if name is None else name
    if isinstance(source, (str, Path)) and not Path(source).is_file():
        raise MediaError(f"{name}: no such file")
    try:
        return av.open(str(source) if isinstance(source, Path) else source, metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError, IndexError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MediaError(f"{name}: not a readable media file ({reason})") from None


def origin(container) -> float:
    """Time of the container's start: MPEG-TS and others do not start at 0; our times do."""
    return container.start_time / av.time_base if container.start_time is not None else 0.0


def probe(source, name: str | None = None, *, complete: bool = False) -> MediaInfo:
    """The file's format and audio/video streams; `complete` decodes every frame (see the module)."""
    name = str(source) if name is None else name
    with open_media(source, name) as container:
        streams = [s for s in container.streams if s.type in ("video", "audio")]
        measured = _decode_all(container, streams, name, source) if complete else {}
        infos = tuple(_stream_info(container, s, measured.get(s.index)) for s in streams)
        return MediaInfo(
            name=name, format=container.format.name, format_long=container.format.long_name or "",
            streams=infos, complete=complete,
        )


def _stream_info(container, stream, measured) -> StreamInfo:
    header = _header_duration(container, stream)
    cc = stream.codec_context
    common = {
        "index": stream.index, "kind": stream.type, "codec": cc.name or "",
        "header_duration": header, "duration": measured[0] if measured else header,
        "frames": measured[1] if measured else None,
    }
    if stream.type == "video":
        rate = stream.average_rate or stream.guessed_rate
        return StreamInfo(**common, width=cc.width, height=cc.height, fps=Fraction(rate) if rate else None,
                          pix_fmt=cc.pix_fmt or "")
    return StreamInfo(**common, sample_rate=cc.sample_rate, channels=cc.channels)


def _header_duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def frame_duration(frame, stream) -> float:
    if frame.duration and frame.time_base:
        return float(frame.duration * frame.time_base)
    if stream.type == "audio":
        return frame.samples / frame.sample_rate
    rate = stream.average_rate or stream.guessed_rate
    return float(1 / rate) if rate else 0.0


class PacketDecoder:
    """The frames each packet gives, in order, for packets of any of a container's streams.

    PyAV sends an empty packet to the decoder as the end of the stream, and the next packet then
    fails with EINVAL; Ogg files hold many empty packets (Vorbis pages, Theora's "the picture has
    not changed"). Like ffmpeg, this sends none of them and drains each decoder once, by `flush`,
    after the last packet. An unchanged picture stays on screen until the next frame anyway; only
    where the stream ends needs the empty packets' times: `until` (a still picture to the end).
    """

    def __init__(self):
        self._until: dict[int, float] = {}

    def __call__(self, packet) -> list:
        if packet.size:
            return packet.decode()
        if packet.pts is not None and packet.time_base:
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            self._until[packet.stream.index] = max(end, self._until.get(packet.stream.index, end))
        return []

    def until(self, stream) -> float | None:
        """Where the stream's empty packets say it lasts to (seconds on the container's clock)."""
        return self._until.get(stream.index)

    def flush(self, stream) -> list:
        """What the stream's decoder still holds once its packets have ended."""
        drain = av.Packet()  # empty, so that its frames get the stream's time base
        drain.stream, drain.time_base = stream, stream.time_base
        return stream.codec_context.decode(drain)


def _decode_all(container, streams, name: str, source) -> dict[int, tuple[float, int]]:
    """stream index -> (decoded seconds from the first frame's start to the last one's end, frames).

    Where PyAV stops with a decoding error, the ffmpeg program's decode decides (`media.ffmpeg`):
    its lengths when it reads the file to the end without an error, else PyAV's error.
    """
    tally = _Tally(container, streams)
    try:
        tally.decode()
        measured = tally.lengths()
    except av.FFmpegError as exc:
        found = ffmpeg.decoded_lengths(source, [s.index for s in streams])
        if found is None:
            raise MediaError(f"{name}: does not decode past {max(tally.at, 0.0):.2f} s ({exc})") from None
        measured = found
    for s in streams:
        if not measured[s.index][1]:
            raise MediaError(f"{name}: the {s.type} stream has no decodable frame")
    return measured


class _Tally:
    """Every frame of the streams decoded and measured: a picture lasts to the end of its last
    frame; a sound as long as its samples after its first frame's time, as ffmpeg writes them
    (Ogg Vorbis timestamps can leap)."""

    def __init__(self, container, streams):
        self.container, self.streams = container, streams
        self.first: dict[int, float] = {}
        self.end: dict[int, float] = {}
        self.count = dict.fromkeys((s.index for s in streams), 0)
        self.at = 0.0  # where demuxing is, seconds from the container's start

    def decode(self) -> None:
        for s in self.streams:
            s.thread_type = "AUTO"
        decode = PacketDecoder()
        for packet in self.container.demux(*self.streams):
            if packet.pts is not None and packet.time_base:
                self.at = float(packet.pts * packet.time_base) - origin(self.container)
            for frame in decode(packet):
                self._add(frame, packet.stream)
        for s in self.streams:
            for frame in decode.flush(s):
                self._add(frame, s)
            if s.type == "video" and s.index in self.end and (until := decode.until(s)) is not None:
                self.end[s.index] = max(self.end[s.index], until)

    def lengths(self) -> dict[int, tuple[float, int]]:
        return {i: (self.end[i] - self.first[i] if n else 0.0, n) for i, n in self.count.items()}

    def _add(self, frame, stream) -> None:
        i = stream.index
        t = float(frame.pts * frame.time_base) if frame.pts is not None else self.end.get(i, 0.0)
        self.first.setdefault(i, t)
        if stream.type == "audio":
            self.end[i] = self.end.get(i, t) + frame.samples / frame.sample_rate
        else:
            self.end[i] = max(self.end.get(i, t), t + frame_duration(frame, stream))
        self.count[i] += 1
