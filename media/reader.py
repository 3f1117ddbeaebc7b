"""A long recording read in one demuxing pass: its video frames in order, its audio as mono samples.

What `retrieval.data.segment` cuts windows from; the audio's resampling and alignment are
`decode.MonoAudio`'s, as for every other decode.
"""

from collections import deque
from collections.abc import Iterator

import av
import numpy as np

from .decode import AUDIO_TOLERANCE_S, MonoAudio
from .probe import MediaError, PacketDecoder, origin

WAIT_LIMIT_S = 10.0  # video read ahead while audio is sought, beyond which the audio is read apart


class RecordingReader:
    """Streams a recording in one demuxing pass: its video frames in order, its audio as mono float32.

    Both streams come from one opened container, so FFmpeg holds the file's index (for an MP4, the
    sample tables of the whole recording) once. A packet of one stream read while the other is
    wanted waits: video packets still compressed, audio decoded, keeping only what later windows
    need. How much waits depends on how the file interleaves its streams: FFmpeg's MP4 reader
    returns samples in time order, other readers in file order. When more than `WAIT_LIMIT_S` of
    video has piled up while audio is sought (a file that stores its streams far apart), the audio
    gets a container of its own, decoded again from the start up to where the first one was.
    """

    def __init__(self, path, sample_rate: int):
        self.path, self.rate = path, sample_rate
        self._container = av.open(str(path))
        self._video = self._container.streams.video[0]
        self._video.thread_type = "AUTO"
        self._audio = self._container.streams.audio[0]
        self._zero = origin(self._container)
        self._packets: Iterator[av.Packet] = self._container.demux(self._video, self._audio)
        self._waiting: deque[av.Packet] = deque()  # video packets read while audio was wanted
        self._own_audio: av.container.InputContainer | None = None  # once the streams lie far apart
        self._audio_packets: Iterator[av.Packet] | None = None
        self._mono = MonoAudio(sample_rate)
        self._decode = PacketDecoder()
        self._chunks: list[np.ndarray] = []
        self._have = 0  # samples in _chunks
        self._base = 0  # sample index of the first buffered sample
        self._made = 0  # samples made so far
        self._video_ended = self._audio_ended = False

    def frames(self) -> Iterator[tuple[av.VideoFrame, float]]:
        """The video frames with their time in seconds from the recording's start."""
        while self._waiting or self._read(video=True):
            if not self._waiting:
                continue
            try:
                frames = self._decode(self._waiting.popleft())
            except av.FFmpegError as e:
                raise MediaError(f"{self.path}: cannot decode video ({e})") from None
            for frame in frames:
                yield frame, (frame.time - self._zero if frame.time is not None else 0.0)
        for frame in self._decode.flush(self._video):
            yield frame, (frame.time - self._zero if frame.time is not None else 0.0)

    def take(self, start: int, n: int) -> np.ndarray:
        """Samples [start, start + n) at the reader's rate; windows must come in order."""
        while self._base + self._have < start + n and self._read(video=False):
            pass
        buf = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        lo = start - self._base
        if lo < 0:
            raise MediaError(f"{self.path}: audio requested out of order")
        out = buf[lo:lo + n]
        if len(out) < n - AUDIO_TOLERANCE_S * self.rate:
            raise MediaError(f"{self.path}: audio ends at {(self._base + len(buf)) / self.rate:.2f} s, "
                             f"before the sample ending at {(start + n) / self.rate:.2f} s")
        # windows come in order: what lies before this one's start is no longer needed
        self._chunks, self._have, self._base = [buf[lo:]], len(buf) - lo, start
        return np.pad(out, (0, n - len(out)))

    @property
    def separate_audio(self) -> bool:
        """Whether the audio has a container of its own (the streams lie far apart in the file)."""
        return self._own_audio is not None

    def waiting_seconds(self) -> float:
        """Seconds of video read but not yet decoded (what waits while audio is sought)."""
        if not self._waiting:
            return 0.0
        first, last = (p.dts if p.dts is not None else p.pts for p in (self._waiting[0], self._waiting[-1]))
        if first is None or last is None:
            return 0.0
        return float((last - first) * (self._video.time_base or 0))

    def close(self) -> None:
        self._video_ended = self._audio_ended = True
        self._container.close()
        if self._own_audio is not None:
            self._own_audio.close()

    def _read(self, video: bool) -> bool:
        """Reads one packet toward the wanted stream; False once that stream has ended."""
        if not (video or self.separate_audio or self._audio_ended) and self.waiting_seconds() > WAIT_LIMIT_S:
            self._separate()
        if not video and self._audio_packets is not None:  # audio from a container of its own
            if self._audio_ended:
                return False
            packet = self._next(self._audio_packets)
            if packet is None:
                self._end_audio()
            else:
                self._decode_audio(packet)
            return packet is not None
        if self._video_ended:
            return False
        packet = self._next(self._packets)
        if packet is None:
            self._video_ended = True
            if self._audio_packets is None:
                self._end_audio()
        elif packet.stream.index == self._video.index:
            self._waiting.append(packet)
        else:
            self._decode_audio(packet)
        return packet is not None

    def _separate(self) -> None:
        """Audio from a container of its own; the first one's demuxing goes on with video alone."""
        self._packets = self._container.demux(self._video)
        self._own_audio = av.open(str(self.path))
        self._audio = self._own_audio.streams.audio[0]
        self._audio_packets = self._own_audio.demux(self._audio)
        self._mono = MonoAudio(self.rate, skip=self._made)  # the same samples come again: drop them

    def _next(self, packets: Iterator[av.Packet]) -> av.Packet | None:
        try:
            return next(packets)
        except StopIteration:
            return None
        except av.FFmpegError as e:
            raise MediaError(f"{self.path}: cannot read ({e})") from None

    def _decode_audio(self, packet: av.Packet) -> None:
        try:
            frames = self._decode(packet)
        except av.FFmpegError as e:
            raise MediaError(f"{self.path}: cannot decode audio ({e})") from None
        for frame in frames:
            self._add(self._mono.add(frame, frame.time - self._zero if frame.time is not None else 0.0))

    def _end_audio(self) -> None:
        for frame in self._decode.flush(self._audio):
            self._add(self._mono.add(frame, frame.time - self._zero if frame.time is not None else 0.0))
        self._add(self._mono.end())
        self._audio_ended = True

    def _add(self, chunks: list[np.ndarray]) -> None:
        for data in chunks:
            self._chunks.append(data)
            self._have += len(data)
            self._made += len(data)
