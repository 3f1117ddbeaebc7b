"""Storing a participant's rating: the rating rules, applied to one SELECT, and one INSERT.

The hot path of a study: plain SQL that PostgreSQL and SQLite run alike, compiled once per
process, with no transaction of its own beyond the INSERT's (autocommit).
"""

import datetime
import functools
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from evalsite.experiments.attributes import OPTIONAL
from evalsite.experiments.models import Experiment, Stimulus

from .models import Assignment, Participant, Rating
from .playback import NOT_PLAYED, elapsed_if_short, playback_began, played_shortfall, too_fast_policy
from .refused import Refused, refuse_unless_status
from .session import cookie_token, require_participant

ALREADY_RATED = "You have already rated this clip; each clip is rated once."


class Target(NamedTuple):
    """What the rating rules need to know about one clip of one participant (`rating_target`)."""

    assignment: int
    status: str  # the study's
    ask_quality: bool
    ask_sync: bool
    checked: bool  # audio check answered and instructions read
    earlier_unrated: bool  # the clip before this one in the participant's list is not rated
    media_served_at: datetime.datetime | None
    playback_started_at: datetime.datetime | None
    shown_at: datetime.datetime | None
    played_to_end_at: datetime.datetime | None
    duration: float | None
    stored: tuple | None  # (id, score, quality, sync) of the rating already stored

    def answer(self, score: int, attributes: dict) -> tuple:
        """(score, quality, sync) as they would be stored: an attribute not asked is None."""
        asked = {"quality": self.ask_quality, "sync": self.ask_sync}
        return (score, *(attributes.get(a.field) if asked[a.field] else None for a in OPTIONAL))


def submit_rating(request, slug: str, clip, score: int, attributes: dict | None = None) -> int:
    """Stores one score (and the optional attributes asked) of this browser's participant; returns its id.

    `attributes` maps optional attribute fields (quality, sync) to their 1..5 answers or None; an
    experiment that asks one refuses a rating without it, and one that does not ignores it.

    The hot path of a study, and the one place of the rating rules: one SELECT reads what they
    need (`rating_target`), `rating_refusal` applies them, and one INSERT stores (`_insert_rating`,
    autocommit: durable once it returns). A resend of the stored answer (its response was lost)
    is answered as the first time; any other answer to a rated clip is refused, the first kept.
    """
    target = rating_target(cookie_token(request, slug), slug, clip)
    if target is None:
        require_participant(request, slug)  # no study, a closed one, or no participant: say which
        raise Refused("This clip is not in your list of clips to rate.", 403)
    answer = target.answer(score, attributes or {})
    now = timezone.now()
    too_fast = rating_refusal(target, answer, now)
    if target.stored is not None:
        return target.stored[0]  # the answer stored, sent again: success, as the first time
    played = target.played_to_end_at is not None
    on_page = max(0, int((now - (target.shown_at or now)).total_seconds() * 1000))
    rating_id = _insert_rating(target.assignment, answer, played, on_page, too_fast, now)
    if rating_id is None:  # a simultaneous submission of this clip was stored first
        return resent(Rating.objects.values_list("pk", "score", "quality", "sync").get(
            assignment_id=target.assignment), answer)
    return rating_id


def resent(stored: tuple, answer: tuple) -> int:
    """The stored rating's id when `answer` is the one stored (score and every attribute)."""
    if tuple(stored[1:]) != answer:
        raise Refused(ALREADY_RATED, 409)
    return stored[0]


def rating_refusal(target: Target, answer: tuple, now) -> bool:
    """Raises the first rule that `answer` breaks; returns whether it is too fast (to flag).

    A clip already rated takes only the answer stored (a resend), and nothing else is checked.
    """
    refuse_unless_status(target.status)
    if not target.checked:
        raise Refused("Please finish the audio check and the instructions first.", 409)
    if target.stored is not None:
        resent(target.stored, answer)
        return False
    if target.earlier_unrated:
        raise Refused("Please rate the clips in the order they are shown.", 409)
    asked = {"quality": target.ask_quality, "sync": target.ask_sync}
    for attribute, value in zip(OPTIONAL, answer[1:], strict=True):
        if asked[attribute.field] and value is None:
            raise Refused(
                f'Please also answer "{attribute.question}" with a score from 1 (Bad) to 5 (Excellent).'
            )
    too_fast = listening_shortfall(target, now)
    if too_fast is not None and too_fast_policy() == "refuse":
        raise Refused(too_fast, 409)
    return too_fast is not None


