"""Participant screening in the spirit of ITU-T P.808: who is excluded from the analysis, and why.

Pure functions on plain records; the Django side (`results.screening_records`) builds the records.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Rules:
    audio_check: bool = True
    headphone_check: bool = False  # on when the experiment asks for the headphone check
    max_gold_failures: int | None = 0  # None turns a rule off
    max_trap_failures: int | None = 0
    min_score_sd: float | None = 0.25
    max_unplayed: int | None = 0


@dataclass(frozen=True)
class RatingRecord:
    role: str  # test, gold, trap, training
    score: int
    expected_score: int | None = None
    played: bool = True  # played to its end before it was rated


@dataclass
class ParticipantRecord:
    id: object
    audio_check_passed: bool | None
    ratings: Sequence[RatingRecord] = field(default_factory=list)
    headphone_check_passed: bool | None = None


def failed_control(rating: RatingRecord) -> bool:
    if rating.expected_score is None:
        return False
    if rating.role == "trap":
        return rating.score != rating.expected_score
    if rating.role == "gold":
        # Gold clips carry an obviously wrong sound: the expected score is the highest passing one.
        return rating.score > rating.expected_score
    return False


def _check_reasons(record: ParticipantRecord, rules: Rules):
    for asked, passed, check in (
        (rules.audio_check, record.audio_check_passed, "audio check"),
        (rules.headphone_check, record.headphone_check_passed, "headphone check"),
    ):
        if asked and passed is not True:
            yield f"{check} not taken" if passed is None else f"failed the {check}"


def reasons(record: ParticipantRecord, rules: Rules) -> list[str]:
    """Every rule the participant breaks, in words; an empty list keeps the participant."""
    found = list(_check_reasons(record, rules))
    for role, limit, noun in (
        ("gold", rules.max_gold_failures, "gold"),
        ("trap", rules.max_trap_failures, "trapping"),
    ):
        failures = sum(1 for r in record.ratings if r.role == role and failed_control(r))
        if limit is not None and failures > limit:
            found.append(f"failed {failures} {noun} clip{'s' if failures != 1 else ''} (limit {limit})")
    tests = [r.score for r in record.ratings if r.role == "test"]
    if rules.min_score_sd is not None and len(tests) >= 2:
        sd = float(np.std(tests, ddof=1))
        if sd < rules.min_score_sd:
            found.append(f"score SD {sd:.2f} below {rules.min_score_sd:g} (near-constant ratings)")
    unplayed = sum(1 for r in record.ratings if r.role != "training" and not r.played)
    if rules.max_unplayed is not None and unplayed > rules.max_unplayed:
        found.append(
            f"rated {unplayed} clip{'s' if unplayed != 1 else ''} before playing to the end "
            f"(limit {rules.max_unplayed})"
        )
    return found


def screen(records: Iterable[ParticipantRecord], rules: Rules) -> dict[object, list[str]]:
    """Participant id -> reasons for exclusion, for every participant (empty list: kept)."""
    return {record.id: reasons(record, rules) for record in records}
