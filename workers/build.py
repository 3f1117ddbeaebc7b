"""Starting and following the build of an experiment's stimuli.

`start_build` is the one way to start a build (the admin, `manage.py build_stimuli`, the demo),
each after `build_problems` finds nothing against it:
with a broker `enqueue_build` creates the stimulus rows and sends the task graph to the workers;
without one (embedded mode) `run_build` does the same work in this process, or a detached
`manage.py build_stimuli` process does it when the caller must not wait (a web request).
`wait_for_build` follows any build until nothing is pending; `build_progress` reads the state
from the database at any time.
"""

import random
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q

from evalsite.experiments import provenance
from evalsite.experiments.models import Experiment, Method, Stimulus
from workers import liveness, recovery, stimuli, storage

Role, Status = Stimulus.Role, Stimulus.Status
CONTROLS = "controls"


def build_mode(detached: bool = False) -> str:
    """Where a build runs: "workers" with a broker; without one "background" (a detached
    process) when `detached`, else "here"."""
    if not settings.EMBEDDED_TASKS:
        return "workers"
    return "background" if detached else "here"


def describe_mode(experiment_id: int, detached: bool = False) -> str:
    return {
        "workers": "on the workers",
        "background": f"in a background process (log: {build_log(experiment_id)})",
        "here": "in this process",
    }[build_mode(detached)]


def start_build(experiment_id: int, *, detached: bool = False, progress: bool = True) -> None:
    """Starts the build where `build_mode` says; "here" returns when it is finished."""
    mode = build_mode(detached)
    if mode == "workers":
        enqueue_build(experiment_id)
    elif mode == "background":
        spawn_build(experiment_id)
    else:
        run_build(experiment_id, progress=progress)


def build_log(experiment_id: int) -> Path:
    return settings.VAR_DIR / "logs" / f"build-{experiment_id}.log"


