"""P.808-style screening rules on plain records."""

from evalsite.experiments.screening import ParticipantRecord, RatingRecord, Rules, screen


def scored(*scores, played=True):
    return [RatingRecord("test", s, None, played) for s in scores]


def test_it_keeps_a_careful_participant():
    record = ParticipantRecord(
        1, True, [*scored(5, 3, 1), RatingRecord("gold", 1, 2), RatingRecord("trap", 4, 4)]
    )
    assert screen([record], Rules()) == {1: []}


def test_it_names_every_broken_rule():
    record = ParticipantRecord(
        7,
        False,
        [
            *scored(3, 3, 3, 3),
            RatingRecord("gold", 5, 2),
            RatingRecord("trap", 2, 4),
            RatingRecord("trap", 1, 4),
            RatingRecord("test", 3, None, played=False),
        ],
    )
    assert screen([record], Rules())[7] == [
        "failed the audio check",
        "failed 1 gold clip (limit 0)",
        "failed 2 trapping clips (limit 0)",
        "score SD 0.00 below 0.25 (near-constant ratings)",
        "rated 1 clip before playing to the end (limit 0)",
    ]


def test_it_treats_a_missing_audio_check_as_not_passed():
    assert screen([ParticipantRecord(2, None, scored(1, 5))], Rules())[2] == ["audio check not taken"]


def test_it_lets_every_rule_be_switched_off_or_relaxed():
    record = ParticipantRecord(
        3, False, [*scored(4, 4, 4, played=False), RatingRecord("gold", 5, 2), RatingRecord("trap", 1, 4)]
    )
    off = Rules(
        audio_check=False,
        max_gold_failures=None,
        max_trap_failures=None,
        min_score_sd=None,
        max_unplayed=None,
    )
    relaxed = Rules(
        audio_check=False, max_gold_failures=1, max_trap_failures=1, min_score_sd=0.0, max_unplayed=3
    )
    assert screen([record], off) == {3: []}
    assert screen([record], relaxed) == {3: []}
    assert screen(
        [record], Rules(audio_check=False, max_gold_failures=1, max_trap_failures=1, max_unplayed=2)
    )[3] == [
        "score SD 0.00 below 0.25 (near-constant ratings)",
        "rated 3 clips before playing to the end (limit 2)",
    ]


def test_it_passes_gold_at_or_below_the_expected_score_and_traps_only_at_it():
    record = ParticipantRecord(
        4,
        True,
        [*scored(1, 5), RatingRecord("gold", 2, 2), RatingRecord("gold", 1, 2), RatingRecord("trap", 3, 4)],
    )
    assert screen([record], Rules())[4] == ["failed 1 trapping clip (limit 0)"]


def test_it_ignores_training_clips_and_needs_two_test_ratings_for_the_variance_rule():
    record = ParticipantRecord(5, True, [RatingRecord("training", 3, None, played=False), *scored(4)])
    assert screen([record], Rules()) == {5: []}


def test_it_excludes_who_failed_or_skipped_the_headphone_check_only_when_it_was_asked():
    ratings = [*scored(5, 3, 1)]
    passed, failed, skipped = (
        ParticipantRecord(n, True, ratings, h) for n, h in ((1, True), (2, False), (3, None))
    )
    assert screen([passed, failed, skipped], Rules(headphone_check=True)) == {
        1: [],
        2: ["failed the headphone check"],
        3: ["headphone check not taken"],
    }
    assert screen([passed, failed, skipped], Rules()) == {1: [], 2: [], 3: []}
