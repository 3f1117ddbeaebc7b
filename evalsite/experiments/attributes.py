"""The questions asked about each clip: the paper's suitability question, and optional others.

Each attribute is a five-point rating stored in its own column of `rating.Rating`; the
experiment's `ask_<name>` flag turns an optional one on. Results, charts and exports go through
this list, so a new attribute is one entry here, one column and one flag.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Attribute:
    field: str  # column of rating.Rating
    name: str  # shown to researchers
    question: str  # shown to participants
    flag: str | None  # Experiment field that turns it on; None: always asked


ATTRIBUTES = [
    Attribute("score", "suitability", "How well does the sound suit the video?", None),
    Attribute("quality", "audio quality", "How good is the audio quality?", "ask_quality"),
    Attribute(
        "sync", "audio-visual synchrony", "How well are the sound and the picture in sync?", "ask_sync"
    ),
]
OPTIONAL = [a for a in ATTRIBUTES if a.flag]


def asked(experiment) -> list[Attribute]:
    """The attributes this experiment asks about, the paper's question first."""
    return [a for a in ATTRIBUTES if a.flag is None or getattr(experiment, a.flag)]
