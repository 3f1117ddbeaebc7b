"""Starting and following the build of an experiment's stimuli.

`enqueue_build` (the admin, `manage.py build_stimuli` with a broker) creates the stimulus rows
and sends the task graph to the workers; `run_build` does the same work in this process (the
embedded mode); `build_progress` reads the state from the database at any time.
"""

import random
from collections import defaultdict

from celery import chain
from django.db import transaction
from django.db.models import Count, Q

from evalsite.experiments.models import Experiment, Method, Stimulus
from workers import stimuli

Role, Status = Stimulus.Role, Stimulus.Status
CONTROLS = "controls"


def enqueue_build(experiment_id: int) -> None:
    """Creates missing stimuli, resets unfinished ones, and queues their tasks; returns at once."""
    from workers import tasks

    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
        prepare(experiment)
    model_methods, others = work_list(experiment)
    for method_id in model_methods:
        chain(tasks.embed_library.si(method_id), tasks.retrieve.si(method_id)).apply_async()
    for stimulus_id in others:
        tasks.mux_stimulus.delay(stimulus_id)


def run_build(experiment_id: int, progress: bool = True) -> dict:
    """The whole build in this process, without a broker; returns build_progress."""
    from tqdm import tqdm

    from workers import retrieve

    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
        prepare(experiment)
    model_methods, todo = work_list(experiment)
    for method in Method.objects.filter(pk__in=model_methods).select_related("trained_model"):
        try:
            todo += retrieve.retrieve(method, progress=progress)
        except stimuli.TRANSIENT:
            raise
        except Exception as exc:
            retrieve.fail_pending(method, exc)
    for stimulus_id in tqdm(todo, desc="build stimuli", unit="clip", disable=not progress):
        stimuli.build_stimulus(stimulus_id)
    return build_progress(experiment)


def prepare(experiment: Experiment) -> None:
    """Creates the stimuli the experiment asks for and puts unfinished or failed ones back to
    pending (a re-run build redoes them; finished ones are kept)."""
    create_test_stimuli(experiment)
    create_controls(experiment)
    stimuli.sweep_temp_files()
    experiment.stimuli.filter(status__in=[Status.RUNNING, Status.FAILED]).update(
        status=Status.PENDING, error=""
    )


def work_list(experiment: Experiment) -> tuple[list[int], list[int]]:
    """Model methods with pending stimuli (they need the gpu chain first), and the pending
    stimuli that can be muxed right away."""
    pending = experiment.stimuli.filter(status=Status.PENDING)
    needs_model = Q(method__kind=Method.Kind.MODEL, sound__isnull=True)
    methods = sorted(set(pending.filter(needs_model).values_list("method_id", flat=True)))
    ready = list(pending.exclude(needs_model).order_by("pk").values_list("pk", flat=True))
    return methods, ready


def create_test_stimuli(experiment: Experiment) -> int:
    have = set(experiment.stimuli.filter(role=Role.TEST).values_list("video_id", "method_id"))
    rows = [
        Stimulus(experiment=experiment, video=video, method=method, role=Role.TEST,
                 label=f"{video.name} / {method.label}")
        for video in experiment.videos.order_by("pk")
        for method in experiment.methods.all()
        if (video.pk, method.pk) not in have
    ]  # fmt: skip
    Stimulus.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def create_controls(experiment: Experiment) -> int:
    """Gold, trap and training clips up to the experiment's counts, on videos drawn with its
    seed. The label records the control's kind for the mux (controls have no method)."""
    videos = list(experiment.videos.order_by("pk"))
    if not videos:
        return 0
    rows = []
    for role, wanted in ((Role.GOLD, experiment.gold_clips), (Role.TRAP, experiment.trap_clips),
                         (Role.TRAINING, experiment.training_clips)):  # fmt: skip
        have = experiment.stimuli.filter(role=role).count()
        for i in range(have, wanted):
            rng = random.Random(f"{experiment.seed}:{role}:{i}")
            rows.append(control(experiment, role, i, rng.choice(candidates(videos, role, i)), rng))
    Stimulus.objects.bulk_create(rows)
    return len(rows)


def candidates(videos: list, role: str, i: int) -> list:
    # A training "original" needs a soundtrack: prefer videos that have one.
    if role == Role.TRAINING and training_kind(i) == "original":
        return [v for v in videos if v.has_audio] or videos
    return videos


def training_kind(i: int) -> str:
    return stimuli.TRAINING_KINDS[i % len(stimuli.TRAINING_KINDS)]


def control(experiment, role, i, video, rng) -> Stimulus:
    expected, kind = None, ""
    if role == Role.GOLD:
        expected, kind = stimuli.GOLD_EXPECTED, "harsh noise"
    elif role == Role.TRAP:
        expected = rng.randint(1, 5)
        kind = f"asks for {expected}"
    else:
        kind = training_kind(i)
    return Stimulus(experiment=experiment, video=video, role=role, expected_score=expected,
                    label=f"{role} {i + 1}: {kind}")  # fmt: skip


def build_progress(experiment: Experiment) -> dict[str, dict[str, int]]:
    """{method label or "controls": {"pending", "running", "done", "failed": count}}."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Status.values, 0))
    for method in experiment.methods.all():
        out[method.label]  # every method appears, even before its stimuli exist
    rows = experiment.stimuli.values("method__label", "status").annotate(n=Count("pk"))
    for row in rows:
        out[row["method__label"] or CONTROLS][row["status"]] += row["n"]
    return dict(out)
