"""Statistics of a listening test: MOS with confidence intervals and one-sided Mann-Whitney U tests.

Pure functions on plain sequences of scores; no Django. The figure follows the paper's Figure 3:
bars of MOS, 95% CI whiskers, brackets over the pairs that differ significantly.
"""

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class Summary:
    label: str
    n: int
    mos: float | None
    sd: float | None
    ci95: float | None  # half-width of the 95% Student-t interval

    @property
    def ci_low(self) -> float | None:
        return None if self.ci95 is None or self.mos is None else self.mos - self.ci95

    @property
    def ci_high(self) -> float | None:
        return None if self.ci95 is None or self.mos is None else self.mos + self.ci95


@dataclass(frozen=True)
class Comparison:
    """H1: scores of `a` are stochastically greater than those of `b`."""

    a: str
    b: str
    u: float
    p: float
    p_holm: float
    rank_biserial: float  # 2U/(n_a n_b) - 1: +1 every a above every b, 0 no tendency
    common_language: float  # U/(n_a n_b): P(a > b) + P(a = b)/2

    @property
    def stars(self) -> str:
        return significance_stars(self.p)

    @property
    def p_text(self) -> str:
        return format_p(self.p)

    @property
    def p_holm_text(self) -> str:
        return format_p(self.p_holm)

    @property
    def stars_holm(self) -> str:
        return significance_stars(self.p_holm)


def format_p(p: float) -> str:
    """A p-value for the page: 4 significant digits; one below float range (computed as 0, or
    beyond 1e-300) is shown as "< 1e-300", never as 0."""
    return "< 1e-300" if p < 1e-300 else f"{p:.4g}"


def significance_stars(p: float) -> str:
    if p < 0.01:
        return "**"
    if p < 0.05:
        return "*"
    return ""


def summarize(label: str, scores: Sequence[float], confidence: float = 0.95) -> Summary:
    x = np.asarray(scores, dtype=float)
    n = len(x)
    if n == 0:
        return Summary(label, 0, None, None, None)
    mos = float(x.mean())
    if n < 2:
        return Summary(label, 1, mos, None, None)
    sd = float(x.std(ddof=1))
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))
    return Summary(label, n, mos, sd, half)


def holm(pvalues) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    return holm_array(np.asarray(pvalues, dtype=float)).tolist()


