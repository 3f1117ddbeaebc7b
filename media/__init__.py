"""Media files: what they hold and their decoded content, with PyAV (in-process FFmpeg).

One module for every part of the project that reads media: the dataset tools, the site's import
and upload checks, and the workers' muxing. No Django and no model code here.

- `probe(source)` tells the container format and, for each audio and video stream, its codec,
  picture size or sample rate and duration, from the headers. `probe(source, complete=True)`
  decodes every audio and video frame to the end (the check an import needs): a stream's duration
  is then how much of it really decodes, a truncated file shows it, and a stream without a
  decodable frame or a decoding error is a `MediaError`.
  Where PyAV gives up part-way, the bundled ffmpeg program's decode decides (`media.ffmpeg`).
- `check_video` / `check_sound` say whether a probed file can be used (`media.usable`: missing
  streams, truncation, length mismatch, minimum and maximum length and size), with one wording.
- `decode_audio` gives mono float32 at any rate, `decode_frames` square RGB frames at any rate;
  `RecordingReader` streams a long recording's frames and sound in one pass (`media.reader`).
- `VIDEO_SUFFIXES` / `SOUND_SUFFIXES`: the one list of media file suffixes (`media.suffixes`).

Every error is a `MediaError` whose message names the file.
"""

from .decode import (
    AUDIO_TOLERANCE_S,
    VIDEO_TOLERANCE_S,
    MonoAudio,
    decode_audio,
    decode_frames,
    square_size,
    to_square_rgb,
)
from .probe import MediaError, MediaInfo, StreamInfo, open_media, origin, probe
from .reader import RecordingReader
from .suffixes import MEDIA_SUFFIXES, SOUND_SUFFIXES, VIDEO_SUFFIXES, is_sound_file, is_video_file, listed
from .usable import (
    LENGTH_MISMATCH_S,
    TRUNCATION_TOLERANCE_S,
    Needs,
    check_complete,
    check_limits,
    check_sound,
    check_video,
    describe_length,
    trimmed,
    usable_seconds,
)

__all__ = [
    "AUDIO_TOLERANCE_S", "LENGTH_MISMATCH_S", "MEDIA_SUFFIXES", "SOUND_SUFFIXES", "TRUNCATION_TOLERANCE_S",
    "VIDEO_SUFFIXES", "VIDEO_TOLERANCE_S", "MediaError", "MediaInfo", "MonoAudio", "Needs", "RecordingReader",
    "StreamInfo", "check_complete", "check_limits", "check_sound", "check_video", "decode_audio",
    "decode_frames", "describe_length", "is_sound_file", "is_video_file", "listed", "open_media", "origin",
    "probe", "square_size", "to_square_rgb", "trimmed", "usable_seconds",
]
