"""Statistics and screening of a MUSHRA-style multi-stimulus test (ITU-R BS.1534). No Django.

A `Page` is one participant's answers on one video: every method's 0-100 score, the hidden
reference included. Per method: mean with a Student-t 95% interval and median with the
distribution-free order-statistic 95% interval (`scipy.stats.quantile_test`). Across methods: a
Friedman test over the pages that score every method, and a one-sided Wilcoxon signed-rank test
"a above b" for every ordered pair on the pages that score both, Holm over all of them. Screening:
BS.1534 excludes a participant who scores the hidden reference below 90 on more than 15% of
their pages.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations

import numpy as np
from scipy import stats as sps

from . import stats


@dataclass(frozen=True)
class Page:
    participant: object
    video: int
    scores: Mapping[str, float]  # method label -> 0..100


@dataclass(frozen=True)
class MethodSummary:
    label: str
    n: int
    mean: float | None
    ci95: float | None  # half-width of the Student-t interval of the mean
    median: float | None
    median_low: float | None  # order-statistic 95% interval of the median (None: too few scores)
    median_high: float | None


def scores_of(pages: Sequence[Page], label: str) -> list[float]:
    return [page.scores[label] for page in pages if label in page.scores]


def summarize(label: str, scores: Sequence[float], confidence: float = 0.95) -> MethodSummary:
    mean = stats.summarize(label, scores, confidence)
    if not scores:
        return MethodSummary(label, 0, None, None, None, None, None)
    interval = sps.quantile_test(np.asarray(scores, dtype=float), p=0.5).confidence_interval(confidence)
    low, high = (None if math.isnan(v) or math.isinf(v) else float(v) for v in interval)
    return MethodSummary(label, mean.n, mean.mos, mean.ci95, float(np.median(scores)), low, high)


def summaries(pages: Sequence[Page], labels: Sequence[str]) -> list[MethodSummary]:
    return [summarize(label, scores_of(pages, label)) for label in labels]


@dataclass(frozen=True)
class Friedman:
    pages: int
    statistic: float | None
    p: float | None


def friedman(pages: Sequence[Page], labels: Sequence[str]) -> Friedman:
    """Friedman's test that the methods score alike, on the pages that score every method."""
    complete = [page for page in pages if all(label in page.scores for label in labels)]
    if len(labels) < 3 or len(complete) < 2:
        return Friedman(len(complete), None, None)  # scipy's test needs three methods and two pages
    result = sps.friedmanchisquare(*([page.scores[label] for page in complete] for label in labels))
    return Friedman(len(complete), float(result.statistic), float(result.pvalue))


@dataclass(frozen=True)
class Signed:
    """H1: on the same pages, `a` scores above `b` (one-sided Wilcoxon signed-rank)."""

    a: str
    b: str
    pages: int
    statistic: float
    p: float
    p_holm: float


def paired_scores(pages: Sequence[Page], a: str, b: str) -> tuple[list[float], list[float]]:
    both = [page for page in pages if a in page.scores and b in page.scores]
    return [page.scores[a] for page in both], [page.scores[b] for page in both]


def wilcoxon_all(pages: Sequence[Page], labels: Sequence[str]) -> list[Signed]:
    """One-sided Wilcoxon signed-rank "a > b" for every ordered pair with a nonzero difference,
    zeros dropped (Wilcoxon's rule), Holm over all of them."""
    raw = []
    for a, b in permutations(labels, 2):
        x, y = paired_scores(pages, a, b)
        if any(u != v for u, v in zip(x, y, strict=True)):
            result = sps.wilcoxon(x, y, zero_method="wilcox", alternative="greater")
            raw.append((a, b, len(x), float(result.statistic), float(result.pvalue)))
    adjusted = stats.holm([item[4] for item in raw]) if raw else []
    return [Signed(*item, p_holm) for item, p_holm in zip(raw, adjusted, strict=True)]


@dataclass(frozen=True)
class Rules:
    reference: str  # the label of the hidden reference
    min_reference_score: float = 90.0
    max_share_below: float = 0.15  # a share of the participant's pages, not a percentage


def reasons(pages: Sequence[Page], rules: Rules) -> list[str]:
    """BS.1534's post-screening of one participant's pages, in words; empty keeps them."""
    scored = [page.scores[rules.reference] for page in pages if rules.reference in page.scores]
    if not scored:
        return []
    below = sum(1 for score in scored if score < rules.min_reference_score)
    if below / len(scored) > rules.max_share_below:
        return [
            f"scored the hidden reference below {rules.min_reference_score:g} on {below} of "
            f"{len(scored)} pages (more than {rules.max_share_below:.0%})"
        ]
    return []


def screen(pages: Iterable[Page], rules: Rules) -> dict[object, list[str]]:
    """Participant -> reasons for exclusion, for every participant with a page (empty: kept)."""
    by_participant: dict[object, list[Page]] = {}
    for page in pages:
        by_participant.setdefault(page.participant, []).append(page)
    return {who: reasons(own, rules) for who, own in by_participant.items()}


MEDIAN_COLOUR = "#2b4c7e"


def box_chart_svg(pages: Sequence[Page], labels: Sequence[str]) -> str:
    """A box plot of the 0-100 scores per method (median, quartiles, 1.5 IQR whiskers), as SVG."""
    return stats.svg_of(box_chart(pages, labels))


def box_chart(pages: Sequence[Page], labels: Sequence[str]):
    """The chart of `box_chart_svg` as a matplotlib Figure."""
    from matplotlib.figure import Figure

    shown = [label for label in labels if scores_of(pages, label)]
    fig = Figure(figsize=(max(3.5, 1.2 * len(shown) + 1.5), 3.8))
    ax = fig.subplots()
    ax.boxplot(
        [scores_of(pages, label) for label in shown],
        showmeans=True,
        medianprops={"color": MEDIAN_COLOUR, "linewidth": 2},
    )
    ax.set_xticks(range(1, len(shown) + 1), [label.replace("$", r"\$") for label in shown])
    ax.set_ylabel("score (0-100)")
    ax.set_ylim(0, 100)
    # BS.1534's five quality-scale bands, drawn as faint lines at their borders.
    for border in (20, 40, 60, 80):
        ax.axhline(border, color="#ddd", linewidth=0.8, zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
