"""The video encoder's input: `preset.frames` square RGB frames at `preset.fps` (see media.decode).

A video shorter than the preset's window is padded the one way `media.decode_frames` pads: its
last frame stays on screen to the window's end (a player paused on it), as `seconds` allows.
"""

import numpy as np

from media import decode_frames


def decode_video(path, preset, start: float = 0.0, seconds: float | None = None) -> np.ndarray:
    """uint8 [preset.frames, S, S, 3] from `start` (seconds); a video ending before `start +
    seconds` (default: the preset's window) is a MediaError, one ending after it but inside the
    window is padded with its last frame."""
    seconds = preset.clip_seconds if seconds is None else min(seconds, preset.clip_seconds)
    return decode_frames(path, preset.frames, preset.fps, preset.size, start, seconds)
