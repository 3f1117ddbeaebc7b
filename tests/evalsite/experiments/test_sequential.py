"""O'Brien-Fleming alpha spending: published boundaries, and the error rate by simulation."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from evalsite.experiments import sequential, stats


def test_boundaries_match_the_published_lan_demets_obrien_fleming_values():
    # Jennison & Turnbull (2000) / R ldbounds: five equal looks, one-sided alpha 0.025.
    five = sequential.boundaries([0.2, 0.4, 0.6, 0.8, 1.0], 0.025)
    assert five == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=2e-3)
    assert sequential.boundaries([0.5, 1.0], 0.025) == pytest.approx([2.963, 1.969], abs=2e-3)
    assert sequential.boundaries([1.0], 0.05)[0] == pytest.approx(sps.norm.isf(0.05))


def test_spending_is_zero_at_the_start_and_alpha_at_the_end():
    spent = sequential.obrien_fleming_spending([0.0, 0.25, 0.5, 1.0, 1.3], 0.05)
    assert spent[0] == 0 and spent[3] == pytest.approx(0.05) and spent[4] == pytest.approx(0.05)
    assert np.all(np.diff(spent) >= 0)


def test_boundaries_refuse_fractions_that_do_not_increase():
    with pytest.raises(ValueError, match="must increase"):
        sequential.boundaries([0.5, 0.5], 0.05)


def test_a_brownian_motion_crosses_the_boundaries_with_probability_alpha():
    # Unequal looks, as kept-participant counts give: the exact law of the statistics.
    t = np.array([0.15, 0.4, 0.55, 0.9, 1.0])
    c = sequential.boundaries(t, 0.05)
    rng = np.random.default_rng(7)
    reps = 200_000
    s = np.cumsum(rng.normal(size=(reps, len(t))) * np.sqrt(np.diff(t, prepend=0.0)), axis=1)
    rate = np.mean(np.any(s / np.sqrt(t) >= c, axis=1))
    assert abs(rate - 0.05) < 4 * math.sqrt(0.05 * 0.95 / reps)


def _sequential_ratings(reps, per_look, looks, p_a, p_b, seed):
    rng = np.random.default_rng(seed)
    scores = np.arange(1, 6)
    a = rng.choice(scores, size=(reps, per_look * looks), p=p_a)
    b = rng.choice(scores, size=(reps, per_look * looks), p=p_b)
    ends = [per_look * k for k in range(1, looks + 1)]
    return [stats.one_sided_p(a[:, :end], b[:, :end], axis=1)[1] for end in ends]


def test_under_no_difference_the_false_positive_rate_stays_within_alpha():
    # Looks every 4 kept participants up to 20, 3 videos each, same five-point distribution.
    reps, alpha, looks = 3000, 0.05, 5
    same = [0.1, 0.2, 0.3, 0.25, 0.15]
    p = np.column_stack(_sequential_ratings(reps, 12, looks, same, same, seed=11))
    fractions = [k / looks for k in range(1, looks + 1)]
    rate = np.mean(np.any(p <= sequential.nominal_levels(fractions, alpha), axis=1))
    se = math.sqrt(alpha * (1 - alpha) / reps)
    assert rate <= alpha + 3 * se
    assert rate > alpha - 5 * se  # and the procedure still uses its alpha
    # Testing each look at plain alpha would not: the check can fail.
    naive = np.mean(np.any(p <= alpha, axis=1))
    assert naive > alpha + 3 * se


def test_a_real_difference_stops_early_often():
    reps, looks = 1000, 5
    p = np.column_stack(
        _sequential_ratings(reps, 12, looks, [0.05, 0.1, 0.25, 0.35, 0.25], [0.1, 0.2, 0.3, 0.25, 0.15], 3)
    )
    nominal = sequential.nominal_levels([k / looks for k in range(1, looks + 1)], 0.05)
    crossed = p <= nominal
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), looks)
    assert np.mean(first < looks - 1) > 0.5  # most studies stop before the fourth look


def test_decide_uses_the_bonferroni_share_and_keeps_earlier_decisions():
    fractions = [0.25, 0.5]
    nominal = sequential.nominal_levels(fractions, 0.05 / 2)[-1]
    rows, stop = sequential.decide(fractions, {"A > B": nominal / 2, "A > C": 0.3}, set(), 0.05, 2)
    assert rows["A > B"]["decided"] and not rows["A > C"]["decided"] and not stop
    assert rows["A > B"]["nominal"] == pytest.approx(nominal)
    rows, stop = sequential.decide([0.25, 0.5, 0.75], {"A > B": 0.9, "A > C": 1e-6}, {"A > B"}, 0.05, 2)
    assert rows["A > B"]["decided"] and rows["A > C"]["decided"] and stop
    _, stop = sequential.decide([0.5, 1.0], {"A > B": 0.9}, set(), 0.05, 1)
    assert stop  # the last look ends recruiting whatever it finds


def test_look_fractions_add_only_new_information():
    assert sequential.look_fractions([], 4, 20) == [0.2]
    assert sequential.look_fractions([0.2], 4, 20) == [0.2]
    assert sequential.look_fractions([0.2, 0.6], 25, 20) == [0.2, 0.6, 1.0]


def test_the_precision_rule_needs_every_method_within_the_target():
    assert sequential.precision_reached({"A": 0.2, "B": 0.25}, 0.25)
    assert not sequential.precision_reached({"A": 0.2, "B": 0.3}, 0.25)
    assert not sequential.precision_reached({"A": 0.2, "B": None}, 0.25)
    assert not sequential.precision_reached({}, 0.25)
