"""Whether a build can move: which queues a live worker consumes (asked of the workers with
Celery's `inspect().active_queues()`), which of them the build waits on, and what its gpu phase
is doing (the heartbeats its gpu tasks stamp, workers.heartbeats)."""

import logging
import time
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from evalsite.experiments.models import Experiment, Method, Stimulus
from workers.models import EmbeddingRun

log = logging.getLogger(__name__)
Status = Stimulus.Status
START = {
    "gpu": "celery -A evalsite worker -Q gpu --loglevel INFO",
    "media": "celery -A evalsite worker -Q media --loglevel INFO",
}
_answer: tuple[float, dict[str, list[str]] | None] = (float("-inf"), None)


def consumers(timeout: float = 1.0) -> dict[str, list[str]] | None:
    """{queue: names of the live workers consuming it}; None when the broker cannot be asked.
    An answer is reused for QUEUE_CHECK_S seconds (each question waits `timeout` for replies)."""
    global _answer
    asked_at, answer = _answer
    if time.monotonic() - asked_at < settings.QUEUE_CHECK_S:
        return answer
    from evalsite.celery import app

    try:
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception:  # the broker is away: say so rather than guess
        log.exception("asking the workers for their queues failed")
        replies = None
    answer = None if replies is None else _by_queue(replies)
    _answer = (time.monotonic(), answer)
    return answer


def _by_queue(replies: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for worker, queues in replies.items():
        for queue in queues or []:
            out[queue["name"]].append(worker)
    return dict(out)


def waiting(experiment: Experiment) -> dict[str, int]:
    """{queue: unfinished stimuli that need it}: a model method's stimuli without a sound need a
    gpu worker first; every unfinished stimulus needs a media worker for its clip."""
    unfinished = experiment.stimuli.filter(status__in=[Status.PENDING, Status.RUNNING])
    gpu = unfinished.filter(method__kind=Method.Kind.MODEL, sound__isnull=True).count()
    media = unfinished.count()
    return {queue: n for queue, n in (("gpu", gpu), ("media", media)) if n}


def missing_workers(experiment: Experiment) -> list[str]:
    """A line per queue that the experiment's build waits on and no live worker consumes; none
    in the embedded mode (no broker: the build runs in a process of its own)."""
    needed = waiting(experiment) if not settings.EMBEDDED_TASKS else {}
    if not needed:
        return []
    live = consumers()
    if live is None:
        return ["The broker cannot be reached: no worker can be asked whether it consumes the queues."]
    return [
        f"No worker is consuming the {queue} queue: {n} stimuli wait for it. Start one: {START[queue]}"
        for queue, n in needed.items()
        if not live.get(queue)
    ]


def gpu_activity(experiment: Experiment) -> dict[str, str]:
    """{model method label: what its gpu phase is doing} while its stimuli wait for a sound."""
    out = {}
    for method in experiment.methods.filter(kind=Method.Kind.MODEL).select_related("trained_model"):
        rows = method.stimuli.filter(status=Status.PENDING, sound__isnull=True)
        if rows.exists():
            out[method.label] = _activity(experiment, method, rows)
    return out


def _activity(experiment: Experiment, method: Method, rows) -> str:
    now = timezone.now()
    beat = rows.exclude(heartbeat_at=None).order_by("-heartbeat_at").values_list("heartbeat_at", flat=True)
    last = beat.first()
    if last is not None:
        age = (now - last).total_seconds()
        if now - last < timedelta(seconds=settings.BUILD_LOST_AFTER_S):
            return f"a gpu worker is at work (last sign of life {age:.0f} s ago{_chunks(experiment, method)})"
        return f"no sign of life from its gpu worker for {age:.0f} s"
    sent = rows.exclude(dispatched_at=None).order_by("dispatched_at").values_list("dispatched_at", flat=True)
    first = sent.first()
    if first is None:
        return "not sent to the gpu queue yet"
    age = (now - first).total_seconds()
    return f"waiting in the gpu queue for {age:.0f} s: no gpu worker has taken it yet"


def _chunks(experiment: Experiment, method: Method) -> str:
    run = (
        EmbeddingRun.objects.filter(
            library=experiment.sound_library_id,
            model_sha256=method.trained_model.checkpoint_sha256,
            finished_at=None,
        ).first()  # fmt: skip
        if method.trained_model
        else None
    )
    return f"; sound library: {run.chunks_done} of {run.chunks.count()} chunks embedded" if run else ""