def spawn_build(experiment_id: int) -> Path:
    """`manage.py build_stimuli ID` in its own session (it outlives the request and is not killed
    with the web worker), with this process's environment as it is, so on the same database,
    media and settings; output appended to `build_log`."""
    log = build_log(experiment_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        subprocess.Popen(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "build_stimuli", str(experiment_id)],
            cwd=settings.BASE_DIR, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return log


def wait_for_build(experiment: Experiment, out: Callable[[str], object], interval: float = 1.0,
                   timeout: float = 0, stall: float = 120) -> dict:
    """Polls `build_progress` until nothing is pending or running and returns it; prints a line
    through `out` whenever it changes, a hint when nothing moved for `stall` seconds, and raises
    TimeoutError after `timeout` seconds (0: no limit)."""
    start = last_change = last_check = time.monotonic()
    last, last_lost = None, recovery.lost_summary(experiment)
    idle: list[str] = []
    while True:
        if build_mode() == "workers" and time.monotonic() - last_check >= settings.BUILD_WATCHDOG_S:
            last_check = time.monotonic()
            idle = watch(experiment, out, idle)
        lost = recovery.lost_summary(experiment)
        if lost != last_lost:
            last_lost = lost
            out(recovery.summary_line(lost))
        progress = build_progress(experiment)
        if progress != last:
            last, last_change = progress, time.monotonic()
            out(progress_line(progress))
        if not any(c["pending"] + c["running"] for c in progress.values()):
            return progress
        if time.monotonic() - last_change > stall:
            out(f"no progress for {stall:.0f} s: is a worker running? "
                "(celery -A evalsite worker -Q gpu,media)")
            last_change = time.monotonic()
        if timeout and time.monotonic() - start > timeout:
            raise TimeoutError(f"the build did not finish within {timeout:.0f} s: {progress_line(progress)}")
        time.sleep(interval)


def watch(experiment: Experiment, out: Callable[[str], object], said: list[str]) -> list[str]:
    """Sends lost work again (here or by a worker's watchdog, whichever comes first) and says,
    when it changes, which queue the build waits on that no worker consumes."""
    recovery.recover(experiment)
    idle = liveness.missing_workers(experiment)
    for line in idle if idle != said else []:
        out(line)
    return idle


def progress_line(progress: dict) -> str:
    total = {s: sum(c[s] for c in progress.values()) for s in ("done", "failed", "running", "pending")}
    return ", ".join(f"{n} {s}" for s, n in total.items())


def enqueue_build(experiment_id: int) -> None:
    """Creates missing stimuli, resets unfinished ones, and queues their tasks; returns at once."""
    from workers import tasks

    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
        prepare(experiment)
    model_methods, others = work_list(experiment)
    for method_id in model_methods:
        tasks.dispatch_method(method_id, tasks.embed_library)  # which sends retrieve, then the muxes
    tasks.dispatch_mux(others)


def run_build(experiment_id: int, progress: bool = True) -> dict:
    """The whole build in this process, without a broker; returns build_progress."""
    from tqdm import tqdm

    from workers import retrieve

    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
        prepare(experiment)
    model_methods, todo = work_list(experiment)
    for method in Method.objects.filter(pk__in=model_methods).select_related("trained_model"):
        ready = retrieve.failing_method(method, "retrieval", partial(retrieve.retrieve, method, progress))
        todo += ready or []
    for stimulus_id in tqdm(todo, desc="build stimuli", unit="clip", disable=not progress):
        stimuli.build_stimulus(stimulus_id)
    return build_progress(experiment)


def prepare(experiment: Experiment) -> None:
    """Brings the experiment's stimuli in line with its settings: removes the clips of videos it
    no longer has and controls it no longer asks for, creates missing ones, puts stale ones
    (built from settings that changed since, experiments.provenance) back to pending, and
    unfinished or failed ones too (a re-run build redoes them; up-to-date ones are kept). Only a
    draft's built clips change: an open or closed study's are what its participants rate."""
    draft = experiment.status == Experiment.Status.DRAFT
    if draft:
        remove(orphans(experiment))
    create_test_stimuli(experiment)
    sync_controls(experiment, redraw=draft)
    if draft:
        redo([s.pk for s, _ in provenance.stale(experiment)] + provenance.stale_retrievals(experiment))
    storage.sweep_temp_files()
    experiment.stimuli.filter(status__in=[Status.RUNNING, Status.FAILED]).update(
        status=Status.PENDING, error=""
    )
    experiment.stimuli.filter(lost__gt=0).update(lost=0, lost_reason="")  # counted per build


def build_problems(experiment: Experiment) -> list[str]:
    """Why the experiment cannot be built now (empty when it can): its setup
    (`Experiment.setup_problems`), and clips it would remove that participants have already seen."""
    problems = experiment.setup_problems()
    rated = orphans(experiment).filter(assignments__isnull=False).select_related("video")
    if rated.exists():
        problems.append(
            "clips of videos no longer in the experiment were shown to participants and cannot be "
            f"removed: {provenance.first_few(provenance.describe(s) for s in rated)}"
        )
    return problems


def orphans(experiment: Experiment):
    """Clips of videos no longer in the experiment, and controls beyond the counts it asks for."""
    extra = [
        pk
        for role, wanted in control_counts(experiment)
        for pk in experiment.stimuli.filter(role=role).order_by("pk").values_list("pk", flat=True)[wanted:]
    ]
    return provenance.orphans(experiment) | experiment.stimuli.filter(pk__in=extra)


def remove(queryset) -> int:
    """Deletes stimuli; their files go once that is committed (experiments.cleanup)."""
    count, _ = queryset.delete()
    return count


def redo(stimulus_ids: list[int]) -> int:
    """Puts built stimuli back to pending, forgetting the sound drawn or retrieved for them (the
    file stays until its rebuild replaces it; a pending clip is never shown)."""
    return Stimulus.objects.filter(pk__in=stimulus_ids).update(
        status=Status.PENDING, error="", sound=None, rank=None, distance=None, sound_offset=None
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


def control_counts(experiment: Experiment):
    return ((Role.GOLD, experiment.gold_clips), (Role.TRAP, experiment.trap_clips),
            (Role.TRAINING, experiment.training_clips))  # fmt: skip


def sync_controls(experiment: Experiment, redraw: bool = True) -> int:
    """Gold, trap and training clips up to the experiment's counts, on videos drawn with its
    seed. A training clip's `control_kind` tells the mux its soundtrack (controls have no method);
    the label only describes the clip to researchers. An existing control drawn otherwise (the
    seed or the videos changed) is redrawn and built again; returns how many were created."""
    videos = list(experiment.videos.order_by("pk"))
    if not videos:
        return 0
    rows = []
    for role, wanted in control_counts(experiment):
        have = list(experiment.stimuli.filter(role=role).order_by("pk")[:wanted])
        for i in range(wanted):
            rng = random.Random(f"{experiment.seed}:{role}:{i}")
            row = control(experiment, role, i, rng.choice(candidates(videos, role, i)), rng)
            if i >= len(have):
                rows.append(row)
            elif redraw and (have[i].video_id, have[i].expected_score, have[i].control_kind) != (
                row.video_id, row.expected_score, row.control_kind
            ):
                Stimulus.objects.filter(pk=have[i].pk).update(
                    video=row.video, expected_score=row.expected_score, control_kind=row.control_kind,
                    label=row.label, built_from={},
                )  # fmt: skip
                redo([have[i].pk])
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
    expected, kind, what = None, "", ""
    if role == Role.GOLD:
        expected, what = stimuli.GOLD_EXPECTED, "harsh noise"
    elif role == Role.TRAP:
        expected = rng.randint(1, 5)
        what = f"asks for {expected}"
    else:
        kind = what = training_kind(i)
    return Stimulus(experiment=experiment, video=video, role=role, expected_score=expected,
                    control_kind=kind, label=f"{role} {i + 1}: {what}")  # fmt: skip


def build_progress(experiment: Experiment) -> dict[str, dict[str, int]]:
    """{method label or "controls": {"pending", "running", "done", "failed": count}}."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Status.values, 0))
    for method in experiment.methods.all():
        out[method.label]  # every method appears, even before its stimuli exist
    rows = experiment.stimuli.values("method__label", "status").annotate(n=Count("pk"))
    for row in rows:
        out[row["method__label"] or CONTROLS][row["status"]] += row["n"]
    return dict(out)
