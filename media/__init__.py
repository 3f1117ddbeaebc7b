"""Media files: what they hold and their decoded content, with PyAV (in-process FFmpeg).

One module for every part of the project that reads media: the dataset tools, the site's import
and upload checks, and the workers' muxing. No Django and no model code here.

- `probe(source)` tells the container format and, for each audio and video stream, its codec,
  picture size or sample rate and duration, from the headers. `probe(source, complete=True)`
  decodes every audio and video frame to the end (the check an import needs): a stream's duration
  is then how much of it really decodes, a truncated file shows it, and a stream without a
  decodable frame or a decoding error is a `MediaError`.
- `decode_audio` gives mono float32 at any rate, `decode_frames` square RGB frames at any rate.

Every error is a `MediaError` whose message names the file.
"""

from .decode import (
    AUDIO_TOLERANCE_S,
    VIDEO_TOLERANCE_S,
    decode_audio,
    decode_frames,
    square_size,
    to_square_rgb,
)
from .probe import MediaError, MediaInfo, StreamInfo, open_media, origin, probe

__all__ = [
    "AUDIO_TOLERANCE_S", "VIDEO_TOLERANCE_S", "MediaError", "MediaInfo", "StreamInfo", "decode_audio",
    "decode_frames", "open_media", "origin", "probe", "square_size", "to_square_rgb",
]
