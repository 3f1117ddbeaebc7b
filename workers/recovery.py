"""Lost work of a build, found within a minute and sent again; the watchdog that looks for it.

Every message sent for a stimulus is recorded on it (`task_id`, `dispatched_at`, by
`workers.tasks.dispatch_*`, the only places tasks are sent). While a task works it beats
(`heartbeat_at`, every BUILD_HEARTBEAT_S: workers.heartbeats) on the stimuli it is responsible
for. `find_lost` then names two kinds of lost work, without waiting for the broker's visibility
timeout (two hours):

- a running stimulus whose heartbeat is older than BUILD_LOST_AFTER_S: its worker stopped
  (killed, machine gone) in the middle of it;
- a pending stimulus whose message is neither waiting in the broker's queues nor held by a live
  worker (asked with Celery's `inspect().query_task`), BUILD_DISPATCH_GRACE_S after it was sent:
  the broker lost it (restarted without persistence) or a killed worker took it with it.

`recover` puts those back to pending with the reason, counts them (`Stimulus.lost`), and sends
their tasks again. Sending twice is safe: a stimulus is claimed once (workers.stimuli). It runs
every BUILD_WATCHDOG_S in each worker (started with the worker) and in `build_stimuli --wait`,
and when the researcher presses *Resume build*.
"""

import contextlib
import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from celery.signals import worker_ready
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from evalsite.experiments.models import Experiment, Method, Stimulus
from workers import tasks

log = logging.getLogger(__name__)
Status = Stimulus.Status
QUEUES = ("default", "gpu", "media")
NO_HEARTBEAT = "its worker stopped: no heartbeat for {seconds:.0f} s"
NO_MESSAGE = "its task was in neither the broker nor a live worker (broker restarted or worker killed)"


# --- finding and recovering lost work -------------------------------------------------------


@dataclass
class Recovery:
    lost: int = 0
    reasons: Counter = field(default_factory=Counter)
    checked: bool = True  # False: another process was recovering this experiment

    def line(self) -> str:
        return summary_line({"lost": self.lost, "reasons": self.reasons})


def find_lost(experiment: Experiment) -> list[tuple[Stimulus, str]]:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.BUILD_LOST_AFTER_S)
    lost = []
    running = experiment.stimuli.filter(status=Status.RUNNING).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale)
    )
    for stimulus in running:
        seconds = (now - (stimulus.heartbeat_at or stimulus.started_at or now)).total_seconds()
        lost.append((stimulus, NO_HEARTBEAT.format(seconds=seconds)))
    grace = now - timedelta(seconds=settings.BUILD_DISPATCH_GRACE_S)
    pending = list(
        experiment.stimuli.filter(status=Status.PENDING, dispatched_at__lt=grace)
        .exclude(task_id="")
        .exclude(heartbeat_at__gte=stale)
    )
    if pending:
        alive = alive_task_ids({s.task_id for s in pending})
        if alive is not None:
            lost += [(s, NO_MESSAGE) for s in pending if s.task_id not in alive]
    return lost


def alive_task_ids(task_ids: set[str]) -> set[str] | None:
    """Which of `task_ids` are waiting in the broker's queues or held (running, reserved,
    scheduled for a retry) by a live worker; None when the broker cannot be read (not Redis)."""
    from evalsite.celery import app

    with app.connection_for_read() as conn:
        if conn.transport.driver_type != "redis":
            return None
        client = conn.default_channel.client
        waiting = set()
        for queue in QUEUES:
            # kombu keeps one list per priority step: "media", "media\x06\x163", ...
            for key in client.scan_iter(match=f"{queue}*", _type="list"):
                for raw in client.lrange(key, 0, -1):
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        waiting.add(json.loads(raw)["headers"]["id"])
    alive = task_ids & waiting
    rest = task_ids - alive
    if rest:
        replies = app.control.inspect(timeout=1.0).query_task(*rest) or {}
        for held in replies.values():
            alive |= set(held) & rest
    return alive