def holm_array(p: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni over the last axis, so many simulated families adjust at once."""
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * (m - np.arange(m))
    # Step-down: each adjusted p is at least the previous one, capped at 1.
    ranked = np.minimum(np.maximum.accumulate(ranked, axis=-1), 1.0)
    adjusted = np.empty_like(ranked)
    np.put_along_axis(adjusted, order, ranked, axis=-1)
    return adjusted


def one_sided_p(x, y, axis: int = -1):
    """One-sided Mann-Whitney U (H1: x above y), as the results page computes it; vectorised on `axis`."""
    result = sps.mannwhitneyu(x, y, alternative="greater", axis=axis)
    return result.statistic, result.pvalue


def compare_all(groups: Mapping[str, Sequence[float]],
                family: Sequence[tuple[str, str]] | None = None) -> list[Comparison]:
    """One-sided Mann-Whitney U, "a > b", for each pair of `family` (None: every ordered pair) whose
    groups both have ratings, Holm over all of them."""
    rated = {label for label, scores in groups.items() if len(scores) > 0}
    pairs = permutations([label for label in groups if label in rated], 2) if family is None else family
    raw = []
    for a, b in (pair for pair in pairs if set(pair) <= rated):
        x, y = groups[a], groups[b]
        u, p = one_sided_p(x, y)
        raw.append((a, b, float(u), float(p), len(x) * len(y)))
    adjusted = holm([item[3] for item in raw])
    return [
        Comparison(a, b, u, p, p_holm, 2 * u / nn - 1, u / nn)
        for (a, b, u, p, nn), p_holm in zip(raw, adjusted, strict=True)
    ]


@dataclass(frozen=True)
class Correlation:
    """Spearman's rank correlation with a confidence interval from Fisher's z."""

    n: int
    rho: float | None
    low: float | None
    high: float | None
    p: float | None


def spearman(x: Sequence[float], y: Sequence[float], confidence: float = 0.95) -> Correlation:
    """Spearman's rho, its two-sided p (scipy) and a CI on Fisher's z scale.

    The interval uses the standard error 1.06 / sqrt(n - 3) of Fieller, Hartley and Pearson
    (1957) for Spearman's rho, a little wider than Pearson's 1 / sqrt(n - 3). It needs n >= 4
    and two distinct values on each side; with less, rho and the interval are None.
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(xs)
    if n < 4 or len(np.unique(xs)) < 2 or len(np.unique(ys)) < 2:
        return Correlation(n, None, None, None, None)
    result = sps.spearmanr(xs, ys)
    rho = float(result.statistic)
    z = math.atanh(min(max(rho, -0.999999), 0.999999))
    half = float(sps.norm.ppf(0.5 + confidence / 2)) * 1.06 / math.sqrt(n - 3)
    return Correlation(n, rho, math.tanh(z - half), math.tanh(z + half), float(result.pvalue))


def significant_brackets(comparisons: Sequence[Comparison], alpha: float = 0.05) -> list[Comparison]:
    """The pairs the results table calls significant: by Holm-corrected p, as the chart's stars."""
    return [c for c in comparisons if c.p_holm < alpha]


# Each bracket of the chart sits this many scale points above the one below; the figure grows
# with the number of brackets at this many inches per scale point, so that a bracket's stars keep
# the same size in scale points and never reach the bracket above.
BRACKET_STEP = 0.35
INCHES_PER_POINT = 0.75


def mos_chart_svg(
    summaries: Sequence[Summary], comparisons: Sequence[Comparison], ylabel: str = "MOS (95% CI)"
) -> str:
    """Bar chart of MOS with CI whiskers and significance brackets, as an inline SVG string."""
    return svg_of(mos_chart(summaries, comparisons, ylabel))


def mos_chart(summaries: Sequence[Summary], comparisons: Sequence[Comparison], ylabel: str = "MOS (95% CI)"):
    """The chart of `mos_chart_svg` as a matplotlib Figure."""
    from matplotlib.figure import Figure

    shown = [s for s in summaries if s.n > 0]
    heights = [s.mos or 0.0 for s in shown]  # a summary of one rating or more has a MOS (1 to 5)
    position = {s.label: i for i, s in enumerate(shown)}
    top = max((s.ci_high or height for s, height in zip(shown, heights, strict=True)), default=1.0)
    brackets = [c for c in significant_brackets(comparisons) if c.a in position and c.b in position]
    ymax = max(5.0, top + BRACKET_STEP * (len(brackets) + 1))
    # A Figure of its own, not pyplot: pyplot's global state is not thread-safe (threaded gunicorn).
    fig = Figure(figsize=(max(3.5, 1.3 * len(shown) + 1.5), 1.0 + INCHES_PER_POINT * (ymax - 1.0)))
    ax = fig.subplots()
    ax.bar(
        range(len(shown)),
        heights,
        yerr=[s.ci95 or 0.0 for s in shown],
        capsize=6,
        color="#9fb8d6",
        edgecolor="#2b4c7e",
    )
    # A "$" in a label would start matplotlib mathtext.
    ax.set_xticks(range(len(shown)), [s.label.replace("$", r"\$") for s in shown])
    ax.set_ylabel(ylabel)
    _draw_brackets(ax, brackets, position, top)
    ax.set_ylim(1.0, ymax)
    # The scale ends at 5; the room above it is only for the brackets.
    ax.set_yticks(range(1, 6))
    ax.spines["left"].set_bounds(1, 5)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def svg_of(fig) -> str:
    """A matplotlib Figure as an SVG string to inline in HTML (no XML prolog)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _draw_brackets(ax, brackets, position, top):
    # Shorter brackets lower, so they nest under the long ones as in the paper's figure.
    brackets = sorted(brackets, key=lambda c: abs(position[c.a] - position[c.b]))
    for level, c in enumerate(brackets):
        x1, x2 = sorted((position[c.a], position[c.b]))
        y = top + 0.15 + BRACKET_STEP * level
        ax.plot([x1, x1, x2, x2], [y, y + 0.08, y + 0.08, y], color="black", linewidth=1)
        ax.text((x1 + x2) / 2, y + 0.09, c.stars_holm, ha="center", va="bottom")
