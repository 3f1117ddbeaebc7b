"""The sample-size planner against known answers: the level at no effect, Noether's formula."""

import math

import numpy as np
import pytest

from evalsite.experiments import planning, stats


def test_rounded_normal_distribution_sums_to_one_and_keeps_the_mean_inside_the_scale():
    p = planning.from_mos(3.2, 0.9)
    assert p.sum() == pytest.approx(1.0)
    assert 3.0 < planning.SCORES @ p < 3.4
    assert planning.from_mos(9.0, 0.5)[-1] == pytest.approx(1.0)  # all mass clipped to 5
    with pytest.raises(ValueError, match="SD must be positive"):
        planning.from_mos(3.0, 0.0)


def test_pilot_ratings_give_their_empirical_distribution():
    assert planning.from_ratings([1, 5, 5, 3]).tolist() == [0.25, 0, 0.25, 0, 0.5]
    with pytest.raises(ValueError, match="no kept ratings"):
        planning.from_ratings([])
    with pytest.raises(ValueError, match="1..5"):
        planning.from_ratings([0, 3])


def test_ratings_per_method_follow_the_design():
    assert planning.ratings_per_method("full", 10, videos=6, methods=3) == 60
    assert planning.ratings_per_method("balanced", 10, videos=6, methods=3) == 20
    assert planning.ratings_per_method("balanced", 10, videos=6, methods=3, clips=3) == 10
    with pytest.raises(ValueError, match="unknown design"):
        planning.ratings_per_method("latin", 10, 6, 3)


def test_with_no_effect_a_false_result_comes_at_the_level_alpha():
    same = planning.from_mos(3.4, 1.0)
    (point,) = planning.simulate({"A": same, "B": same}, [30], videos=4, simulations=4000, seed=3)
    se = math.sqrt(0.05 * 0.95 / 4000)
    # Both directions are tested: alpha over the family, alpha / 2 for "A > B".
    assert abs(point.any_false - 0.05) < 3.5 * se
    assert abs(point.power["A", "B"] - 0.025) < 3.5 * math.sqrt(0.025 * 0.975 / 4000)


@pytest.mark.parametrize("participants", [20, 60])
def test_power_matches_noethers_normal_approximation_for_large_samples(participants):
    a, b = planning.from_mos(3.6, 1.0), planning.from_mos(3.35, 1.0)
    (point,) = planning.simulate({"A": a, "B": b}, [participants], videos=5, simulations=3000, seed=5)
    # Holm over the two directions: the winning direction is tested at alpha / 2.
    expected = planning.normal_approximation_power(a, b, point.ratings, point.ratings, 0.025)
    assert 0.3 < expected < 0.95
    assert abs(point.power["A", "B"] - expected) < 3.5 * point.mc_error(("A", "B")) + 0.01


def test_it_simulates_the_family_the_results_test():
    d = {"A": planning.from_mos(3.6, 1.0), "B": planning.from_mos(3.3, 1.0), "C": planning.from_mos(2.4, 1.0)}
    (every,) = planning.simulate(d, [15], videos=3, simulations=600, seed=1)
    (planned,) = planning.simulate(d, [15], videos=3, simulations=600, seed=1, family=[("A", "B")])
    assert set(planned.power) == {("A", "B")} and len(every.power) == 6
    # the same draws, one test instead of Holm over six: more power for the one planned
    assert planned.power["A", "B"] > every.power["A", "B"]
    with pytest.raises(ValueError, match="need methods among"):
        planning.simulate(d, [15], family=[("A", "D")])


def test_power_grows_with_participants_and_screening_costs_power():
    d = {"A": planning.from_mos(3.6, 1.0), "B": planning.from_mos(3.3, 1.0), "C": planning.from_mos(2.4, 1.0)}
    points = planning.simulate(d, [5, 15, 40], videos=3, simulations=600, seed=1)
    curve = [p.power["A", "B"] for p in points]
    assert curve == sorted(curve) and curve[-1] > curve[0] + 0.3
    assert points[0].power["A", "C"] > points[0].power["A", "B"]
    screened = planning.simulate(d, [15], videos=3, exclusion=0.4, simulations=600, seed=1)[0]
    assert screened.kept == 9 and screened.power["A", "B"] < points[1].power["A", "B"]
    assert planning.smallest_n(points, ("A", "C"), target=0.5) == 5
    assert planning.smallest_n(points, ("A", "B"), target=0.99) is None


def test_simulated_p_values_are_the_results_pages_own():
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 6, size=(3, 25)), rng.integers(1, 6, size=(3, 25))
    _, p = stats.one_sided_p(x, y, axis=1)
    for row in range(3):
        (c, _) = stats.compare_all({"x": x[row].tolist(), "y": y[row].tolist()})
        assert p[row] == pytest.approx(c.p)
    family = np.array([[0.01, 0.04, 0.03], [0.2, 0.001, 0.5]])
    assert stats.holm_array(family).tolist() == [stats.holm(row) for row in family.tolist()]


def test_the_planner_refuses_a_single_method_and_a_bad_exclusion_rate():
    with pytest.raises(ValueError, match="at least two methods"):
        planning.simulate({"A": planning.from_mos(3, 1)}, [10])
    same = {"A": planning.from_mos(3, 1), "B": planning.from_mos(3, 1)}
    with pytest.raises(ValueError, match="more than 10,000,000: use fewer simulations"):
        planning.simulate(same, [10, 2000], videos=100, simulations=5000)
    with pytest.raises(ValueError, match="exclusion rate"):
        planning.simulate({"A": planning.from_mos(3, 1), "B": planning.from_mos(3, 1)}, [10], exclusion=1.0)
