"""Enrolment: the entry link's parameters, the recruiting limit, and a new participant's clips.

On PostgreSQL the arrival number and the assignment list are written by plain SQL of their own
(`take_sequence`, `insert_assignments`): the ORM's way was most of an enrolment's time.
"""

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from evalsite.experiments.models import Experiment, Method, Stimulus

from .design import Clip, plan
from .models import CROWD_ID_LENGTH, Assignment, Participant
from .refused import Refused

FULL = "This study already has all the participants it needs. Thank you!"
# Entry-link parameters of the crowd platforms: (platform, worker id, study id, session id).
PLATFORMS = [
    ("prolific", "PROLIFIC_PID", "STUDY_ID", "SESSION_ID"),
    ("mturk", "workerId", "hitId", "assignmentId"),
]
MAX_PARAMS = 30
MAX_PARAM_LENGTH = 200


def entry_params(query) -> dict:
    """Platform, ids and every parameter of the entry link, bounded in number and length.

    Other parameters are kept to MAX_PARAM_LENGTH characters; a crowd id longer than
    CROWD_ID_LENGTH, or any parameter (name or value) holding a NUL character, which PostgreSQL
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
            if len(str(query.get(name, ""))) > CROWD_ID_LENGTH:
                raise Refused(
                    f"The {name} in this link is longer than {CROWD_ID_LENGTH} characters, which this "
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
    table = connection.ops.quote_name(Assignment._meta.db_table)
    play_count = Assignment._meta.get_field("play_count").get_default()
    with connection.cursor() as cursor:
        # The columns by name, as the rating's own SQL reads them (submission._target_sql).
        cursor.execute(
            f"INSERT INTO {table} (participant_id, stimulus_id, position, play_count) "
            "SELECT %s, clip, position - 1, %s "
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
