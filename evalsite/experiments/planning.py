"""Sample-size planning by simulating the planned analysis. Pure functions, no Django.

Each method's ratings are a distribution over the five scores: either a normal with an assumed
MOS and SD, rounded to 1..5 (`from_mos`), or the kept test ratings of a pilot experiment
(`from_ratings`). For each number of recruited participants N the simulation keeps
round(N * (1 - exclusion)) of them (the screening), gives each method as many ratings as the
experiment's design does (`ratings_per_method`), and runs the results page's own analysis on
every simulated study at once: one-sided Mann-Whitney U for every ordered pair of methods,
Holm over all of them (`stats.one_sided_p`, `stats.holm_array`). Power of "A > B" is the share
of simulated studies where its Holm-adjusted p is below alpha, with its Monte Carlo error.

Because the analysis tests both directions of every pair, two equal methods give a false
"A > B" in alpha / 2 of the studies, and a false result in either direction in alpha.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations

import numpy as np
from scipy import stats as sps

from . import stats

SCORES = np.arange(1, 6)
MAX_DRAWS = 10_000_000  # simulated ratings per number of participants (about 80 MB)


def from_mos(mos: float, sd: float) -> np.ndarray:
    """Probabilities of scores 1..5 when a normal(mos, sd) rating is rounded and clipped to the scale."""
    if not sd > 0:
        raise ValueError(f"the SD must be positive, got {sd}")
    edges = np.array([-np.inf, 1.5, 2.5, 3.5, 4.5, np.inf])
    return np.diff(sps.norm.cdf(edges, loc=mos, scale=sd))


def from_ratings(scores: Sequence[int]) -> np.ndarray:
    """The empirical distribution of a pilot's ratings over the scores 1..5."""
    values = np.asarray(scores, dtype=int)
    if len(values) == 0:
        raise ValueError("the pilot has no kept ratings of this method")
    if np.any((values < 1) | (values > 5)):
        raise ValueError("pilot scores must be 1..5")
    return np.bincount(values, minlength=6)[1:] / len(values)


def ratings_per_method(design: str, kept: int, videos: int, methods: int, clips: int | None = None) -> int:
    """Test ratings one method receives from `kept` participants under the experiment's design.

    Full: every participant rates every video with every method. Balanced: each participant
    rates `clips` videos (default: all), each with one method, methods rotating evenly.
    """
    if design == "full":
        return kept * videos
    if design == "balanced":
        return (kept * min(clips or videos, videos)) // max(methods, 1)
    raise ValueError(f"unknown design {design!r} (expected 'full' or 'balanced')")


@dataclass(frozen=True)
class Point:
    participants: int
    kept: int
    ratings: int  # per method
    power: dict  # (a, b) -> share of simulated studies with Holm p(a > b) < alpha
    any_false: float  # share with at least one rejection of a true "no difference or worse"

    def mc_error(self, pair) -> float:
        """Monte Carlo standard error of the power of `pair`."""
        return float(math.sqrt(self.power[pair] * (1 - self.power[pair]) / self.simulations))

    simulations: int = 0


def simulate(
    distributions: Mapping[str, np.ndarray],
    participants: Sequence[int],
    *,
    design: str = "full",
    videos: int = 1,
    clips: int | None = None,
    exclusion: float = 0.0,
    alpha: float = 0.05,
    simulations: int = 1000,
    seed: int = 0,
    family: Sequence[tuple[str, str]] | None = None,
) -> list[Point]:
    """Power of each pair of `family` (None: every ordered pair), Holm-corrected over the family as
    the results are, at each number of recruited participants."""
    labels = list(distributions)
    if len(labels) < 2:
        raise ValueError("planning needs at least two methods")
    if not 0 <= exclusion < 1:
        raise ValueError(f"the exclusion rate must be in [0, 1), got {exclusion}")
    largest = ratings_per_method(
        design, int(round(max(participants) * (1 - exclusion))), videos, len(labels), clips
    )
    if simulations * largest * len(labels) > MAX_DRAWS:
        raise ValueError(
            f"{simulations} simulations of {max(participants)} participants draw "
            f"{simulations * largest * len(labels):,} ratings, more than {MAX_DRAWS:,}: "
            "use fewer simulations or fewer participants"
        )
    means = {label: float(SCORES @ distributions[label]) for label in labels}
    pairs = list(permutations(labels, 2)) if family is None else list(family)
    if not pairs or not {label for pair in pairs for label in pair} <= set(labels):
        raise ValueError(f"the comparisons {pairs} need methods among {labels}")
    rng = np.random.default_rng(seed)
    points = []
    for n in participants:
        kept = int(round(n * (1 - exclusion)))
        per_method = ratings_per_method(design, kept, videos, len(labels), clips)
        if per_method < 1:
            points.append(Point(n, kept, per_method, {pair: 0.0 for pair in pairs}, 0.0, simulations))
            continue
        draws = {
            label: rng.choice(SCORES, size=(simulations, per_method), p=distributions[label])
            for label in labels
        }
        p = np.column_stack([stats.one_sided_p(draws[a], draws[b], axis=1)[1] for a, b in pairs])
        rejected = stats.holm_array(p) < alpha
        power = {pair: float(rejected[:, i].mean()) for i, pair in enumerate(pairs)}
        # A rejection of "a > b" is false when a is not really rated higher than b.
        false = [i for i, (a, b) in enumerate(pairs) if means[a] <= means[b] + 1e-12]
        any_false = float(rejected[:, false].any(axis=1).mean()) if false else 0.0
        points.append(Point(n, kept, per_method, power, any_false, simulations))
    return points


