"""What the researcher's buttons do: build, resume, open and close an experiment.

Each action checks first and changes nothing when it refuses (raising `ActionRefused` with the
reasons), so views and admin actions only have to show the message. The rules of the life cycle
live on `Experiment`; the checks here add what only the built clips can tell (workers.build).
"""

from django.db import transaction
from django.db.models import Count, Q

from workers import build, recovery

from . import provenance
from .models import Experiment, Stimulus


class ActionRefused(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


# --- build ----------------------------------------------------------------------------------


def start_build(experiment: Experiment) -> str:
    """Starts building the stimuli without blocking the caller; returns a line for the researcher."""
    problems = build.build_problems(experiment)
    if problems:
        raise ActionRefused(problems)
    pk = experiment.pk
    line = f"Building '{experiment}' {build.describe_mode(pk, detached=True)}{build_plan(experiment)}."
    transaction.on_commit(lambda: build.start_build(pk, detached=True))  # outside a transaction: now
    return line


def build_plan(experiment: Experiment) -> str:
    """What the build will change, for the line the researcher reads."""
    stale, orphans = len(provenance.stale(experiment)), build.orphans(experiment).count()
    parts = [f"{stale} stale clips rebuilt"] if stale else []
    parts += [f"{orphans} clips of removed videos or controls removed"] if orphans else []
    return f": {', '.join(parts)}" if parts else ""


def resume_build(experiment: Experiment) -> str:
    """Checks the build for lost work now (workers.recovery) and sends it again; without a broker,
    builds again in the background (finished stimuli are kept)."""
    if build.build_mode() != "workers":
        return start_build(experiment)
    unfinished = experiment.stimuli.filter(status__in=[Stimulus.Status.PENDING, Stimulus.Status.RUNNING])
    if not unfinished.exists():
        raise ActionRefused([f"'{experiment}' has nothing left to build"])
    found = recovery.recover(experiment)
    if not found.checked:
        return f"Another process is checking the build of '{experiment}' right now; reload in a moment."
    if found.lost:
        return f"Resumed the build of '{experiment}': {found.line()}."
    return (
        f"Nothing of '{experiment}' is lost: {unfinished.count()} stimuli are running with a live "
        "heartbeat, waiting in the broker, or were sent too recently to judge."
    )


def build_health(experiment: Experiment) -> dict:
    summary = recovery.lost_summary(experiment)
    return {**summary, "line": recovery.summary_line(summary) if summary["lost"] else ""}


def build_progress(experiment: Experiment) -> dict:
    return build.build_progress(experiment)


def stimulus_counts(experiment: Experiment) -> dict:
    return experiment.stimuli.aggregate(
        total=Count("pk"), done=Count("pk", filter=Q(status=Stimulus.Status.DONE))
    )


# --- open / close ---------------------------------------------------------------------------


def open_problems(experiment: Experiment) -> list[str]:
    problems = list(filter(None, [experiment.status_problem(Experiment.Status.OPEN)]))
    problems += built_problems(experiment)
    if experiment.status == Experiment.Status.DRAFT:  # a closed study's clips are frozen as rated
        problems += freshness_problems(experiment)
    return problems + experiment.stimulus_set_problems() + experiment.stopping_problems()


def built_problems(experiment: Experiment) -> list[str]:
    """No stimuli yet, or some not built (failed, or still pending or running)."""
    stimuli = experiment.stimuli.all()
    if not stimuli.exists():
        return [f"'{experiment}' has no stimuli yet: build them first"]
    not_ready = list(stimuli.not_ready().select_related("video", "method").order_by("pk"))
    if not not_ready:
        return []
    return [
        f"{len(not_ready)} of {stimuli.count()} stimuli of '{experiment}' are not built: "
        + provenance.first_few(map(_not_built, not_ready))
    ]


def _not_built(stimulus: Stimulus) -> str:
    state = stimulus.get_status_display().lower()
    return f"{provenance.describe(stimulus)} ({state}{': ' + stimulus.error if stimulus.error else ''})"


def freshness_problems(experiment: Experiment, max_age: float = 0.0) -> list[str]:
    """Clips that no longer match the experiment's settings (stale) or its videos (orphans);
    `max_age`: how old a library fingerprint may be reused (provenance.library_fingerprint)."""
    problems = []
    stale = provenance.stale(experiment, max_age)
    if stale:
        clips = provenance.first_few(f"{provenance.describe(s)} ({'; '.join(why)})" for s, why in stale)
        problems.append(
            f"{len(stale)} clips were built from settings that changed since; build stimuli again to "
            f"rebuild them: {clips}"
        )
    orphans = build.orphans(experiment).select_related("video")
    if orphans.exists():
        names = sorted({s.video.name for s in orphans})
        problems.append(
            f"{orphans.count()} clips belong to videos or controls the experiment no longer has "
            f"(videos: {', '.join(names)}); build stimuli again to remove them"
        )
    return problems


def open_experiment(experiment: Experiment) -> None:
    problems = open_problems(experiment)
    if problems:
        raise ActionRefused(problems)
    _move(experiment, Experiment.Status.OPEN)


def close_experiment(experiment: Experiment) -> None:
    problem = experiment.status_problem(Experiment.Status.CLOSED)
    if problem:
        raise ActionRefused([problem])
    _move(experiment, Experiment.Status.CLOSED)


def _move(experiment: Experiment, target: str) -> None:
    if not experiment.move_to(target):
        raise ActionRefused([f"'{experiment}' changed meanwhile; reload the page"])
