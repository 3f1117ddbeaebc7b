"""Paired-comparison statistics against scipy, choix, a direct likelihood fit and hand-worked values."""

import math

import choix
import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps

from evalsite.experiments import paired_stats as ps
from evalsite.experiments import stats
from evalsite.experiments.paired_stats import Judgement


def forced_choice(a, b, wins_a, wins_b):
    """Answers on {a, b}, half shown a first, half b first (score +1: the second wins)."""
    out = []
    for i in range(wins_a):
        out.append(Judgement(a, b, -1) if i % 2 else Judgement(b, a, 1))
    for i in range(wins_b):
        out.append(Judgement(a, b, 1) if i % 2 else Judgement(b, a, -1))
    return out


# A three-method study where every method beats and loses to every other at least once.
STUDY = (
    forced_choice("ours", "triplet", 14, 6)
    + forced_choice("ours", "random", 17, 3)
    + forced_choice("random", "triplet", 5, 15)
)
LABELS = ["ours", "random", "triplet"]


def test_it_orients_answers_whatever_the_order_of_presentation():
    assert ps.scores_for(
        [Judgement("a", "b", 2), Judgement("b", "a", 3), Judgement("a", "c", 1)], "a", "b"
    ) == [
        2,
        -3,
    ]
    assert ps.wins_of([Judgement("a", "b", 1), Judgement("a", "b", -2), Judgement("a", "b", 0)]) == [
        ("b", "a"),
        ("a", "b"),
    ]


def test_the_wilson_interval_matches_scipy_and_the_hand_worked_8_of_10():
    low, high = ps.wilson(8, 10)
    assert (low, high) == (pytest.approx(0.4901624, abs=1e-6), pytest.approx(0.9433178, abs=1e-6))
    for k, n in ((0, 5), (3, 7), (20, 20), (41, 97)):
        expected = sps.binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert ps.wilson(k, n) == (pytest.approx(expected.low), pytest.approx(expected.high))


def test_preferences_match_the_exact_sign_test_and_holm():
    found = ps.preferences(STUDY)
    assert [(p.a, p.b) for p in found] == [("ours", "random"), ("ours", "triplet"), ("random", "triplet")]
    raw = []
    for p, (wins_a, n) in zip(found, [(17, 20), (14, 20), (5, 20)], strict=True):
        assert (p.wins_a, p.n, p.ties, p.share_a) == (wins_a, n, 0, pytest.approx(wins_a / n))
        assert p.p == pytest.approx(sps.binomtest(wins_a, n, 0.5).pvalue)
        raw.append(p.p)
    assert [p.p_holm for p in found] == pytest.approx(stats.holm(raw))
    # Hand-worked: 17 of 20 is two-sided 2 * P(X >= 17) = 2 * 1351 / 2**20.
    assert found[0].p == pytest.approx(2 * 1351 / 2**20)


def test_ties_leave_the_sign_test_and_a_pair_without_answers_is_untested():
    ccr = [Judgement("a", "b", 0), Judgement("a", "b", 2), Judgement("b", "a", 0), Judgement("b", "a", -1)]
    p = ps.preference(ccr, "a", "b")
    assert (p.wins_a, p.wins_b, p.ties, p.share_a) == (0, 2, 2, 0.0)
    assert p.p == pytest.approx(0.5)
    empty = ps.preference([Judgement("a", "b", 0)], "a", "b")
    assert (empty.share_a, empty.low, empty.p) == (None, None, None)
    assert ps.preferences([Judgement("a", "b", 0), *forced_choice("a", "c", 3, 1)])[0].p_holm is None


def test_cmos_matches_the_t_interval_and_scipy_s_wilcoxon_signed_rank():
    ccr = [Judgement("a", "b", s) for s in (2, 1, 0, 3, 1, -1, 2)] + [
        Judgement("b", "a", s) for s in (-2, 0, 1)
    ]
    oriented = [2, 1, 0, 3, 1, -1, 2, 2, 0, -1]
    found = ps.cmos(ccr, "a", "b")
    low, high = sps.t.interval(0.95, len(oriented) - 1, loc=np.mean(oriented), scale=sps.sem(oriented))
    assert (found.n, found.cmos) == (10, pytest.approx(0.9))
    assert (found.cmos - found.ci95, found.cmos + found.ci95) == (pytest.approx(low), pytest.approx(high))
    expected = sps.wilcoxon(oriented, zero_method="wilcox")
    assert (found.w, found.p) == (pytest.approx(expected.statistic), pytest.approx(expected.pvalue))
    # Wilcoxon's zeros dropped: ranks of |1,1,1,1,2,2,2,3| with negatives at two of the ones: 2.5 + 2.5.
    assert found.w == 5.0


def test_cmos_holm_covers_the_pairs_with_a_nonzero_answer():
    ccr = [Judgement("a", "b", s) for s in (1, 2, 3, 1)] + [Judgement("a", "c", 0), Judgement("b", "c", -1)]
    found = ps.cmos_all(ccr)
    assert [(c.a, c.b, c.p is None) for c in found] == [
        ("a", "b", False),
        ("a", "c", True),
        ("b", "c", False),
    ]
    assert [found[0].p_holm, found[2].p_holm] == pytest.approx(stats.holm([found[0].p, found[2].p]))


