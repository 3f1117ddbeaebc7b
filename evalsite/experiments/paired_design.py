"""Paired-comparison design: which pairs of versions one participant compares, in which order.

Pure functions over plain values (no ORM), seeded like the ACR design (`evalsite.rating.design`)
so that a participant's list is reproduced from the experiment's seed and the participant's
sequence number alone. A cell is a video with an unordered pair of methods; a trial shows the
cell's two versions in one order (`first`, then `second`).

- `full`: every cell once per participant, in a random order; consecutive participants see each
  cell in opposite orders.
- `balanced` (incomplete): each participant takes the next `count` trials of one endless stream
  cut into passes of V x P trials (V videos, P method pairs); every pass holds every (video,
  method pair) cell once, and each cell's order flips from one pass to the next. So a
  participant never sees a video twice (hence never the same pair twice), the method pairs
  rotate cyclically within a participant, and each run of 2 V P / gcd(2 V P, count)
  participants, counted from the first, sees every cell equally often in each order.

Two controls are mixed in: a consistency trial (one of the participant's own test trials shown
again with the order swapped, never right after it) and gold trials (the original soundtrack
against a clearly wrong one, in a seeded order).
"""

import math
import random
from dataclasses import dataclass, replace
from itertools import combinations


@dataclass(frozen=True)
class Trial:
    video: int
    first: int  # the method (or, for gold, the version) shown first
    second: int
    role: str = "test"  # test, consistency or gold

    @property
    def cell(self) -> tuple[int, frozenset[int]]:
        """The video and the unordered pair of methods: what 'the same pair' means."""
        return self.video, frozenset((self.first, self.second))

    def swapped(self, role: str | None = None) -> "Trial":
        return replace(self, first=self.second, second=self.first, role=role or self.role)


@dataclass(frozen=True)
class Gold:
    video: int
    original: int  # the version that must be preferred
    wrong: int


def participant_rng(seed: int, sequence: int) -> random.Random:
    # The ACR design's seeding, with its own prefix so both designs draw independent streams.
    return random.Random(f"paired:{seed}:{sequence}")


def method_pairs(methods: list[int]) -> list[tuple[int, int]]:
    """Every unordered pair of distinct methods, each as (smaller, larger)."""
    return list(combinations(sorted(set(methods)), 2))


def full_design(videos: list[int], methods: list[int], sequence: int, rng: random.Random) -> list[Trial]:
    """Every (video, method pair) cell once, in a random order; the order within a cell alternates
    with the participant's sequence number and the cell's index."""
    cells = [(v, pair) for v in sorted(set(videos)) for pair in method_pairs(methods)]
    trials = [_oriented(v, pair, (index + sequence) % 2) for index, (v, pair) in enumerate(cells)]
    rng.shuffle(trials)
    return trials


def stream_trial(t: int, videos: int, pairs: int) -> tuple[int, int, int]:
    """(video index, pair index, order) of trial `t` of the balanced design's endless stream.

    The pair index runs t mod P. The video runs t mod V, shifted by one more after each lcm(V, P)
    trials, so that each pass of V P trials meets every (video, pair) cell exactly once. The order
    is the pass number plus the video index, mod 2: a cell comes in the other order in the next
    pass, and within a participant the order alternates from one video to the next.
    """
    video = (t + t // math.lcm(videos, pairs)) % videos
    order = (t // (videos * pairs) + video) % 2
    return video, t % pairs, order


def balanced_design(
    videos: list[int], methods: list[int], sequence: int, count: int | None, rng: random.Random
) -> list[Trial]:
    """Trials sequence*count .. sequence*count + count - 1 of the stream, shuffled; at most one
    trial per video (count is capped at the number of videos)."""
    vs, pairs = sorted(set(videos)), method_pairs(methods)
    if not vs or not pairs:
        return []
    count = min(count or len(vs), len(vs))
    trials = []
    for t in range(sequence * count, sequence * count + count):
        video, pair, order = stream_trial(t, len(vs), len(pairs))
        trials.append(_oriented(vs[video], pairs[pair], order))
    rng.shuffle(trials)
    return trials


def _oriented(video: int, pair: tuple[int, int], order: int) -> Trial:
    first, second = pair if order == 0 else pair[::-1]
    return Trial(video, first, second)


def add_consistency(trials: list[Trial], rng: random.Random) -> list[Trial]:
    """One test trial shown again later with its order swapped, with at least one trial between."""
    tests = [i for i, trial in enumerate(trials) if trial.role == "test"]
    candidates = [i for i in tests if i + 1 < len(trials)]
    if not candidates:
        return list(trials)
    index = rng.choice(candidates)
    order = list(trials)
    order.insert(rng.randint(index + 2, len(order)), trials[index].swapped("consistency"))
    return order


def add_gold(trials: list[Trial], gold: list[Gold], count: int, rng: random.Random) -> list[Trial]:
    """`count` gold trials at seeded positions, never first, the original first or second at random."""
    picked = rng.sample(sorted(gold, key=lambda g: (g.video, g.original, g.wrong)), min(count, len(gold)))
    order = list(trials)
    for g in picked:
        trial = Trial(g.video, g.original, g.wrong, "gold")
        if rng.random() < 0.5:
            trial = trial.swapped()
        order.insert(rng.randint(1, len(order)) if order else 0, trial)
    return order


def plan(
    design: str,
    videos: list[int],
    methods: list[int],
    *,
    seed: int,
    sequence: int,
    count: int | None = None,
    consistency: bool = True,
    gold: tuple[list[Gold], int] = ([], 0),
) -> list[Trial]:
    """The ordered trial list of participant number `sequence`."""
    rng = participant_rng(seed, sequence)
    if design == "balanced":
        trials = balanced_design(videos, methods, sequence, count, rng)
    elif design == "full":
        trials = full_design(videos, methods, sequence, rng)
    else:
        raise ValueError(f"unknown paired design {design!r} (expected 'full' or 'balanced')")
    if consistency:
        trials = add_consistency(trials, rng)
    return add_gold(trials, *gold, rng)


def trials_per_pair(design: str, kept: int, videos: int, methods: int, count: int | None = None) -> float:
    """Test trials one method pair receives from `kept` participants, on average over pairs."""
    pairs = methods * (methods - 1) // 2
    if pairs == 0:
        return 0.0
    if design == "full":
        return float(kept * videos)
    if design == "balanced":
        return kept * min(count or videos, videos) / pairs
    raise ValueError(f"unknown paired design {design!r} (expected 'full' or 'balanced')")
