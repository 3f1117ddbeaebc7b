"""MOS, confidence intervals, Mann-Whitney U and Holm against scipy and hand-worked values."""

import math
import re

import numpy as np
import pytest
from scipy import stats as sps

from evalsite.experiments import stats

# Fixed ratings with many ties and unequal group sizes, as a five-point scale produces.
PROPOSED = [5, 4, 4, 5, 3, 4, 5, 4, 4, 3, 5, 4]
TRIPLET = [3, 4, 2, 3, 3, 4, 3, 2, 4, 3]
RANDOM = [2, 3, 1, 2, 3, 2, 2]


def test_it_matches_scipy_for_mos_sd_and_student_t_interval():
    s = stats.summarize("proposed", PROPOSED)
    low, high = sps.t.interval(0.95, len(PROPOSED) - 1, loc=np.mean(PROPOSED), scale=sps.sem(PROPOSED))
    assert s.n == 12
    assert s.mos == pytest.approx(np.mean(PROPOSED))
    assert s.sd == pytest.approx(np.std(PROPOSED, ddof=1))
    assert (s.ci_low, s.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_it_gives_no_sd_or_interval_for_fewer_than_two_ratings():
    assert stats.summarize("a", []) == stats.Summary("a", 0, None, None, None)
    one = stats.summarize("a", [4])
    assert (one.n, one.mos, one.sd, one.ci95) == (1, 4.0, None, None)


def test_it_runs_one_sided_mann_whitney_for_every_ordered_pair_with_ties_and_unequal_sizes():
    groups = {"proposed": PROPOSED, "triplet": TRIPLET, "random": RANDOM}
    comparisons = stats.compare_all(groups)
    assert [(c.a, c.b) for c in comparisons] == [
        ("proposed", "triplet"), ("proposed", "random"), ("triplet", "proposed"),
        ("triplet", "random"), ("random", "proposed"), ("random", "triplet"),
    ]  # fmt: skip
    for c in comparisons:
        expected = sps.mannwhitneyu(groups[c.a], groups[c.b], alternative="greater")
        assert c.u == pytest.approx(expected.statistic)
        assert c.p == pytest.approx(expected.pvalue)
        n = len(groups[c.a]) * len(groups[c.b])
        assert c.common_language == pytest.approx(expected.statistic / n)
        assert c.rank_biserial == pytest.approx(2 * expected.statistic / n - 1)
    by_pair = {(c.a, c.b): c for c in comparisons}
    assert by_pair["proposed", "random"].stars == "**"
    assert by_pair["random", "proposed"].stars == ""
    # U of the two directions sums to n_a * n_b, ties counted half each way.
    assert by_pair["proposed", "triplet"].u + by_pair["triplet", "proposed"].u == 12 * 10


def test_it_corrects_over_the_planned_family_only():
    groups = {"a": [5, 4, 5, 4], "b": [1, 2, 2, 1], "c": [3, 3, 2, 4]}
    everything = {(c.a, c.b): c for c in stats.compare_all(groups)}
    planned = stats.compare_all(groups, [("a", "b"), ("a", "c")])
    assert [(c.a, c.b) for c in planned] == [("a", "b"), ("a", "c")]
    raw = [c.p for c in planned]
    assert raw == [everything["a", "b"].p, everything["a", "c"].p]  # the same tests
    assert [c.p_holm for c in planned] == pytest.approx(stats.holm(raw))  # Holm over these two
    assert planned[0].p_holm < everything["a", "b"].p_holm  # not over all six
    assert stats.compare_all({"a": [5], "b": []}, [("a", "b")]) == []  # a group without ratings


def test_it_counts_pairs_in_the_rank_biserial_effect_size_by_hand():
    # a = [3, 2], b = [1, 2]: pairs a>b: (3,1), (3,2), (2,1); ties (2,2) count half -> U = 3.5.
    (c, _) = stats.compare_all({"a": [3, 2], "b": [1, 2]})
    assert c.u == 3.5
    assert c.common_language == pytest.approx(3.5 / 4)
    assert c.rank_biserial == pytest.approx(0.75)


def test_it_adjusts_p_values_with_holm_step_down():
    # Sorted 0.01, 0.02, 0.03, 0.04 times 4, 3, 2, 1 = 0.04, 0.06, 0.06, 0.04; made monotone.
    assert stats.holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert stats.holm([0.5, 0.6]) == [1.0, 1.0]
    assert stats.holm([]) == []


def test_it_marks_significance_at_the_papers_thresholds():
    assert [stats.significance_stars(p) for p in (0.0099, 0.01, 0.049, 0.05)] == ["**", "*", "*", ""]


def test_it_skips_methods_without_ratings_in_comparisons():
    comparisons = stats.compare_all({"a": [4, 5], "b": [], "c": [1, 2]})
    assert {(c.a, c.b) for c in comparisons} == {("a", "c"), ("c", "a")}


def test_it_shows_a_p_value_below_float_range_as_below_1e_300_not_0():
    above, below = stats.compare_all({"a": [5] * 3000, "b": [1] * 3000})
    assert above.p == 0.0  # beyond what a float holds
    assert (above.p_text, above.p_holm_text, below.p_text) == ("< 1e-300", "< 1e-300", "1")
    assert [stats.format_p(p) for p in (0.01234567, 2e-300, 5e-301)] == ["0.01235", "2e-300", "< 1e-300"]


def test_it_draws_bars_whiskers_and_a_bracket_per_significant_pair():
    groups = {"proposed": PROPOSED, "triplet": TRIPLET, "random": RANDOM}
    summaries = [stats.summarize(k, v) for k, v in groups.items()]
    comparisons = stats.compare_all(groups)
    svg = stats.mos_chart_svg(summaries, comparisons)
    assert svg.startswith("<svg")
    significant = [c for c in comparisons if c.p_holm < 0.05]
    assert len(significant) >= 2
    # triplet > random: p 0.013 (*) but Holm p 0.051, not significant in the table: no bracket.
    assert any(c.p < 0.05 <= c.p_holm for c in comparisons)
    # Each bracket carries its stars as text; matplotlib writes text as glyph uses with a comment.
    stars = re.findall(r"<!-- (\*\*?) -->", svg)
    assert sorted(stars) == sorted(c.stars_holm for c in significant)
    assert all(label in svg for label in groups)
    assert math.isfinite(summaries[0].ci95)


@pytest.mark.parametrize("methods", [3, 5])
def test_it_keeps_every_bracket_s_stars_clear_of_the_other_brackets(methods):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    # Every pair significant: methods * (methods - 1) / 2 brackets, stacked.
    groups = {f"m{k}": [5 - k] * 30 + [4 - k] * 10 for k in range(methods)}
    summaries = [stats.summarize(k, v) for k, v in groups.items()]
    fig = stats.mos_chart(summaries, stats.compare_all(groups))
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.axes[0]
    stars = [t for t in ax.texts if t.get_text().startswith("*")]
    brackets = ax.lines[-len(stars):]
    assert len(stars) == methods * (methods - 1) // 2
    for text, own in zip(stars, brackets, strict=True):
        box = text.get_window_extent(renderer)
        for line in brackets:
            if line is not own:
                assert not box.overlaps(line.get_window_extent(renderer)), text.get_text()


def test_charts_drawn_at_once_in_several_threads_each_hold_their_own_bars():
    # As under threaded gunicorn: each chart is its own Figure, so none draws into another.
    from concurrent.futures import ThreadPoolExecutor

    def chart(i):
        groups = {f"method{i}-{k}": scores for k, scores in enumerate((PROPOSED, TRIPLET, RANDOM))}
        return i, stats.mos_chart_svg([stats.summarize(k, v) for k, v in groups.items()],
                                      stats.compare_all(groups))

    with ThreadPoolExecutor(8) as pool:
        for i, svg in pool.map(chart, range(16)):
            assert svg.startswith("<svg") and svg.count("<svg") == 1
            assert re.findall(r"<!-- (method\d+)-\d -->", svg) == [f"method{i}"] * 3


def test_it_draws_labels_with_markup_characters_literally():
    groups = {"$x$ <b>": [4, 5, 4], "a & b": [1, 2, 1]}
    svg = stats.mos_chart_svg([stats.summarize(k, v) for k, v in groups.items()], stats.compare_all(groups))
    assert "<b>" not in svg and "$x$ &lt;b&gt;" in svg and "a &amp; b" in svg


def test_spearman_matches_scipy_and_its_fisher_interval_covers_the_bootstrap():
    rng = np.random.default_rng(4)
    x = rng.normal(size=40)
    y = np.round(np.clip(3 - x + rng.normal(scale=1.2, size=40), 1, 5))
    c = stats.spearman(x, y)
    expected = sps.spearmanr(x, y)
    assert c.n == 40 and c.rho == pytest.approx(expected.statistic) and c.p == pytest.approx(expected.pvalue)
    z, se = math.atanh(c.rho), 1.06 / math.sqrt(37)
    assert (c.low, c.high) == (pytest.approx(math.tanh(z - 1.96 * se), abs=1e-3),
                               pytest.approx(math.tanh(z + 1.96 * se), abs=1e-3))
    boot = sps.bootstrap((x, y), lambda a, b: sps.spearmanr(a, b).statistic, paired=True, vectorized=False,
                         n_resamples=999, random_state=1, method="percentile").confidence_interval
    # Same interval within a tenth of its width.
    assert abs(boot.low - c.low) < 0.1 * (c.high - c.low) + 0.05
    assert abs(boot.high - c.high) < 0.1 * (c.high - c.low) + 0.05


def test_spearman_needs_four_pairs_with_variation():
    assert stats.spearman([1, 2, 3], [3, 2, 1]).rho is None
    assert stats.spearman([1, 1, 1, 1], [3, 2, 1, 4]).rho is None