def negative_log_likelihood(theta, indexed):
    return sum(math.log1p(math.exp(theta[lose] - theta[win])) for win, lose in indexed)


def direct_fit(labels, wins):
    """The Bradley-Terry maximum likelihood by scipy.optimize, the first strength fixed at 0."""
    index = {label: i for i, label in enumerate(labels)}
    indexed = [(index[w], index[lose]) for w, lose in wins]

    def objective(free):
        return negative_log_likelihood(np.concatenate([[0.0], free]), indexed)

    fit = optimize.minimize(objective, np.zeros(len(labels) - 1), method="BFGS", options={"gtol": 1e-10})
    # The covariance of the free strengths from a finite-difference Hessian, mapped to mean-0 strengths.
    step = 1e-4
    free = fit.x
    hessian = np.array(
        [
            (
                optimize.approx_fprime(free + step * e, objective, 1e-6)
                - optimize.approx_fprime(free - step * e, objective, 1e-6)
            )
            / (2 * step)
            for e in np.eye(len(free))
        ]
    )
    centre = np.eye(len(labels)) - 1 / len(labels)
    to_full = centre @ np.vstack([np.zeros(len(free)), np.eye(len(free))])
    covariance = to_full @ np.linalg.inv(hessian) @ to_full.T
    return to_full @ free, np.sqrt(np.diag(covariance))


def test_bradley_terry_equals_a_direct_maximum_likelihood_fit_and_choix():
    strengths = ps.bradley_terry(LABELS, ps.wins_of(STUDY))
    theta, se = direct_fit(LABELS, ps.wins_of(STUDY))
    z = sps.norm.ppf(0.975)
    assert [s.strength for s in strengths] == pytest.approx(theta, abs=1e-5)
    assert [s.high - s.strength for s in strengths] == pytest.approx(z * se, rel=1e-3)
    assert [s.strength - s.low for s in strengths] == pytest.approx(z * se, rel=1e-3)
    index = {label: i for i, label in enumerate(LABELS)}
    by_newton = choix.opt_pairwise(3, [(index[w], index[b]) for w, b in ps.wins_of(STUDY)], alpha=0.0)
    assert [s.strength for s in strengths] == pytest.approx(by_newton - by_newton.mean(), abs=1e-5)
    assert (
        strengths[0].label == "ours" and strengths[0].strength > strengths[2].strength > strengths[1].strength
    )


def test_bradley_terry_of_two_methods_is_the_log_odds_by_hand():
    # a beats b 3 times in 4: theta_a - theta_b = log 3; Fisher information 4 p q = 3/4 for the difference.
    a, b = ps.bradley_terry(["a", "b"], [("a", "b")] * 3 + [("b", "a")])
    assert (a.strength, b.strength) == (pytest.approx(math.log(3) / 2), pytest.approx(-math.log(3) / 2))
    half_width = sps.norm.ppf(0.975) * math.sqrt(4 / 3) / 2
    assert a.high - a.strength == pytest.approx(half_width)


def test_bradley_terry_refuses_a_method_that_never_lost():
    with pytest.raises(ValueError, match="no finite estimate"):
        ps.bradley_terry(["a", "b", "c"], [("a", "b"), ("b", "a"), ("a", "c"), ("b", "c")])


def test_the_preference_matrix_is_complementary_and_blank_where_unanswered():
    matrix = ps.preference_matrix(["ours", "random", "triplet", "none"], STUDY)
    assert matrix[0, 1] == pytest.approx(0.85) and matrix[1, 0] == pytest.approx(0.15)
    assert matrix[2, 1] == pytest.approx(0.75)
    assert np.isnan(matrix[3]).all() and np.isnan(np.diag(matrix)).all()


def test_the_strengths_chart_draws_each_interval_strongest_on_top():
    strengths = ps.bradley_terry(LABELS, ps.wins_of(STUDY))
    ax = ps.strengths_chart(strengths).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["random", "triplet", "ours"]
    points = ax.lines[0].get_xydata()
    assert points[:, 0] == pytest.approx(sorted(s.strength for s in strengths))
    assert ps.strengths_chart_svg(strengths).startswith("<svg")


def test_the_matrix_chart_writes_every_answered_share_and_keeps_markup_literal():
    labels = ["ours", "$x$ <b>", "triplet"]
    rename = {"random": "$x$ <b>"}
    judgements = [
        Judgement(rename.get(j.first, j.first), rename.get(j.second, j.second), j.score) for j in STUDY
    ]
    matrix = ps.preference_matrix(labels, judgements)
    texts = sorted(t.get_text() for t in ps.matrix_chart(labels, matrix).axes[0].texts)
    assert texts == sorted(["0.85", "0.15", "0.70", "0.30", "0.25", "0.75"])
    svg = ps.matrix_chart_svg(labels, matrix)
    assert "<b>" not in svg and "$x$ &lt;b&gt;" in svg
