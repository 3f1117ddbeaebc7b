from collections import Counter

import pytest

from evalsite.rating.design import Clip, plan

METHODS = [10, 11, 12]


def grid(videos, methods=METHODS):
    return [Clip(pk=100 * v + m, video=v, method=m) for v in range(videos) for m in methods]


def test_it_gives_every_test_clip_in_a_seeded_order_in_the_full_design():
    tests = grid(4)
    first = plan("full", tests, methods=METHODS, seed=7, sequence=0)
    assert sorted(first, key=lambda c: c.pk) == sorted(tests, key=lambda c: c.pk)
    assert plan("full", list(reversed(tests)), methods=METHODS, seed=7, sequence=0) == first
    others = [plan("full", tests, methods=METHODS, seed=7, sequence=s) for s in range(1, 6)]
    assert any(order != first for order in others)
    assert plan("full", tests, methods=METHODS, seed=8, sequence=0) != first


def test_it_balances_methods_latin_square_style():
    tests = grid(3)
    rows = [plan("balanced", tests, methods=METHODS, seed=1, sequence=s) for s in range(3)]
    for row in rows:  # each video once, each method once per participant
        assert sorted(c.video for c in row) == [0, 1, 2]
        assert sorted(c.method for c in row) == METHODS
    pairs = Counter((c.video, c.method) for row in rows for c in row)
    assert set(pairs) == {(c.video, c.method) for c in tests} and set(pairs.values()) == {1}


def test_it_rotates_videos_when_a_participant_rates_fewer_clips_than_there_are_videos():
    tests = grid(6)
    rows = [plan("balanced", tests, methods=METHODS, seed=1, sequence=s, clips=3) for s in range(6)]
    for row in rows:
        assert len(row) == 3 and len({c.video for c in row}) == 3
        assert sorted(c.method for c in row) == METHODS
    assert set(Counter(c.video for row in rows for c in row).values()) == {3}
    assert set(Counter((c.video, c.method) for row in rows for c in row).values()) == {1}


def test_it_mixes_gold_and_trap_clips_in_at_seeded_positions_never_first():
    tests = grid(3)
    gold = [Clip(1, 0), Clip(2, 1)]
    trap = [Clip(3, 2)]
    orders = [
        plan("full", tests, methods=METHODS, seed=3, sequence=s, gold=(gold, 1), trap=(trap, 1))
        for s in range(20)
    ]
    for order in orders:
        extra = [c for c in order if c.method is None]
        assert len(order) == 11 and len(extra) == 2 and Clip(3, 2) in extra
        assert order[0].method is not None
    assert len({tuple(c.pk for c in o) for o in orders}) > 1
    assert orders[5] == plan(
        "full", tests, methods=METHODS, seed=3, sequence=5, gold=(gold, 1), trap=(trap, 1)
    )


def test_it_leaves_out_a_stimulus_that_was_not_built():
    tests = [c for c in grid(3) if (c.video, c.method) != (1, 11)]
    row = plan("balanced", tests, methods=METHODS, seed=1, sequence=0)
    assert [(c.video, c.method) for c in sorted(row, key=lambda c: c.video)] == [(0, 10), (2, 12)]


def test_it_names_an_unknown_design():
    with pytest.raises(ValueError, match="unknown assignment design 'latin'"):
        plan("latin", grid(1), methods=METHODS, seed=0, sequence=0)
