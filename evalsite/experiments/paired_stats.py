"""Statistics of a paired comparison: preference shares, CMOS and Bradley-Terry strengths.

Pure functions on plain records; no Django. A `Judgement` is one answer to one trial: the
method shown first, the one shown second, and a score that is positive when the second fits
the video better (two-alternative forced choice: -1 or +1; ITU-T P.808 CCR: -3 .. +3, 0 for
"about the same"). Per unordered pair of methods: the share of non-tied answers preferring each,
with a Wilson 95% interval and a two-sided exact binomial (sign) test, Holm over all pairs; for
CCR the mean CMOS with a Student-t 95% interval and a Wilcoxon signed-rank test, Holm over all
pairs. Overall: Bradley-Terry strengths (log scale, mean 0) fitted by `choix`, with 95%
intervals from the observed Fisher information.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import choix
import numpy as np
from scipy import stats as sps
from scipy.sparse.csgraph import connected_components

from . import stats


@dataclass(frozen=True)
class Judgement:
    first: str
    second: str
    score: int  # > 0: the second fits better; < 0: the first; 0: no difference (CCR only)


def oriented(j: Judgement, a: str, b: str) -> int:
    """The score as "b better than a" whatever the order of presentation."""
    return j.score if (j.first, j.second) == (a, b) else -j.score


def scores_for(judgements: Sequence[Judgement], a: str, b: str) -> list[int]:
    """Every answer on the pair {a, b}, oriented as "b better than a"."""
    return [oriented(j, a, b) for j in judgements if {j.first, j.second} == {a, b}]


def pairs_of(judgements: Sequence[Judgement]) -> list[tuple[str, str]]:
    """The unordered pairs that were judged, each as (a, b) with a < b."""
    return sorted(
        {(min(j.first, j.second), max(j.first, j.second)) for j in judgements if j.first != j.second}
    )


@dataclass(frozen=True)
class Preference:
    """How often `a` was preferred to `b` among the answers that preferred one of them."""

    a: str
    b: str
    wins_a: int
    wins_b: int
    ties: int
    share_a: float | None
    low: float | None  # Wilson 95% interval of share_a
    high: float | None
    p: float | None  # two-sided exact binomial test of share_a = 1/2
    p_holm: float | None = None

    @property
    def n(self) -> int:
        return self.wins_a + self.wins_b


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of a binomial proportion."""
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def preference(judgements: Sequence[Judgement], a: str, b: str) -> Preference:
    scores = scores_for(judgements, a, b)
    wins_a, wins_b = sum(1 for s in scores if s < 0), sum(1 for s in scores if s > 0)
    n = wins_a + wins_b
    if n == 0:
        return Preference(a, b, 0, 0, len(scores), None, None, None, None)
    low, high = wilson(wins_a, n)
    p = float(sps.binomtest(wins_a, n, 0.5, alternative="two-sided").pvalue)
    return Preference(a, b, wins_a, wins_b, len(scores) - n, wins_a / n, low, high, p)


def preferences(judgements: Sequence[Judgement]) -> list[Preference]:
    """Every judged pair's preference, Holm-corrected over the pairs that have a test."""
    found = [preference(judgements, a, b) for a, b in pairs_of(judgements)]
    return _with_holm(found)


@dataclass(frozen=True)
class Cmos:
    """Comparison mean opinion score of `b` against `a` on the CCR scale (positive: b better)."""

    a: str
    b: str
    n: int
    cmos: float | None
    ci95: float | None
    w: float | None  # Wilcoxon signed-rank statistic (zeros dropped, as Wilcoxon proposed)
    p: float | None
    p_holm: float | None = None


def cmos(judgements: Sequence[Judgement], a: str, b: str) -> Cmos:
    scores = scores_for(judgements, a, b)
    summary = stats.summarize(f"{b} vs {a}", scores)
    w = p = None
    if any(s != 0 for s in scores):
        result = sps.wilcoxon(scores, zero_method="wilcox", alternative="two-sided")
        w, p = float(result.statistic), float(result.pvalue)
    return Cmos(a, b, summary.n, summary.mos, summary.ci95, w, p)


def cmos_all(judgements: Sequence[Judgement]) -> list[Cmos]:
    """Every judged pair's CMOS, Holm-corrected over the pairs that have a test."""
    return _with_holm([cmos(judgements, a, b) for a, b in pairs_of(judgements)])


def _with_holm(found):
    tested = [i for i, item in enumerate(found) if item.p is not None]
    adjusted = stats.holm([found[i].p for i in tested]) if tested else []
    result = list(found)
    for i, p_holm in zip(tested, adjusted, strict=True):
        result[i] = replace(found[i], p_holm=p_holm)
    return result


@dataclass(frozen=True)
class Strength:
    label: str
    strength: float  # log-strength, the methods' strengths summing to 0
    low: float
    high: float


