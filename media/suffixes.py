"""File-name suffixes of media files: which files a folder scan takes for video or for sound.

The one list of the project. FFmpeg reads far more than any list: where every file is tried
anyway (the site's import), a suffix only says whether a file that does not decode was meant as
media ("failed") or not ("skipped"). Some suffixes (.ogg) hold either kind.
"""

from pathlib import Path

VIDEO_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts", ".ogv",
    ".ogg", ".3gp", ".3g2", ".flv", ".wmv", ".asf", ".vob", ".dv", ".mxf", ".nut", ".y4m", ".f4v",
})  # fmt: skip
SOUND_SUFFIXES = frozenset({
    ".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".wma", ".ac3",
    ".mka", ".caf", ".au", ".snd",
})  # fmt: skip
MEDIA_SUFFIXES = VIDEO_SUFFIXES | SOUND_SUFFIXES


def is_video_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def is_sound_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SOUND_SUFFIXES


def listed(suffixes) -> str:
    """'.aac, .ac3, ...' for a message that says which files were looked for."""
    return ", ".join(sorted(suffixes))
