"""Whether a probed file can be used: the one check of the project, with one wording of each problem.

Every caller (the site's import, the dataset segmenter, the workers' mux and built-clip check)
states what it needs in a `Needs` and gets the file's `MediaInfo` back, or a `MediaError` naming
the file and the first unmet need.

After a complete probe, two problems only decoding shows:
- a truncated file (a cut-off download): no stream decodes to within TRUNCATION_TOLERANCE_S of
  what its header says. Refused: players and the mux would believe the header.
- a length mismatch: the picture and the sound decode completely but their lengths differ by
  more than LENGTH_MISMATCH_S (Matroska files often do). Accepted, trimmed to the shorter stream
  (`usable_seconds`), when the trimmed file still meets the minimum length.
"""

from dataclasses import dataclass, replace

from .decode import VIDEO_TOLERANCE_S
from .probe import MediaError, MediaInfo

TRUNCATION_TOLERANCE_S = 0.5  # a file whose streams all decode this much shorter than said is truncated
LENGTH_MISMATCH_S = 0.5  # picture and sound lengths further apart than this are worth saying


@dataclass(frozen=True)
class Needs:
    """What a caller needs of a video; 0 means no limit."""

    audio: bool = False  # a soundtrack
    min_seconds: float = 0.0
    minimum: str = ""  # what sets the minimum, for the message: "VIDEO_MIN_SECONDS", "one sample"
    max_seconds: float = 0.0
    longest: str = ""  # what sets the maximum length, for the message
    max_long_side: int = 0
    max_short_side: int = 0
    largest: str = ""  # what sets the maximum size, for the message


def check_video(info: MediaInfo, needs: Needs = Needs()) -> MediaInfo:
    """The file has a picture (and a sound if needed), is complete, and is within the limits."""
    name = info.name
    if not info.has_video:
        raise MediaError(f"{name}: has no video stream (is it a sound file?)")
    if needs.audio and not info.has_audio:
        raise MediaError(f"{name}: has no audio stream")
    if not info.duration > 0:
        raise MediaError(f"{name}: duration is zero or unknown")
    check_complete(info)
    seconds = usable_seconds(info)
    if seconds < needs.min_seconds - VIDEO_TOLERANCE_S:  # a 6.4 s dataset clip may decode to 6.3999 s
        trimmed = " once trimmed to its shorter stream" if seconds < info.duration else ""
        raise MediaError(f"{name}: {seconds:.2f} s long{trimmed}, shorter than the {needs.min_seconds:g} s "
                         f"minimum ({needs.minimum or 'the shortest usable'})")
    return check_limits(info, needs)


def check_limits(info: MediaInfo, needs: Needs) -> MediaInfo:
    """The maximum length and size; these hold on the headers alone, so that a one-hour or 8K file
    is refused before it is decoded to its end."""
    name = info.name
    if needs.max_seconds and info.duration > needs.max_seconds:
        why = f" ({needs.longest})" if needs.longest else ""
        raise MediaError(f"{name}: {info.duration:.1f} s long; the limit is {needs.max_seconds:g} s{why}")
    long_side, short_side = max(info.width, info.height), min(info.width, info.height)
    max_long, max_short = needs.max_long_side, needs.max_short_side
    if (max_long and long_side > max_long) or (max_short and short_side > max_short):
        why = f" ({needs.largest})" if needs.largest else ""
        raise MediaError(f"{name}: {info.width}x{info.height} is larger than the {max_long}x{max_short} "
                         f"limit{why}; scale it down first")
    return info


def check_sound(info: MediaInfo) -> MediaInfo:
    if not info.has_audio:
        raise MediaError(f"{info.name}: has no audio stream")
    if not info.duration > 0:
        raise MediaError(f"{info.name}: duration is zero or unknown")
    check_complete(info)
    return info


def check_complete(info: MediaInfo) -> None:
    """A truncated file is a MediaError (see the module); a header-only probe passes."""
    said = [(s, s.header_duration, s.duration) for s in info.streams if s.header_duration and s.duration]
    if not info.complete or not said:
        return
    if all(decoded < header - TRUNCATION_TOLERANCE_S for _, header, decoded in said):
        stream, header, decoded = said[0]
        raise MediaError(f"{info.name}: truncated: its header says {header:.2f} s but the {stream.kind} "
                         f"stream decodes only {decoded:.2f} s")


def usable_seconds(info: MediaInfo) -> float:
    """How long the file is as used: trimmed to its sound when the sound is shorter than the
    picture by more than LENGTH_MISMATCH_S (complete probe), else its duration (the picture's)."""
    return info.duration - max(length_mismatch(info) or 0.0, 0.0)


def trimmed(info: MediaInfo, seconds: float | None) -> MediaInfo:
    """`info` of a file used only up to `seconds` (what `usable_seconds` found at import), where
    that is shorter than its header by more than LENGTH_MISMATCH_S; else `info` as it is."""
    if not seconds or info.video is None or seconds >= info.duration - LENGTH_MISMATCH_S:
        return info
    streams = tuple(replace(s, duration=min(s.duration or seconds, seconds)) for s in info.streams)
    return replace(info, streams=streams)


def length_mismatch(info: MediaInfo) -> float | None:
    """Picture minus sound, in seconds, when they differ by more than LENGTH_MISMATCH_S after a
    complete probe; else None. A longer sound is cut at the picture's end, as always."""
    if not (info.complete and info.video and info.audio and info.video.duration and info.audio.duration):
        return None
    diff = info.video.duration - info.audio.duration
    return diff if abs(diff) > LENGTH_MISMATCH_S else None


def describe_length(info: MediaInfo) -> str:
    """'' or what an import line says of a length mismatch and how it is treated."""
    diff = length_mismatch(info)
    if diff is None:
        return ""
    if diff > 0:
        return f"; length mismatch: the sound is {diff:.2f} s shorter than the picture, trimmed to " \
               f"{usable_seconds(info):.2f} s"
    return f"; length mismatch: the sound is {-diff:.2f} s longer than the picture, cut at its end"
