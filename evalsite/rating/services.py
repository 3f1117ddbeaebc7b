"""The participant's way through a study: enrolment, assignments, audio check, ratings.

Views call these functions and turn a `Refused` into a page with its status and message; every
refusal happens before anything is written, and every write is one transaction.
"""

import functools

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.http import Http404
from django.utils import timezone

from evalsite.experiments.models import Experiment, Method, Stimulus

from . import audiocheck
from .design import Clip, plan
from .models import Assignment, Participant, Rating

COOKIE_SALT = "evalsite.rating.participant"
COOKIE_MAX_AGE = 60 * 60 * 24 * 30
ALREADY_RATED = "You have already rated this clip; each clip is rated once."
CLOSED = "This study is closed: it does not accept participants or ratings now."
# Entry-link parameters of the crowd platforms: (platform, worker id, study id, session id).
PLATFORMS = [
    ("prolific", "PROLIFIC_PID", "STUDY_ID", "SESSION_ID"),
    ("mturk", "workerId", "hitId", "assignmentId"),
]
MAX_PARAMS = 30
MAX_PARAM_LENGTH = 200


class Refused(Exception):
    """A request that is turned down with a message for the participant and an HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


# --- the study and the participant's session -------------------------------------------------


def open_experiment(slug: str) -> Experiment:
    experiment = Experiment.objects.filter(slug=slug).first()
    if experiment is None:
        raise Http404("No study with this link.")
    if not experiment.is_open:
        raise Refused(CLOSED, 403)
    return experiment


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
    if not experiment.is_open:
        raise Refused(CLOSED, 403)
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
        samesite="Lax",
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
    """Platform, ids and every parameter of the entry link, bounded in number and length."""
    params = {}
    for key in list(query.keys())[:MAX_PARAMS]:
        params[str(key)[:MAX_PARAM_LENGTH]] = str(query.get(key, ""))[:MAX_PARAM_LENGTH]
    for platform, worker, study, session in PLATFORMS:
        if params.get(worker):
            return {
                "platform": platform,
                "external_id": params[worker],
                "study_id": params.get(study, ""),
                "session_id": params.get(session, ""),
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


def enroll(experiment: Experiment, entry: dict, user_agent: str = "") -> Participant:
    """Creates the participant and their assignment list at once, or returns the crowd worker's own."""
    try:
        with transaction.atomic():
            # The lock serialises enrolments: sequence numbers (Latin-square rows) stay dense.
            locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
            existing = returning_participant(locked, entry)
            if existing is not None:
                return existing
            if locked.participants.finished().count() >= locked.participants_wanted:
                raise Refused("This study already has all the participants it needs. Thank you!", 403)
            participant = Participant.objects.create(
                experiment=locked,
                sequence=locked.participants.count(),
                user_agent=user_agent[:400],
                consented_at=timezone.now(),
                **entry,
            )
            create_assignments(participant)
            return participant
    except IntegrityError:
        # Two tabs of the same crowd worker raced; the other one won, and that one is theirs.
        existing = returning_participant(experiment, entry)
        if existing is None:
            raise
        return existing


def _clips(stimuli) -> list[Clip]:
    return [Clip(s.pk, s.video_id, s.method_id) for s in stimuli]


def assignment_plan(experiment: Experiment, sequence: int) -> list[Clip]:
    ready = Stimulus.objects.ready().filter(experiment=experiment).order_by("pk")
    return plan(
        experiment.design,
        _clips(ready.filter(role=Stimulus.Role.TEST)),
        methods=list(Method.objects.filter(experiment=experiment).values_list("pk", flat=True)),
        seed=experiment.seed,
        sequence=sequence,
        clips=experiment.clips_per_participant,
        gold=(_clips(ready.filter(role=Stimulus.Role.GOLD)), experiment.gold_clips),
        trap=(_clips(ready.filter(role=Stimulus.Role.TRAP)), experiment.trap_clips),
    )


def create_assignments(participant: Participant) -> None:
    clips = assignment_plan(participant.experiment, participant.sequence)
    if not clips:
        raise Refused("This study has no clips ready yet. Please try again later.", 503)
    Assignment.objects.bulk_create(
        Assignment(participant=participant, stimulus_id=clip.pk, position=position)
        for position, clip in enumerate(clips)
    )


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


def finish_training(participant: Participant) -> None:
    require_step(participant, "rating:training")
    Participant.objects.filter(pk=participant.pk, training_done_at__isnull=True).update(
        training_done_at=timezone.now()
    )


def finish(participant: Participant) -> bool:
    if unrated(participant).exists():
        return False
    Participant.objects.filter(pk=participant.pk, finished_at__isnull=True).update(finished_at=timezone.now())
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


def record_played(participant: Participant, clip) -> None:
    """The clip reached its end in the participant's player (posted by the page's script)."""
    now = timezone.now()
    changed = _assigned(participant, clip).filter(rating__isnull=True).update(
        played_to_end_at=now, play_count=F("play_count") + 1
    )
    if not changed:
        raise Refused("This clip is not in your list of clips to rate.", 403)


