"""Celery tasks: thin wrappers over workers.retrieve and workers.stimuli, passing primary keys.

Names decide the queue (settings.CELERY_TASK_ROUTES): workers.gpu.* need a model and go to GPU
machines, workers.media.* need ffmpeg only. The gpu code (torch) is imported inside the gpu tasks,
so that the web process, which imports this module to send tasks, never loads torch.
"""

import logging

from celery import Task, shared_task

from evalsite.experiments.models import Method
from workers import stimuli

log = logging.getLogger(__name__)


class BuildTask(Task):
    """Retries transient errors with exponential backoff; acks late and is redelivered when its
    worker dies (settings), which is safe because every task is idempotent."""

    autoretry_for = stimuli.TRANSIENT
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 6

    def reclaim(self) -> bool:
        # A redelivered message or a retry may find its stimulus "running" from the lost try.
        return bool(self.request.retries or (self.request.delivery_info or {}).get("redelivered"))


class StimulusTask(BuildTask):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        message = f"gave up after {self.request.retries} retries: {exc or type(exc).__name__}"
        stimuli.fail(args[0] if args else kwargs["stimulus_id"], None, message)


class MethodTask(BuildTask):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from workers import retrieve as gpu

        method = Method.objects.filter(pk=args[0] if args else kwargs["method_id"]).first()
        if method is not None:
            gpu.fail_pending(method, f"gave up after {self.request.retries} retries: {exc}")


@shared_task(base=MethodTask, bind=True, name="workers.gpu.embed_library")
def embed_library(self, method_id: int) -> int:
    """Embeds the experiment's sound library with the method's model (or finds it cached)."""
    from workers import retrieve as gpu

    method = find_method(method_id)
    if method is None:
        return 0
    if not gpu.pending(method).exists():
        return 0
    try:
        return len(gpu.library_embeddings(method).ids)
    except stimuli.TRANSIENT:
        raise
    except Exception as exc:  # a bad checkpoint or library fails this method, not the build
        log.exception("method %s: embedding the library failed", method_id)
        gpu.fail_pending(method, exc)
        return 0


@shared_task(base=MethodTask, bind=True, name="workers.gpu.retrieve")
def retrieve(self, method_id: int) -> int:
    """Embeds the method's pending videos, stores their top-1 sounds, and queues their muxing."""
    from workers import retrieve as gpu

    method = find_method(method_id)
    if method is None:
        return 0
    try:
        ready = gpu.retrieve(method)
    except stimuli.TRANSIENT:
        raise
    except Exception as exc:
        log.exception("method %s: retrieval failed", method_id)
        gpu.fail_pending(method, exc)
        return 0
    for pk in ready:
        mux_stimulus.delay(pk)
    return len(ready)


@shared_task(base=StimulusTask, bind=True, name="workers.media.mux_stimulus")
def mux_stimulus(self, stimulus_id: int) -> str:
    return stimuli.build_stimulus(stimulus_id, reclaim=self.reclaim())


def find_method(method_id: int) -> Method | None:
    related = Method.objects.select_related("trained_model", "experiment__sound_library")
    method = related.filter(pk=method_id).first()
    if method is None:  # deleted (with its experiment) after the build was queued: nothing to do
        log.warning("method %s no longer exists; skipping", method_id)
    return method
