"""Paired-comparison designs: balance over cells, both orders, no repeats, and the two controls."""

import math
from collections import Counter
from itertools import combinations

import pytest

from evalsite.experiments import paired_design as design
from evalsite.experiments.paired_design import Gold, Trial


def participants(design_name, videos, methods, count, n, **kwargs):
    return [
        design.plan(design_name, list(range(videos)), list(range(methods)), seed=3, sequence=s,
                    count=count, **kwargs)
        for s in range(n)
    ]  # fmt: skip


def test_it_lists_every_unordered_method_pair_once():
    assert design.method_pairs([3, 1, 2, 1]) == [(1, 2), (1, 3), (2, 3)]


def test_the_full_design_gives_every_cell_once_and_flips_its_order_for_the_next_participant():
    first, second = participants("full", 3, 3, None, 2, consistency=False)
    cells = [(v, frozenset(p)) for v in range(3) for p in combinations(range(3), 2)]
    for trials in (first, second):
        assert sorted((t.cell for t in trials), key=str) == sorted(cells, key=str)
    orders = {t.cell: (t.first, t.second) for t in first}
    assert all(orders[t.cell] == (t.second, t.first) for t in second)


@pytest.mark.parametrize(
    "videos, methods, count",
    [(4, 3, 4), (5, 3, 2), (6, 4, 3), (4, 2, 4), (3, 3, 3), (6, 3, 4), (10, 4, 7), (4, 4, 4)],
)
def test_the_balanced_design_shows_every_cell_equally_often_in_both_orders(videos, methods, count):
    pairs = methods * (methods - 1) // 2
    # The fewest participants whose trials fill whole double passes (every cell in both orders).
    n = 2 * videos * pairs // math.gcd(2 * videos * pairs, count)
    lists = participants("balanced", videos, methods, count, 2 * n, consistency=False)
    orders = [(a, b) for a in range(methods) for b in range(methods) if a != b]
    for run in (lists[:n], lists[n:]):
        shown = Counter((t.video, t.first, t.second) for trials in run for t in trials)
        assert set(shown) == {(v, a, b) for v in range(videos) for a, b in orders}
        assert set(shown.values()) == {n * count // (2 * videos * pairs)}


@pytest.mark.parametrize("videos, methods, count", [(4, 3, 4), (6, 4, 3), (10, 4, 7), (5, 5, 5)])
def test_no_participant_sees_a_video_twice_and_pairs_rotate_evenly(videos, methods, count):
    for trials in participants("balanced", videos, methods, count, 40, consistency=False):
        assert len(trials) == count
        assert len({t.video for t in trials}) == count  # hence never the same pair twice
        per_pair = Counter(frozenset((t.first, t.second)) for t in trials)
        counts = [per_pair[frozenset(p)] for p in combinations(range(methods), 2)]
        assert max(counts) - min(counts) <= 1


def test_it_caps_the_count_at_the_number_of_videos_and_is_reproducible():
    again = participants("balanced", 3, 3, 9, 2)
    assert again == participants("balanced", 3, 3, 9, 2)
    assert [sum(t.role == "test" for t in trials) for trials in again] == [3, 3]
    assert participants("balanced", 3, 3, None, 1, consistency=False)[0] != []


def test_the_consistency_trial_repeats_a_test_trial_swapped_and_never_right_after_it():
    for trials in participants("balanced", 6, 3, 5, 30):
        repeats = [i for i, t in enumerate(trials) if t.role == "consistency"]
        assert len(repeats) == 1
        repeat = trials[repeats[0]]
        original = [i for i, t in enumerate(trials) if t.role == "test" and t.cell == repeat.cell]
        assert len(original) == 1
        assert trials[original[0]].swapped("consistency") == repeat
        assert repeats[0] >= original[0] + 2


def test_a_single_trial_gets_no_consistency_repeat():
    assert design.add_consistency([Trial(1, 1, 2)], design.participant_rng(0, 0)) == [Trial(1, 1, 2)]


def test_gold_trials_are_mixed_in_never_first_with_the_original_on_either_side():
    gold = [Gold(video=v, original=100 + v, wrong=200 + v) for v in range(4)]
    sides = Counter()
    for trials in participants("full", 2, 3, None, 40, gold=(gold, 2)):
        golds = [t for t in trials if t.role == "gold"]
        assert len(golds) == 2 and trials[0].role != "gold"
        for t in golds:
            assert {t.first, t.second} == {100 + t.video, 200 + t.video}
            sides[t.first == 100 + t.video] += 1
    assert sides[True] > 0 and sides[False] > 0


def test_it_refuses_an_unknown_design():
    with pytest.raises(ValueError, match="unknown paired design 'latin'"):
        design.plan("latin", [1], [1, 2], seed=0, sequence=0)


def test_trials_per_pair_matches_the_designs():
    assert design.trials_per_pair("full", 10, 4, 3) == 40
    assert design.trials_per_pair("balanced", 12, 4, 3, count=3) == 12
    assert design.trials_per_pair("balanced", 12, 4, 1) == 0