def recover(experiment: Experiment) -> Recovery:
    """Resets lost stimuli to pending with their reason and sends their tasks again."""
    with transaction.atomic():
        locked = Experiment.objects.select_for_update(skip_locked=True).filter(pk=experiment.pk).first()
        if locked is None:
            return Recovery(checked=False)
        found = find_lost(locked)
        result, mux, methods = Recovery(), [], set()
        for stimulus, reason in found:
            # Only if it is still as we saw it: a worker may have finished it meanwhile.
            same = {"status": stimulus.status, "task_id": stimulus.task_id, "attempts": stimulus.attempts}
            reset = Stimulus.objects.filter(pk=stimulus.pk, **same).update(
                status=Status.PENDING, heartbeat_at=None, lost=stimulus.lost + 1, lost_reason=reason[:300]
            )
            if not reset:
                continue
            result.lost += 1
            result.reasons[_short(reason)] += 1
            if stimulus.method_id and stimulus.sound_id is None and _is_model(stimulus.method_id):
                methods.add(stimulus.method_id)
            else:
                mux.append(stimulus.pk)
        if result.lost:
            log.warning("experiment %s: %s", experiment.pk, result.line())
            transaction.on_commit(lambda: _resend(mux, methods))
    return result


def _is_model(method_id: int) -> bool:
    return Method.objects.filter(pk=method_id, kind=Method.Kind.MODEL).exists()


def _resend(mux: list[int], methods: set[int]) -> None:
    for method_id in sorted(methods):
        tasks.dispatch_method(method_id, tasks.embed_library)
    tasks.dispatch_mux(mux)


def building() -> list[Experiment]:
    """Experiments with stimuli still pending or running."""
    ids = Stimulus.objects.filter(status__in=[Status.PENDING, Status.RUNNING]).values("experiment_id")
    return list(Experiment.objects.filter(pk__in=ids))


def sweep() -> list[tuple[Experiment, Recovery]]:
    """`recover` on every experiment being built; what it found."""
    return [(experiment, recover(experiment)) for experiment in building()]


def lost_summary(experiment: Experiment) -> dict:
    """{"lost": stimuli found lost in this build, "reasons": {reason: count}} for the admin."""
    rows = experiment.stimuli.filter(lost__gt=0).values_list("lost_reason", flat=True)
    reasons = Counter(_short(reason) for reason in rows)
    return {"lost": sum(reasons.values()), "reasons": dict(reasons)}


def summary_line(summary: dict) -> str:
    """ "lost: 3, re-dispatched (1 its worker stopped (no heartbeat); 2 its task was in …)"."""
    if not summary["lost"]:
        return "nothing lost"
    why = "; ".join(f"{n} {reason}" for reason, n in summary["reasons"].items())
    return f"lost: {summary['lost']}, re-dispatched ({why})"


def _short(reason: str) -> str:
    return "its worker stopped (no heartbeat)" if reason.startswith("its worker stopped") else reason


# --- the watchdog in each worker ------------------------------------------------------------


def start_watchdog(interval: float | None = None) -> threading.Thread | None:
    """A daemon thread that runs `sweep` every `interval` seconds (BUILD_WATCHDOG_S), first at once."""
    interval = settings.BUILD_WATCHDOG_S if interval is None else interval
    if interval <= 0:
        return None

    def watch():
        while True:
            try:
                for experiment, found in sweep():
                    if found.lost:
                        log.warning("watchdog: '%s': %s", experiment, found.line())
            except Exception:  # broker or database away: try again next round
                log.exception("watchdog: the check failed")
            finally:
                connection.close()
            threading.Event().wait(interval)

    thread = threading.Thread(target=watch, name="build-watchdog", daemon=True)
    thread.start()
    return thread


@worker_ready.connect
def watch_builds(**kwargs):
    """Each worker checks every BUILD_WATCHDOG_S for lost work of any build."""
    start_watchdog()
