"""P.808-style screening of paired comparisons: the repeated pair and the gold pair."""

from evalsite.experiments.paired_screening import Answer, ParticipantAnswers, Rules, screen


def test_it_keeps_a_participant_who_answers_the_repeat_alike_and_prefers_the_original():
    answers = [
        Answer(1, "ours", "random", -1),
        Answer(2, "triplet", "ours", 1),
        Answer(1, "random", "ours", 1, "consistency"),  # swapped order, same preference
        Answer(3, "wrong", "original", 1, "gold", original="original"),
    ]
    assert screen([ParticipantAnswers("p", answers)], Rules()) == {"p": []}


def test_it_names_an_inconsistent_repeat_and_a_failed_gold_pair():
    answers = [
        Answer(1, "ours", "random", -1),
        Answer(1, "random", "ours", -1, "consistency"),  # now prefers random
        Answer(3, "original", "wrong", 1, "gold", original="original"),
        Answer(4, "wrong", "original", 0, "gold", original="original"),  # "about the same" fails too
    ]
    assert screen([ParticipantAnswers(9, answers)], Rules())[9] == [
        "1 inconsistent repeated pair (limit 0)",
        "2 failed gold pairs (limit 0)",
    ]


def test_on_the_ccr_scale_only_opposite_signs_are_inconsistent():
    def repeat(first, again):
        return [Answer(1, "a", "b", first), Answer(1, "b", "a", again, "consistency")]

    rules = Rules()
    assert screen([ParticipantAnswers(1, repeat(3, -1))], rules)[1] == []  # b better, less so
    assert screen([ParticipantAnswers(1, repeat(2, 0))], rules)[1] == []  # then "about the same"
    assert screen([ParticipantAnswers(1, repeat(2, 1))], rules)[1] == [
        "1 inconsistent repeated pair (limit 0)"
    ]


def test_limits_are_parameters_and_none_turns_a_rule_off():
    answers = [
        Answer(1, "a", "b", 1),
        Answer(1, "b", "a", 1, "consistency"),
        Answer(2, "o", "w", 1, "gold", original="o"),
    ]
    record = ParticipantAnswers(5, answers)
    assert screen([record], Rules(max_inconsistent=1, max_gold_failures=None)) == {5: []}
    assert screen([record], Rules(max_inconsistent=None))[5] == ["1 failed gold pair (limit 0)"]


def test_a_repeat_without_its_test_answer_is_not_counted():
    answers = [Answer(1, "b", "a", 1, "consistency"), Answer(2, "a", "b", -1)]
    assert screen([ParticipantAnswers(1, answers)], Rules()) == {1: []}
