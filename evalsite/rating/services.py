"""The participant's way through a study: enrolment, assignments, audio check, ratings.

Views call these functions and turn a `Refused` into a page with its status and message; every
refusal happens before anything is written, and every write is one transaction.
"""

import datetime
import functools
import math
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from evalsite.experiments.attributes import OPTIONAL
from evalsite.experiments.models import Experiment, Method, Stimulus

from . import audiocheck
from .design import Clip, plan
from .models import Assignment, Participant, Rating, new_completion_code
from .signals import participant_finished

COOKIE_SALT = "evalsite.rating.participant"
COOKIE_MAX_AGE = 60 * 60 * 24 * 30
ALREADY_RATED = "You have already rated this clip; each clip is rated once."
CLOSED = "This study is closed: it does not accept participants or ratings now."
NOT_OPEN_YET = "This study is not open yet. Please come back when the researcher has opened it."
FULL = "This study already has all the participants it needs. Thank you!"
NOT_PLAYED = "Please play the clip to the end before you rate it."
# Entry-link parameters of the crowd platforms: (platform, worker id, study id, session id).
PLATFORMS = [
    ("prolific", "PROLIFIC_PID", "STUDY_ID", "SESSION_ID"),
    ("mturk", "workerId", "hitId", "assignmentId"),
]
MAX_PARAMS = 30
MAX_PARAM_LENGTH = 200
# Worker, study and session ids are stored whole (Participant.external_id etc. hold this many
# characters); a longer one is refused, never cut, so that two ids never merge into one person.
MAX_ID_LENGTH = Participant._meta.get_field("external_id").max_length


