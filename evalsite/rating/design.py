"""Assignment design: which stimuli one participant rates, and in which order.

Pure functions over plain tuples (no ORM), so that a list can be reproduced and tested from the
experiment's seed and the participant's sequence number alone.
"""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Clip:
    pk: int
    video: int
    method: int | None = None


def participant_rng(seed: int, sequence: int) -> random.Random:
    # A string seed is hashed with SHA-512 by `random`: stable across runs and Python versions.
    return random.Random(f"{seed}:{sequence}")


def full_design(tests: list[Clip], rng: random.Random) -> list[Clip]:
    """Every test stimulus, in a random order (the paper's design)."""
    order = sorted(tests, key=lambda c: c.pk)
    rng.shuffle(order)
    return order


def balanced_design(
    tests: list[Clip], methods: list[int], sequence: int, clips: int | None, rng: random.Random
) -> list[Clip]:
    """Each video at most once; the method of video i is methods[(i + sequence) % M].

    That is row `sequence` of a cyclic Latin square, so M consecutive participants together see
    every (video, method) pair once. With fewer clips than videos, each participant takes the next
    block of videos in a rotation, which keeps every video equally often rated.
    """
    by_pair = {(c.video, c.method): c for c in tests}
    videos = sorted({c.video for c in tests})
    if not videos or not methods:
        return []
    count = min(clips or len(videos), len(videos))
    start = (sequence * count) % len(videos)
    chosen = []
    for j in range(count):
        index = (start + j) % len(videos)
        clip = by_pair.get((videos[index], methods[(index + sequence) % len(methods)]))
        if clip is not None:  # a stimulus that failed to build is left out, not replaced
            chosen.append(clip)
    rng.shuffle(chosen)
    return chosen


def mix_in(order: list[Clip], extra: list[Clip], count: int, rng: random.Random) -> list[Clip]:
    """Inserts `count` of the `extra` clips (gold or trap) at seeded positions, never first."""
    picked = rng.sample(sorted(extra, key=lambda c: c.pk), min(count, len(extra)))
    order = list(order)
    for clip in picked:
        order.insert(rng.randint(1, len(order)) if order else 0, clip)
    return order


def plan(
    design: str,
    tests: list[Clip],
    *,
    methods: list[int],
    seed: int,
    sequence: int,
    clips: int | None = None,
    gold: tuple[list[Clip], int] = ([], 0),
    trap: tuple[list[Clip], int] = ([], 0),
) -> list[Clip]:
    """The ordered clip list of participant number `sequence`."""
    rng = participant_rng(seed, sequence)
    if design == "balanced":
        order = balanced_design(tests, methods, sequence, clips, rng)
    elif design == "full":
        order = full_design(tests, rng)
    else:
        raise ValueError(f"unknown assignment design {design!r} (expected 'full' or 'balanced')")
    order = mix_in(order, *gold, rng)
    return mix_in(order, *trap, rng)