def unrated_before(participant, position):
    return Assignment.objects.filter(participant=participant, position__lt=position, rating__isnull=True)


def rating_target(token: str | None, slug: str, clip):
    """The assignment a rating is for, with its participant and study, in one query."""
    if not token:
        return None
    return (
        Assignment.objects.select_related("participant__experiment")
        .filter(participant__token=token, participant__experiment__slug=slug, stimulus__token=clip)
        .annotate(
            rated=Exists(Rating.objects.filter(assignment=OuterRef("pk"))),
            earlier_unrated=Exists(unrated_before(OuterRef("participant"), OuterRef("position"))),
        )
        .first()
    )


def submit_rating(request, slug: str, clip, score: int, fast: bool = True) -> int:
    """Stores one score of this browser's participant and returns the rating's id.

    The hot path of a study. On PostgreSQL it is one statement (`_fast_sql`) that checks every
    rule and inserts; when it inserts nothing, the ORM path below finds out why and refuses with
    that reason (or stores, on other databases).
    """
    token = cookie_token(request, slug)
    if fast and token and connection.vendor == "postgresql":
        rating_id = _fast_insert(token, slug, clip, score)
        if rating_id is not None:
            return rating_id
    assignment = rating_target(token, slug, clip)
    if assignment is None:
        require_participant(request, slug)  # no study, a closed one, or no participant: say which
        raise Refused("This clip is not in your list of clips to rate.", 403)
    participant = assignment.participant
    if not participant.experiment.is_open:
        raise Refused(CLOSED, 403)
    if participant.audio_check_passed is None or participant.training_done_at is None:
        raise Refused("Please finish the audio check and the instructions first.", 409)
    if assignment.rated:
        raise Refused(ALREADY_RATED, 409)
    if assignment.earlier_unrated:
        raise Refused("Please rate the clips in the order they are shown.", 409)
    now = timezone.now()
    try:
        return _insert_once(
            assignment=assignment,
            score=score,
            played_to_end=assignment.played_to_end_at is not None,
            time_on_page_ms=max(0, int((now - (assignment.shown_at or now)).total_seconds() * 1000)),
        ).pk
    except IntegrityError:
        # The OneToOne constraint settled a race between two submissions of the same clip.
        raise Refused(ALREADY_RATED, 409) from None


@functools.cache
def _fast_sql() -> str:
    tables = {
        "rating": Rating._meta.db_table,
        "assignment": Assignment._meta.db_table,
        "participant": Participant._meta.db_table,
        "experiment": Experiment._meta.db_table,
        "stimulus": Stimulus._meta.db_table,
    }
    return """
WITH target AS (
    SELECT a.id, a.played_to_end_at, a.shown_at
    FROM {assignment} a
    JOIN {participant} p ON p.id = a.participant_id
    JOIN {experiment} e ON e.id = p.experiment_id
    -- The clip first: a planner with stale statistics would otherwise walk all the assignments.
    WHERE a.stimulus_id = (SELECT id FROM {stimulus} WHERE token = %(clip)s)
      AND p.token = %(token)s AND e.slug = %(slug)s AND e.status = %(open)s
      AND p.audio_check_passed IS NOT NULL AND p.training_done_at IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM {assignment} b
          WHERE b.participant_id = a.participant_id AND b.position < a.position
            AND NOT EXISTS (SELECT 1 FROM {rating} r WHERE r.assignment_id = b.id))
)
INSERT INTO {rating} (assignment_id, score, played_to_end, time_on_page_ms, created_at)
SELECT id, %(score)s, played_to_end_at IS NOT NULL,
       GREATEST(0, (EXTRACT(EPOCH FROM %(now)s - COALESCE(shown_at, %(now)s)) * 1000)::integer), %(now)s
FROM target
ON CONFLICT (assignment_id) DO NOTHING
RETURNING id""".format(**tables)


def _fast_insert(token: str, slug: str, clip, score: int) -> int | None:
    params = {"token": token, "slug": slug, "clip": clip, "score": score, "now": timezone.now(),
              "open": Experiment.Status.OPEN.value}
    # Autocommit: the statement is its own transaction and durable once it returns.
    with connection.cursor() as cursor:
        cursor.execute(_fast_sql(), params)
        row = cursor.fetchone()
    return row[0] if row else None


def _insert_once(**fields) -> Rating:
    # In autocommit one INSERT is its own transaction, durable when it returns, without the two
    # extra round trips of BEGIN/COMMIT. Inside an outer transaction a savepoint keeps a refused
    # duplicate from breaking it.
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return Rating.objects.create(**fields)
    return Rating.objects.create(**fields)


def clip_for_participant(request, token) -> Stimulus:
    """The stimulus behind a blind clip URL, if this session's participant may see it."""
    stimulus = Stimulus.objects.ready().select_related("experiment").filter(token=token).first()
    if stimulus is None:
        raise Http404("No such clip.")
    participant = require_participant(request, stimulus.experiment.slug)
    if stimulus.role == Stimulus.Role.TRAINING:
        return stimulus
    if not Assignment.objects.filter(participant=participant, stimulus=stimulus).exists():
        raise Refused("This clip is not in your list of clips.", 403)
    return stimulus