def listening_shortfall(target: Target, now) -> str | None:
    """Why this rating comes sooner than the clip allows, or None when it does not.

    The minimum is the clip's duration less `RATING_PLAY_TOLERANCE_S`, counted from when
    playback began by the server's clock (`playback_began`); a clip whose media was never served,
    or whose playback never began, has not been heard at all. A claim of the clip's end that came
    too soon (taken only with RATING_TOO_FAST=flag) makes its rating too fast as well.
    """
    began = playback_began(target.media_served_at, target.playback_started_at)
    if began is None:
        return NOT_PLAYED
    elapsed = elapsed_if_short(began, target.duration, now)
    if elapsed is not None:
        return (f"You rated this clip {elapsed:.1f} s after it began playing, but it lasts "
                f"{target.duration:.1f} s. Please play it to the end, then rate it.")
    if target.played_to_end_at is not None:
        return played_shortfall(target.media_served_at, target.playback_started_at, target.duration,
                                target.played_to_end_at)
    return None


def _tables() -> dict:
    models = {"rating": Rating, "assignment": Assignment, "participant": Participant,
              "experiment": Experiment, "stimulus": Stimulus}
    return {name: connection.ops.quote_name(model._meta.db_table) for name, model in models.items()}


@functools.cache
def _target_sql() -> str:
    # Plain SQL that PostgreSQL and SQLite run alike: the ORM would compile it on every rating.
    return """
SELECT a.id, e.status, e.ask_quality, e.ask_sync,
       p.audio_check_passed IS NOT NULL AND p.training_done_at IS NOT NULL,
       -- Every rating is stored in order, so the clip before being rated means all before are.
       EXISTS (SELECT 1 FROM {assignment} b LEFT JOIN {rating} rb ON rb.assignment_id = b.id
               WHERE b.participant_id = a.participant_id AND b.position = a.position - 1
                 AND rb.id IS NULL),
       a.media_served_at, a.playback_started_at, a.shown_at, a.played_to_end_at, s.duration,
       r.id, r.score, r.quality, r.sync
FROM {assignment} a
JOIN {participant} p ON p.id = a.participant_id
JOIN {experiment} e ON e.id = p.experiment_id
JOIN {stimulus} s ON s.id = a.stimulus_id
LEFT JOIN {rating} r ON r.assignment_id = a.id
-- The clip first: a planner with stale statistics would otherwise walk all the assignments.
WHERE a.stimulus_id = (SELECT id FROM {stimulus} WHERE token = %s) AND p.token = %s AND e.slug = %s
""".format(**_tables())


def rating_target(token: str | None, slug: str, clip) -> Target | None:
    """What the rules need about `clip` of the participant with `token` in study `slug`, in one
    query; None when the participant has no such clip (or there is no such participant)."""
    if not token:
        return None
    clip = Stimulus._meta.get_field("token").get_db_prep_value(clip, connection)
    with connection.cursor() as cursor:
        cursor.execute(_target_sql(), [clip, token, slug])
        row = cursor.fetchone()
    if row is None:
        return None
    served, started, shown, ended = map(_moment, row[6:10])
    return Target(
        assignment=row[0], status=row[1], ask_quality=row[2], ask_sync=row[3],
        checked=bool(row[4]), earlier_unrated=bool(row[5]),
        media_served_at=served, playback_started_at=started, shown_at=shown, played_to_end_at=ended,
        duration=row[10], stored=row[11:] if row[11] is not None else None,
    )


def _moment(value):
    """A datetime read by plain SQL: aware from PostgreSQL, naive (in UTC) from SQLite."""
    if value is not None and timezone.is_naive(value):
        return value.replace(tzinfo=datetime.UTC)
    return value


@functools.cache
def _insert_sql() -> str:
    return """
INSERT INTO {rating} (assignment_id, score, quality, sync, played_to_end, time_on_page_ms, too_fast,
                      created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (assignment_id) DO NOTHING
RETURNING id""".format(**_tables())


def _insert_rating(
    assignment: int, answer: tuple, played: bool, on_page: int, too_fast: bool, now
) -> int | None:
    """One INSERT, its own transaction in autocommit (no BEGIN/COMMIT round trips); None when the
    clip already had a rating. Inside an outer transaction it is part of that one."""
    created = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(), [assignment, *answer, played, on_page, too_fast, created])
        row = cursor.fetchone()
    return row[0] if row else None
