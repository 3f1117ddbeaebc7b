"""MUSHRA statistics against scipy and hand-worked values, BS.1534 screening, and the box plot."""

from itertools import permutations

import numpy as np
import pytest
from scipy import stats as sps

from evalsite.experiments import mushra_stats as ms
from evalsite.experiments import stats
from evalsite.experiments.mushra_stats import Page

LABELS = ["reference", "ours", "triplet", "random"]


def study():
    """Six participants, four videos; the last page of participant 5 lacks the anchor."""
    rng = np.random.default_rng(7)
    centres = {"reference": 95, "ours": 70, "triplet": 62, "random": 20}
    pages = []
    for who in range(6):
        for video in range(4):
            scores = {label: float(np.clip(round(rng.normal(c, 9)), 0, 100)) for label, c in centres.items()}
            if (who, video) == (5, 3):
                del scores["random"]
            pages.append(Page(who, video, scores))
    return pages


def test_means_and_medians_match_scipy_with_their_intervals():
    pages = study()
    for summary in ms.summaries(pages, LABELS):
        scores = ms.scores_of(pages, summary.label)
        assert summary.n == len(scores) == (23 if summary.label == "random" else 24)
        low, high = sps.t.interval(0.95, len(scores) - 1, loc=np.mean(scores), scale=sps.sem(scores))
        assert summary.mean == pytest.approx(np.mean(scores))
        assert (summary.mean - summary.ci95, summary.mean + summary.ci95) == (
            pytest.approx(low),
            pytest.approx(high),
        )
        assert summary.median == pytest.approx(np.median(scores))
        interval = sps.quantile_test(scores, p=0.5).confidence_interval(0.95)
        assert (summary.median_low, summary.median_high) == (
            pytest.approx(interval.low),
            pytest.approx(interval.high),
        )


def test_the_median_interval_is_the_order_statistic_interval_by_hand():
    # n = 10: P(Bin(10, 1/2) <= 1) = 11/1024 <= 0.025 < P(<= 2) = 56/1024, so [x(2), x(9)].
    summary = ms.summarize("a", [50, 10, 90, 30, 70, 20, 80, 40, 60, 100])
    assert (summary.median, summary.median_low, summary.median_high) == (55.0, 20.0, 90.0)
    few = ms.summarize("a", [40, 60, 80])  # too few scores for a 95% interval of the median
    assert (few.median, few.median_low, few.median_high) == (60.0, None, None)
    assert ms.summarize("a", []) == ms.MethodSummary("a", 0, None, None, None, None, None)


def test_friedman_uses_the_complete_pages_as_scipy_does():
    pages = study()
    found = ms.friedman(pages, LABELS)
    complete = [p for p in pages if len(p.scores) == 4]
    expected = sps.friedmanchisquare(*([p.scores[label] for p in complete] for label in LABELS))
    assert found.pages == 23
    assert (found.statistic, found.p) == (pytest.approx(expected.statistic), pytest.approx(expected.pvalue))
    assert ms.friedman(pages, LABELS[:2]) == ms.Friedman(24, None, None)


def test_friedman_by_hand_on_three_pages_with_the_same_ranking():
    pages = [Page(i, 0, {"a": 90 - i, "b": 50, "c": 10 + i}) for i in range(3)]
    # Rank sums 9, 6, 3: chi2 = 12 / (3 * 3 * 4) * (81 + 36 + 9) - 3 * 3 * 4 = 6.
    assert ms.friedman(pages, ["a", "b", "c"]).statistic == pytest.approx(6.0)


def test_wilcoxon_runs_one_sided_for_every_ordered_pair_on_shared_pages_with_holm():
    pages = study()
    found = ms.wilcoxon_all(pages, LABELS)
    assert [(s.a, s.b) for s in found] == list(permutations(LABELS, 2))
    for s in found:
        x, y = ms.paired_scores(pages, s.a, s.b)
        expected = sps.wilcoxon(x, y, zero_method="wilcox", alternative="greater")
        assert s.pages == len(x) == (23 if "random" in (s.a, s.b) else 24)
        assert (s.statistic, s.p) == (pytest.approx(expected.statistic), pytest.approx(expected.pvalue))
    assert [s.p_holm for s in found] == pytest.approx(stats.holm([s.p for s in found]))
    by_pair = {(s.a, s.b): s for s in found}
    assert by_pair["ours", "random"].p_holm < 0.01 < by_pair["random", "ours"].p_holm


def test_wilcoxon_by_hand_and_without_any_difference():
    pages = [
        Page(i, 0, {"a": a, "b": b}) for i, (a, b) in enumerate([(60, 50), (70, 50), (40, 50), (80, 50)])
    ]
    # Differences 10, 20, -10, 30: ranks 1.5, 3, 1.5, 4; W+ = 8.5.
    first = ms.wilcoxon_all(pages, ["a", "b"])[0]
    assert (first.a, first.b, first.statistic) == ("a", "b", 8.5)
    same = [Page(i, 0, {"a": 50, "b": 50}) for i in range(3)]
    assert ms.wilcoxon_all(same, ["a", "b"]) == []


def reference_pages(who, scores):
    return [Page(who, video, {"reference": s, "ours": 60.0}) for video, s in enumerate(scores)]


def test_bs1534_excludes_above_15_percent_of_pages_with_the_reference_below_90():
    pages = (
        reference_pages("careful", [100] * 7)
        + reference_pages("one slip in 7", [100] * 6 + [80])  # 14%: kept
        + reference_pages("two slips in 7", [100] * 5 + [80, 89.5])  # 29%: excluded
        + [Page("no reference", 0, {"ours": 10.0})]
    )
    found = ms.screen(pages, ms.Rules("reference"))
    assert found == {
        "careful": [],
        "one slip in 7": [],
        "two slips in 7": ["scored the hidden reference below 90 on 2 of 7 pages (more than 15%)"],
        "no reference": [],
    }


def test_bs1534_thresholds_are_parameters():
    pages = reference_pages("p", [100, 85, 70, 95])
    assert ms.screen(pages, ms.Rules("reference", min_reference_score=80))["p"] == [
        "scored the hidden reference below 80 on 1 of 4 pages (more than 15%)"
    ]
    assert ms.screen(pages, ms.Rules("reference", min_reference_score=80, max_share_below=0.25)) == {"p": []}


def test_the_box_plot_draws_one_box_per_scored_method_with_its_median():
    pages = study()
    ax = ms.box_chart([*pages, Page(9, 0, {"reference": 100.0})], [*LABELS, "unscored"]).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == LABELS
    medians = [line.get_ydata()[0] for line in ax.lines if line.get_color() == ms.MEDIAN_COLOUR]
    expected = [np.median(ms.scores_of(pages, label)) for label in LABELS]
    expected[0] = np.median([*ms.scores_of(pages, "reference"), 100.0])
    assert medians == pytest.approx(expected)
    assert ms.box_chart_svg(pages, LABELS).startswith("<svg")