class Refused(Exception):
    """A request that is turned down with a message for the participant and an HTTP status."""

    def __init__(self, message: str, status: int = 400, title: str = "That did not work",
                 retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.title = title
        self.retry_after = retry_after  # seconds after which the same request may be accepted


# --- the study and the participant's session -------------------------------------------------


def open_experiment(slug: str) -> Experiment:
    experiment = Experiment.objects.filter(slug=slug).first()
    if experiment is None:
        raise Http404("No study with this link.")
    refuse_unless_open(experiment)
    return experiment


def refuse_unless_open(experiment: Experiment) -> None:
    refuse_unless_status(experiment.status)


def refuse_unless_status(status: str) -> None:
    if status == Experiment.Status.DRAFT:
        raise Refused(NOT_OPEN_YET, 403, title="Not open yet")
    if status != Experiment.Status.OPEN:
        raise Refused(CLOSED, 403, title="This study is closed")


def cookie_name(slug: str) -> str:
    return f"participant-{slug}"


def cookie_token(request, slug: str) -> str | None:
    # A bad signature reads as no token at all: a forged cookie identifies nobody.
    return request.get_signed_cookie(cookie_name(slug), default=None, salt=COOKIE_SALT)


def session_participant(request, experiment) -> Participant | None:
    token = cookie_token(request, experiment.slug)
    return Participant.objects.filter(experiment=experiment, token=token).first() if token else None


def require_participant(request, slug: str) -> Participant:
    """The participant of this browser in an open study, with its experiment, in one query."""
    token = cookie_token(request, slug)
    participant = (
        Participant.objects.select_related("experiment").filter(token=token, experiment__slug=slug).first()
        if token
        else None
    )
    experiment = participant.experiment if participant else open_experiment(slug)
    refuse_unless_open(experiment)
    if participant is None:
        raise Refused(
            "We could not find your session for this study (missing or unknown participant token). "
            "Please open the study link you were given again.",
            403,
        )
    return participant


def remember(response, participant: Participant):
    return set_participant_cookie(response, participant.experiment.slug, participant.token)


def set_participant_cookie(response, slug: str, token: str):
    """Keeps the participant's secret token in a signed, HTTP-only cookie of this browser."""
    response.set_signed_cookie(
        cookie_name(slug),
        token,
        salt=COOKIE_SALT,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite=settings.PARTICIPANT_COOKIE_SAMESITE,
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


def participant_by_token(experiment, token: str) -> Participant:
    participant = Participant.objects.filter(experiment=experiment, token=token).first() if token else None
    if participant is None:
        raise Refused("This resume link is not valid for this study (unknown participant token).", 403)
    return participant


# --- enrolment ---------------------------------------------------------------------------------


def entry_params(query) -> dict:
    """Platform, ids and every parameter of the entry link, bounded in number and length.

    Other parameters are kept to MAX_PARAM_LENGTH characters; a crowd id longer than
    MAX_ID_LENGTH, or any parameter (name or value) holding a NUL character, which PostgreSQL
    cannot store in text, is refused (400) with a message naming the parameter.
    """
    for key in query.keys():
        if "\x00" in f"{key}{query.get(key, '')}":
            raise Refused(
                f'The link parameter "{key.replace(chr(0), "%00")}" contains a NUL character (%00), '
                "which this study cannot store. Please check the link you were given, or contact "
                "the researcher.",
                400,
            )
    for _, *names in PLATFORMS:
        for name in names:
            if len(str(query.get(name, ""))) > MAX_ID_LENGTH:
                raise Refused(
                    f"The {name} in this link is longer than {MAX_ID_LENGTH} characters, which this "
                    "study cannot store whole. Please contact the researcher.",
                    400,
                )
    params = {}
    for key in list(query.keys())[:MAX_PARAMS]:
        params[str(key)[:MAX_PARAM_LENGTH]] = str(query.get(key, ""))[:MAX_PARAM_LENGTH]
    for platform, worker, study, session in PLATFORMS:
        if query.get(worker):
            return {
                "platform": platform,
                "external_id": str(query.get(worker)),
                "study_id": str(query.get(study, "")),
                "session_id": str(query.get(session, "")),
                "params": params,
            }
    return {"platform": "direct", "external_id": "", "study_id": "", "session_id": "", "params": params}


def is_mturk_preview(query) -> bool:
    # MTurk shows the task before a worker accepts it, with this placeholder and no workerId.
    return query.get("assignmentId") == "ASSIGNMENT_ID_NOT_AVAILABLE"


def returning_participant(experiment, entry: dict) -> Participant | None:
    if not entry.get("external_id"):
        return None
    return Participant.objects.filter(
        experiment=experiment, platform=entry["platform"], external_id=entry["external_id"]
    ).first()


def enroll(experiment: Experiment, entry: dict, user_agent: str = "", checked: bool = False) -> Participant:
    """Creates the participant and their assignment list at once, or returns the crowd worker's own.

    Nothing is locked for the length of an enrolment: the arrival number comes from one atomic
    UPDATE of `Experiment.next_sequence`, and the participant with their assignments is one
    transaction of two INSERTs. A crowd worker whose tabs race is kept to one participant by the
    database (`unique_crowd_participant`); the loser's number is then left unused. `checked`: the
    caller has just looked for the returning worker and at the recruiting limit (the consent view).
    """
    if not checked:
        existing = returning_participant(experiment, entry)
        if existing is not None:
            return existing
        check_recruiting(experiment)
    pools = clip_pools(experiment)
    if not plan_for(experiment, pools, 0):
        raise Refused("This study has no clips ready yet. Please try again later.", 503)
    sequence = take_sequence(experiment)
    clips = plan_for(experiment, pools, sequence)
    try:
        with transaction.atomic():
            participant = Participant.objects.create(
                experiment=experiment,
                sequence=sequence,
                # Not the participant's to correct: a NUL, which PostgreSQL cannot store, is marked.
                user_agent=user_agent.replace("\x00", "\ufffd")[:400],
                consented_at=timezone.now(),
                **entry,
            )
            insert_assignments(participant, clips)
            return participant
    except IntegrityError:
        # Two tabs of the same crowd worker raced; the other one won, and that one is theirs.
        existing = returning_participant(experiment, entry)
        if existing is None:
            raise
        return existing


def insert_assignments(participant: Participant, clips: list[Clip]) -> None:
    """The participant's list, in the order of `clips`.

    On PostgreSQL one INSERT ... SELECT over the array of stimulus ids: building, preparing and
    binding a model instance per clip (`bulk_create`) was most of an enrolment's time with 120
    clips. Elsewhere (SQLite) `bulk_create` writes the same rows.
    """
    if connection.vendor != "postgresql":
        Assignment.objects.bulk_create(
            Assignment(participant=participant, stimulus_id=clip.pk, position=position)
            for position, clip in enumerate(clips)
        )
        return
    names = ("participant", "stimulus", "position", "play_count")
    columns = ", ".join(connection.ops.quote_name(Assignment._meta.get_field(n).column) for n in names)
    table = connection.ops.quote_name(Assignment._meta.db_table)
    play_count = Assignment._meta.get_field("play_count").get_default()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT %s, clip, position - 1, %s "
            "FROM unnest(%s::bigint[]) WITH ORDINALITY AS plan(clip, position)",
            [participant.pk, play_count, [clip.pk for clip in clips]],
        )


def take_sequence(experiment: Experiment) -> int:
    """The next arrival number of the study: one UPDATE, its row lock held only for itself.

    On PostgreSQL, in autocommit, that UPDATE commits without waiting for its WAL to reach the
    disk (`synchronous_commit` off for this one transaction), so that simultaneous consents do
    not queue on the row for one disk flush each. A number is durable once a participant holds
    it: the participant's own commit, later in the WAL, flushes the UPDATE with it. A crash in
    between can hand the number out again, and nobody had it.
    """
    table = connection.ops.quote_name(Experiment._meta.db_table)
    update = f"UPDATE {table} SET next_sequence = next_sequence + 1 WHERE id = %s RETURNING next_sequence - 1"
    # Inside an outer transaction SET LOCAL would last until its end: there the UPDATE waits as usual.
    asynchronous = connection.vendor == "postgresql" and not connection.in_atomic_block
    with connection.cursor() as cursor:
        if asynchronous:
            cursor.execute("SET LOCAL synchronous_commit TO OFF; " + update, [experiment.pk])
            cursor.nextset()
        else:
            cursor.execute(update, [experiment.pk])
        return cursor.fetchone()[0]


def check_recruiting(experiment: Experiment) -> None:
    """Refuses a newcomer once the study has its participants, or stopped early on its answer."""
    if experiment.stopped_at is not None:
        raise Refused(FULL, 403)
    if experiment.participants.finished().count() >= experiment.participants_wanted:
        raise Refused(FULL, 403)


def clip_pools(experiment: Experiment) -> dict:
    """The ready stimuli and the methods a plan draws from, read once per enrolment (as tuples:
    model instances of every stimulus cost more than the rest of the plan)."""
    ready = (Stimulus.objects.ready().filter(experiment=experiment).order_by("pk")
             .values_list("pk", "video_id", "method_id", "role"))
    pools: dict = {role: [] for role in (Stimulus.Role.TEST, Stimulus.Role.GOLD, Stimulus.Role.TRAP)}
    for pk, video, method, role in ready:
        if role in pools:
            pools[role].append(Clip(pk, video, method))
    # Method's own ordering, without the join that ordering by its experiment would add.
    methods = Method.objects.filter(experiment=experiment).order_by("order", "id")
    pools["methods"] = list(methods.values_list("pk", flat=True))
    return pools


def plan_for(experiment: Experiment, pools: dict, sequence: int) -> list[Clip]:
    return plan(
        experiment.design,
        pools[Stimulus.Role.TEST],
        methods=pools["methods"],
        seed=experiment.seed,
        sequence=sequence,
        clips=experiment.clips_per_participant,
        gold=(pools[Stimulus.Role.GOLD], experiment.gold_clips),
        trap=(pools[Stimulus.Role.TRAP], experiment.trap_clips),
    )


def assignment_plan(experiment: Experiment, sequence: int) -> list[Clip]:
    return plan_for(experiment, clip_pools(experiment), sequence)


# --- where the participant is ---------------------------------------------------------------


def unrated(participant: Participant):
    return participant.assignments.filter(rating__isnull=True).order_by("position")


def next_step(participant: Participant) -> str:
    """The URL name of the page the participant should be on."""
    if participant.audio_check_passed is None:
        return "rating:audio_check"
    if participant.training_done_at is None:
        return "rating:training"
    if unrated(participant).exists():
        return "rating:rate"
    return "rating:done"


def require_step(participant: Participant, step: str) -> None:
    if next_step(participant) != step:
        message = "This step is not open yet, or already done: please continue the study from its link."
        raise Refused(message, 409)


def training_stimuli(experiment):
    ready = Stimulus.objects.ready().filter(experiment=experiment, role=Stimulus.Role.TRAINING)
    return ready.order_by("pk")[: experiment.training_clips]


# What each kind of training clip (the kind closes its label, see workers.build.control) shows the
# participant about the scale, as the training of ITU-T P.808 presents the ends of the scale (a
# random sound is neither end: its caption says so, and the page does not call them the ends).
TRAINING_CAPTIONS = {
    "original": ("An example of a good match",
                 "The video's own sound. A match like this deserves 4 (Good) or 5 (Excellent)."),
    "gold": ("An example of a poor match",
             "Noise that has nothing to do with the video. A match like this deserves 1 (Bad)."),
    "random": ("An example of a sound picked at random",
               "It may fit a little or not at all: rate what you hear and see."),
}


def training_examples(experiment) -> list[tuple[Stimulus, str, str]]:
    """(stimulus, title, explanation) for each training clip shown with the instructions."""
    examples = []
    for stimulus in training_stimuli(experiment):
        default = ("An example clip", "Watch it to the end.")
        title, text = TRAINING_CAPTIONS.get(stimulus.control_kind, default)
        examples.append((stimulus, title, text))
    return examples


def finish_training(participant: Participant) -> None:
    require_step(participant, "rating:training")
    Participant.objects.filter(pk=participant.pk, training_done_at__isnull=True).update(
        training_done_at=timezone.now()
    )


def mturk_submission(participant: Participant) -> dict | None:
    """Where and what the finish page posts for an MTurk ExternalQuestion HIT, or None.

    MTurk passes `turkSubmitTo` (its own origin) and `assignmentId`; only origins listed in
    MTURK_SUBMIT_TO are used, so an entry link cannot send the form elsewhere.
    """
    submit_to = participant.params.get("turkSubmitTo", "").rstrip("/")
    if participant.platform != "mturk" or not participant.session_id:
        return None
    if submit_to not in [origin.rstrip("/") for origin in settings.MTURK_SUBMIT_TO]:
        return None
    return {"action": f"{submit_to}/mturk/externalSubmit", "assignment_id": participant.session_id}


def finish(participant: Participant) -> bool:
    if unrated(participant).exists():
        return False
    first = Participant.objects.filter(pk=participant.pk, finished_at__isnull=True).update(
        finished_at=timezone.now(), completion_code=new_completion_code()
    )
    if first:  # an adaptive stopping rule may take a look now
        participant_finished.send(sender=Participant, experiment_id=participant.experiment_id)
    return True


# --- audio check -------------------------------------------------------------------------------


def audio_check_digits(participant: Participant) -> str:
    if not participant.audio_check_digits:
        participant.audio_check_digits = audiocheck.new_digits()
        participant.save(update_fields=["audio_check_digits"])
    return participant.audio_check_digits


def answer_audio_check(participant: Participant, raw: str) -> bool | None:
    """Records one attempt: True passed, False failed for good, None wrong but may try again."""
    try:
        answer = audiocheck.normalize_answer(raw)
    except audiocheck.BadAnswer as exc:
        raise Refused(str(exc), 400) from None
    with transaction.atomic():
        p = Participant.objects.select_for_update().get(pk=participant.pk)
        if p.audio_check_passed is not None:
            raise Refused("You have already done the audio check.", 409)
        if not p.audio_check_digits:
            raise Refused("Please listen to the audio check clip first.", 409)
        p.audio_check_attempts += 1
        p.audio_check_answer = answer
        if answer == p.audio_check_digits:
            p.audio_check_passed = True
        elif p.audio_check_attempts >= audiocheck.MAX_ATTEMPTS:
            p.audio_check_passed = False
        else:
            p.audio_check_digits = audiocheck.new_digits()  # a fresh clip for the next try
        p.save(update_fields=["audio_check_attempts", "audio_check_answer", "audio_check_passed",
                              "audio_check_digits"])
    return p.audio_check_passed


# --- rating ------------------------------------------------------------------------------------


def current_assignment(participant: Participant) -> Assignment | None:
    assignment = unrated(participant).select_related("stimulus").first()
    if assignment is not None and assignment.shown_at is None:
        Assignment.objects.filter(pk=assignment.pk, shown_at__isnull=True).update(shown_at=timezone.now())
    return assignment


def progress(participant: Participant) -> tuple[int, int]:
    total = participant.assignments.count()
    return total - unrated(participant).count(), total


def _assigned(participant: Participant, clip):
    return Assignment.objects.filter(participant=participant, stimulus__token=clip)


def record_started(participant: Participant, clip) -> None:
    """Playback began in the participant's player: the server's clock of the minimum listening time.

    Only the first start counts (a replay does not restart it). It may reach the server before
    the clip's media request was served (a loaded server, a slow network): it is taken all the
    same, and the clock counts from the later of the two (`playback_began`).
    """
    assigned = _assigned(participant, clip).filter(rating__isnull=True)
    if assigned.filter(playback_started_at__isnull=True).update(playback_started_at=timezone.now()):
        return
    if not assigned.exists():
        raise Refused("This clip is not in your list of clips to rate.", 403)


def playback_began(media_served_at, playback_started_at):
    """The earliest moment playback can have begun by the server's clock: the later of the clip's
    first serving and the page's `/started/`, which reach the server in either order. None
    while either is missing."""
    if media_served_at is None or playback_started_at is None:
        return None
    return max(media_served_at, playback_started_at)


def record_played(participant: Participant, clip) -> None:
    """The clip reached its end in the participant's player (posted by the page's script).

    A claim that comes sooner after playback began than the clip lasts (`played_shortfall`) is
    refused, or with RATING_TOO_FAST=flag taken and its rating flagged (`rating_refusal`).
    """
    assigned = _assigned(participant, clip).filter(rating__isnull=True)
    clock = assigned.values_list("media_served_at", "playback_started_at", "stimulus__duration").first()
    if clock is None:
        raise Refused("This clip is not in your list of clips to rate.", 403)
    now = timezone.now()
    shortfall = played_shortfall(*clock, now)
    if shortfall is not None and too_fast_policy() == "refuse":
        # A start stamped late on a loaded server makes a real play look short: Retry-After says
        # when the clip can have played, and the page sends its claim again then, by itself.
        began = playback_began(clock[0], clock[1])
        wait = None if began is None else max(1, math.ceil(_remaining(began, clock[2], now)))
        raise Refused(shortfall, 409, retry_after=wait)
    assigned.update(played_to_end_at=now, play_count=F("play_count") + 1)


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


def too_fast_policy() -> str:
    return settings.RATING_TOO_FAST


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
    elapsed = _elapsed(began, target.duration, now)
    if elapsed is not None:
        return (f"You rated this clip {elapsed:.1f} s after it began playing, but it lasts "
                f"{target.duration:.1f} s. Please play it to the end, then rate it.")
    if target.played_to_end_at is not None:
        return played_shortfall(target.media_served_at, target.playback_started_at, target.duration,
                                target.played_to_end_at)
    return None


def played_shortfall(media_served_at, playback_started_at, duration, now) -> str | None:
    """Why a claim, at `now`, that the clip played to its end cannot be true, or None."""
    began = playback_began(media_served_at, playback_started_at)
    if began is None:
        return NOT_PLAYED
    elapsed = _elapsed(began, duration, now)
    if elapsed is not None:
        return (f"Your player said the clip ended {elapsed:.1f} s after it began playing, but it lasts "
                f"{duration:.1f} s. Please press Replay and play it to the end.")
    return None


def _elapsed(began, duration: float | None, now) -> float | None:
    """Seconds from `began` to `now` when they are fewer than the clip needs (its duration less
    RATING_PLAY_TOLERANCE_S), None otherwise."""
    return (now - began).total_seconds() if _remaining(began, duration, now) > 0 else None


def _remaining(began, duration: float | None, now) -> float:
    """Seconds still to go from `now` until the clip can have played since `began`."""
    return (duration or 0.0) - settings.RATING_PLAY_TOLERANCE_S - (now - began).total_seconds()


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
    facts = [*row[:4], bool(row[4]), bool(row[5]), *map(_moment, row[6:10]), row[10]]
    return Target(*facts, stored=row[11:] if row[11] is not None else None)


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


def clip_for_participant(request, token) -> tuple[Stimulus, int | None]:
    """The stimulus behind a blind clip URL, if this session's participant may see it, and the
    participant's assignment of it (None for a training clip, which any participant may see)."""
    stimulus = Stimulus.objects.ready().select_related("experiment").filter(token=token).first()
    if stimulus is None:
        raise Http404("No such clip.")
    participant = require_participant(request, stimulus.experiment.slug)
    if stimulus.role == Stimulus.Role.TRAINING:
        return stimulus, None
    assignment = Assignment.objects.filter(participant=participant, stimulus=stimulus).values_list(
        "pk", flat=True).first()
    if assignment is None:
        raise Refused("This clip is not in your list of clips.", 403)
    return stimulus, assignment


def media_served(assignment: int) -> None:
    """The clip's bytes went out to its participant: the first time starts the server's clock."""
    first = Assignment.objects.filter(pk=assignment, media_served_at__isnull=True)
    first.update(media_served_at=timezone.now())