def normal_approximation_power(p_a, p_b, n_a: int, n_b: int, alpha: float) -> float:
    """Noether's (1987) large-sample power of the one-sided Mann-Whitney test of a > b at `alpha`.

    With ties: theta = P(A > B) + P(A = B) / 2 from the two score distributions, and the null SD
    of U / (n_a n_b) with the tie correction of the pooled distribution.
    """
    p_a, p_b = np.asarray(p_a, dtype=float), np.asarray(p_b, dtype=float)
    below_b = np.concatenate([[0.0], np.cumsum(p_b)[:-1]])
    theta = float(np.sum(p_a * (below_b + p_b / 2)))
    n = n_a + n_b
    pooled = (n_a * p_a + n_b * p_b) / n
    variance = (n + 1 - n * np.sum(pooled**3)) / (12 * n_a * n_b)
    return float(sps.norm.cdf((theta - 0.5) / math.sqrt(variance) - sps.norm.ppf(1 - alpha)))


def smallest_n(points: Sequence[Point], pair, target: float = 0.8) -> int | None:
    """The fewest recruited participants of the curve whose power for `pair` reaches `target`."""
    for point in sorted(points, key=lambda p: p.participants):
        if point.power[pair] >= target:
            return point.participants
    return None


def power_sentence(points: Sequence[Point], pair, alpha: float, target: float = 0.8) -> str:
    """What the curve says of `pair`: the fewest participants that reach `target`, or, plainly,
    that none of the numbers tried reaches it and the most power any of them gives."""
    n = smallest_n(points, pair, target)
    if n is not None:
        power = next(p.power[pair] for p in points if p.participants == n)
        return f"With {n} participants: power {power:.2f} for {pair[0]} > {pair[1]} at alpha {alpha:g}"
    tried = sorted(p.participants for p in points)
    span = f"{tried[0]} to {tried[-1]}" if len(tried) > 1 else f"{tried[0]}"
    best = max(points, key=lambda p: (p.power[pair], -p.participants))
    return (
        f"{pair[0]} > {pair[1]}: power does not reach {target:.2f} within {span} participants tried; "
        f"the most it reaches is {best.power[pair]:.2f} (with {best.participants} participants, "
        f"alpha {alpha:g}). Simulate more participants to find where it does."
    )


def power_chart_svg(points: Sequence[Point], pairs, alpha: float, target: float = 0.8) -> str:
    """Power against recruited participants, one line per comparison, as an inline SVG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.subplots()
    ns = [p.participants for p in points]
    for pair in pairs:
        label = f"{pair[0]} > {pair[1]}".replace("$", r"\$")  # "$" would start mathtext
        ax.plot(ns, [p.power[pair] for p in points], marker="o", label=label)
    ax.axhline(target, color="#888", linestyle="--", linewidth=1)
    ax.set_xlabel("participants recruited")
    ax.set_ylabel(f"power (Holm, alpha {alpha:g})")
    ax.set_ylim(0, 1.02)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower right", fontsize="small", frameon=False)
    fig.tight_layout()
    return stats.svg_of(fig)