def wins_of(judgements: Sequence[Judgement]) -> list[tuple[str, str]]:
    """(winner, loser) of every answer that preferred one version; ties carry no win."""
    return [(j.second, j.first) if j.score > 0 else (j.first, j.second) for j in judgements if j.score != 0]


def bt_hessian(strengths: np.ndarray, indexed: Sequence[tuple[int, int]]) -> np.ndarray:
    """The Hessian of the Bradley-Terry negative log-likelihood: the observed Fisher information."""
    info = np.zeros((len(strengths), len(strengths)))
    for win, lose in indexed:
        p = 1 / (1 + math.exp(strengths[lose] - strengths[win]))
        v = p * (1 - p)
        info[[win, lose], [win, lose]] += v
        info[[win, lose], [lose, win]] -= v
    return info


def bradley_terry(
    labels: Sequence[str], wins: Sequence[tuple[str, str]], confidence: float = 0.95
) -> list[Strength]:
    """Maximum-likelihood Bradley-Terry log-strengths (mean 0) with Wald intervals.

    The fit is `choix.ilsr_pairwise` without regularisation, so it is the plain maximum of the
    likelihood. That maximum is finite only when the graph "a beat b" is strongly connected
    (every method has beaten, through some chain, every other); otherwise a ValueError says so.
    Under the mean-0 constraint the covariance is the Moore-Penrose inverse of the information,
    whose null space is exactly the shift that the constraint removes.
    """
    index = {label: i for i, label in enumerate(labels)}
    indexed = [(index[w], index[lose]) for w, lose in wins]
    graph = np.zeros((len(labels), len(labels)))
    for w, lose in indexed:
        graph[w, lose] = 1
    parts, _ = connected_components(graph, directed=True, connection="strong")
    if len(labels) < 2 or parts != 1:
        raise ValueError(
            "Bradley-Terry strengths need every method to have won and lost against the others "
            "through some chain of answers; these answers give no finite estimate"
        )
    theta = choix.ilsr_pairwise(len(labels), indexed, alpha=0.0, max_iter=10_000, tol=1e-12)
    theta = theta - theta.mean()
    se = np.sqrt(np.clip(np.diag(np.linalg.pinv(bt_hessian(theta, indexed))), 0, None))
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    return [
        Strength(label, float(theta[i]), float(theta[i] - z * se[i]), float(theta[i] + z * se[i]))
        for label, i in index.items()
    ]


def preference_matrix(labels: Sequence[str], judgements: Sequence[Judgement]) -> np.ndarray:
    """Row a, column b: the share of non-tied answers on {a, b} preferring a (NaN: no answers)."""
    matrix = np.full((len(labels), len(labels)), np.nan)
    for (i, a), (k, b) in combinations(enumerate(labels), 2):
        share = preference(judgements, a, b).share_a
        if share is not None:
            matrix[i, k], matrix[k, i] = share, 1 - share
    return matrix


def strengths_chart_svg(strengths: Sequence[Strength]) -> str:
    """Bradley-Terry log-strengths with their 95% intervals, strongest on top, as an inline SVG."""
    return stats.svg_of(strengths_chart(strengths))


def strengths_chart(strengths: Sequence[Strength]):
    """The chart of `strengths_chart_svg` as a matplotlib Figure."""
    from matplotlib.figure import Figure

    shown = sorted(strengths, key=lambda s: s.strength)
    fig = Figure(figsize=(5.5, 0.9 + 0.45 * len(shown)))
    ax = fig.subplots()
    y = np.arange(len(shown))
    centres = np.array([s.strength for s in shown])
    errors = np.array([[s.strength - s.low for s in shown], [s.high - s.strength for s in shown]])
    ax.errorbar(centres, y, xerr=errors, fmt="o", color="#2b4c7e", capsize=4)
    ax.axvline(0, color="#888", linestyle="--", linewidth=1)
    ax.set_yticks(y, [_label(s.label) for s in shown])
    ax.set_xlabel("Bradley-Terry log-strength (95% CI)")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def matrix_chart_svg(labels: Sequence[str], matrix: np.ndarray) -> str:
    """The pairwise preference matrix as a heat map (row preferred to column), as an inline SVG."""
    return stats.svg_of(matrix_chart(labels, matrix))


def matrix_chart(labels: Sequence[str], matrix: np.ndarray):
    """The chart of `matrix_chart_svg` as a matplotlib Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.6 + 0.9 * len(labels), 1.2 + 0.8 * len(labels)))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(matrix), vmin=0, vmax=1, cmap="RdBu")
    names = [_label(label) for label in labels]
    ax.set_xticks(range(len(labels)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), names)
    for (i, k), value in np.ndenumerate(matrix):
        if not np.isnan(value):
            ax.text(k, i, f"{value:.2f}", ha="center", va="center", fontsize="small")
    fig.colorbar(image, ax=ax, label="share preferring the row")
    fig.tight_layout()
    return fig


def _label(label: str) -> str:
    return label.replace("$", r"\$")  # "$" would start matplotlib mathtext
