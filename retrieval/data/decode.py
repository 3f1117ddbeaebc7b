"""The video encoder's input: `preset.frames` square RGB frames at `preset.fps` (see media.decode)."""

import numpy as np

from media import decode_frames


def decode_video(path, preset, start: float = 0.0) -> np.ndarray:
    """uint8 [preset.frames, S, S, 3] from `start` (seconds); a clip too short is a MediaError."""
    return decode_frames(path, preset.frames, preset.fps, preset.size, start, preset.clip_seconds)
