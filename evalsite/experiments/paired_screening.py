"""Screening of paired-comparison participants in the spirit of ITU-T P.808: consistency and gold.

Pure functions on plain records; no Django. A participant's consistency trial repeats one of
their test trials with the order swapped: the two answers are inconsistent when they prefer
different versions (on the CCR scale: scores of opposite sign once oriented the same way). A gold
trial sets the original soundtrack against a clearly wrong one: it fails unless the original is
preferred ("about the same" fails too).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rules:
    max_inconsistent: int | None = 0  # None turns a rule off
    max_gold_failures: int | None = 0


@dataclass(frozen=True)
class Answer:
    video: int
    first: str
    second: str
    score: int  # > 0: the second fits better
    role: str = "test"  # test, consistency or gold
    original: str | None = None  # gold: the version that must win

    def towards(self, version: str) -> int:
        """The score oriented as "`version` is better"."""
        return self.score if self.second == version else -self.score


@dataclass
class ParticipantAnswers:
    id: object
    answers: Sequence[Answer] = field(default_factory=list)


def failed_gold(answer: Answer) -> bool:
    return answer.role == "gold" and answer.original is not None and answer.towards(answer.original) <= 0


def inconsistencies(answers: Sequence[Answer]) -> int:
    """Consistency trials whose answer contradicts the test answer on the same video and pair."""
    tests = {(a.video, frozenset((a.first, a.second))): a for a in answers if a.role == "test"}
    count = 0
    for repeat in (a for a in answers if a.role == "consistency"):
        original = tests.get((repeat.video, frozenset((repeat.first, repeat.second))))
        if original is not None and original.towards(repeat.second) * repeat.towards(repeat.second) < 0:
            count += 1
    return count


def reasons(record: ParticipantAnswers, rules: Rules) -> list[str]:
    """Every rule the participant breaks, in words; an empty list keeps the participant."""
    found = []
    for limit, failures, noun in (
        (rules.max_inconsistent, inconsistencies(record.answers), "inconsistent repeated pair"),
        (rules.max_gold_failures, sum(map(failed_gold, record.answers)), "failed gold pair"),
    ):
        if limit is not None and failures > limit:
            found.append(f"{failures} {noun}{'s' if failures != 1 else ''} (limit {limit})")
    return found


def screen(records: Iterable[ParticipantAnswers], rules: Rules) -> dict[object, list[str]]:
    """Participant id -> reasons for exclusion, for every participant (empty list: kept)."""
    return {record.id: reasons(record, rules) for record in records}
