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
    def ci_low(self):
        return None if self.ci95 is None else self.mos - self.ci95

    @property
    def ci_high(self):
        return None if self.ci95 is None else self.mos + self.ci95


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
    def stars_holm(self) -> str:
        return significance_stars(self.p_holm)


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


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        # Step-down: each adjusted p is at least the previous one, capped at 1.
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def compare_all(groups: Mapping[str, Sequence[float]]) -> list[Comparison]:
    """One-sided Mann-Whitney U for every ordered pair of groups with ratings, Holm over all of them."""
    labels = [label for label, scores in groups.items() if len(scores) > 0]
    raw = []
    for a, b in permutations(labels, 2):
        x, y = groups[a], groups[b]
        result = sps.mannwhitneyu(x, y, alternative="greater")
        u = float(result.statistic)
        raw.append((a, b, u, float(result.pvalue), len(x) * len(y)))
    adjusted = holm([item[3] for item in raw])
    return [
        Comparison(a, b, u, p, p_holm, 2 * u / nn - 1, u / nn)
        for (a, b, u, p, nn), p_holm in zip(raw, adjusted, strict=True)
    ]


def significant_brackets(comparisons: Sequence[Comparison], alpha: float = 0.05) -> list[Comparison]:
    return [c for c in comparisons if c.p < alpha]


def mos_chart_svg(summaries: Sequence[Summary], comparisons: Sequence[Comparison]) -> str:
    """Bar chart of MOS with CI whiskers and significance brackets, as an inline SVG string."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server; must precede pyplot
    from matplotlib import pyplot as plt

    shown = [s for s in summaries if s.n > 0]
    position = {s.label: i for i, s in enumerate(shown)}
    fig, ax = plt.subplots(figsize=(max(3.5, 1.3 * len(shown) + 1.5), 4.0))
    try:
        ax.bar(
            range(len(shown)),
            [s.mos for s in shown],
            yerr=[s.ci95 or 0.0 for s in shown],
            capsize=6,
            color="#9fb8d6",
            edgecolor="#2b4c7e",
        )
        # A "$" in a label would start matplotlib mathtext.
        ax.set_xticks(range(len(shown)), [s.label.replace("$", r"\$") for s in shown])
        ax.set_ylabel("MOS (95% CI)")
        top = max((s.ci_high or s.mos for s in shown), default=1.0)
        brackets = [c for c in significant_brackets(comparisons) if c.a in position and c.b in position]
        _draw_brackets(ax, brackets, position, top)
        ax.set_ylim(1.0, max(5.0, top + 0.35 * (len(brackets) + 1)))
        # The scale ends at 5; the room above it is only for the brackets.
        ax.set_yticks(range(1, 6))
        ax.spines["left"].set_bounds(1, 5)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
    finally:
        plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prolog so it can be inlined in HTML


def _draw_brackets(ax, brackets, position, top):
    # Shorter brackets lower, so they nest under the long ones as in the paper's figure.
    brackets = sorted(brackets, key=lambda c: abs(position[c.a] - position[c.b]))
    for level, c in enumerate(brackets):
        x1, x2 = sorted((position[c.a], position[c.b]))
        y = top + 0.15 + 0.35 * level
        ax.plot([x1, x1, x2, x2], [y, y + 0.08, y + 0.08, y], color="black", linewidth=1)
        ax.text((x1 + x2) / 2, y + 0.09, c.stars, ha="center", va="bottom")
