"""Celery tasks: thin wrappers over workers.retrieve and workers.stimuli, passing primary keys.

Names decide the queue (settings.CELERY_TASK_ROUTES): workers.gpu.* need a model and go to GPU
machines, workers.media.* need ffmpeg only. The gpu code (torch) is reached through `gpu()`, which
imports it on first use, so that the web process, which imports this module to send tasks, never
loads torch.
"""

import logging
import time
import uuid

from celery import Task, chord, shared_task
from django.utils import timezone

from evalsite.experiments.models import Method, Stimulus
from workers import stimuli
from workers.heartbeats import beating

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
        method = Method.objects.filter(pk=args[0] if args else kwargs["method_id"]).first()
        if method is not None:
            gpu().fail_pending(method, f"gave up after {self.request.retries} retries: {exc}")


def gpu():
    """workers.retrieve, imported on first use: it loads torch, which the web process (it imports
    this module to send tasks) must never load."""
    from workers import retrieve as gpu_work

    return gpu_work


def logged(what: str, work, failure=lambda result: None):
    """Runs `work()` with one log line when it starts and one when it ends: "finished in N s"
    with its result, or "failed after N s" with the reason (an exception, or what `failure`
    finds in the result)."""
    log.info("%s: started", what)
    started = time.monotonic()
    try:
        result = work()
    except Exception as exc:
        retry = " (will retry)" if isinstance(exc, stimuli.TRANSIENT) else ""
        seconds = time.monotonic() - started
        log.warning("%s: failed after %.2f s%s: %s", what, seconds, retry, exc or type(exc).__name__)
        raise
    reason = failure(result)
    if reason:
        log.warning("%s: failed after %.2f s: %s", what, time.monotonic() - started, reason)
    else:
        log.info("%s: finished in %.2f s: %s", what, time.monotonic() - started, result)
    return result


@shared_task(base=MethodTask, bind=True, name="workers.gpu.embed_library")
def embed_library(self, method_id: int) -> int:
    """Embeds the experiment's sound library with the method's model (or finds it cached), then
    sends retrieve. A library larger than settings.EMBEDDING_CHUNK is replaced by a chord: one
    embed_chunk task per chunk not yet done, then assemble_library (which sends retrieve)."""
    with beating(on_behalf(self)):
        result = logged(f"embed_library method {method_id}", lambda: _embed_library(method_id))
    if isinstance(result, int):
        return result
    raise self.replace(result)


def on_behalf(task):
    """The stimuli a gpu task works for: pending ones its message was sent for."""
    return Stimulus.objects.filter(task_id=task.request.id or "-", status=Stimulus.Status.PENDING)


def _embed_library(method_id: int):
    """The number of sounds embedded, or the chord that embeds the library's missing chunks."""
    method = find_method(method_id)
    if method is None or not gpu().pending(method).exists():
        return 0
    result = gpu().failing_method(method, "embedding the library", lambda: _embedding(method))
    if result is None:
        return 0
    if isinstance(result, int):
        dispatch_method(method_id, retrieve)
    return result


def _embedding(method: Method):
    """A chunked run's chord while chunks remain; else the library's size, embedded now (small)
    or read (cached, or every chunk done)."""
    run = gpu().plan_embedding(method)
    todo = list(run.chunks.filter(done_at__isnull=True).values_list("pk", flat=True)) if run else []
    if run is not None and todo:
        return chunk_chord(method.pk, run.pk, todo)
    return len(gpu().library_embeddings(method).ids)


def chunk_chord(method_id: int, run_id: int, chunk_ids: list[int]):
    """The chord of a chunked embedding. The stimuli record the last chunk's message: it waits
    in the gpu queue, or is held by a worker, as long as chunks remain (the watchdog sees the
    work alive), and every chunk task beats on them."""
    last = record(waiting_for_sound(method_id))
    header = [embed_chunk.si(method_id, pk) for pk in chunk_ids]
    header[-1] = header[-1].set(task_id=last)
    return chord(header, assemble_library.si(method_id, run_id))


# A chord counts its header's results: these must be stored (results are ignored by default).
@shared_task(base=MethodTask, bind=True, name="workers.gpu.embed_chunk", ignore_result=False)
def embed_chunk(self, method_id: int, chunk_id: int) -> int:
    """Embeds one chunk of a library into its cache file; returns its number of sounds."""
    with beating(waiting_for_sound(method_id)):
        return logged(f"embed_chunk {chunk_id} of method {method_id}",
                      lambda: _embed_chunk(method_id, chunk_id, self.request.hostname or ""))


def _embed_chunk(method_id: int, chunk_id: int, worker: str) -> int:
    from workers.models import EmbeddingChunk

    method = find_method(method_id)
    chunk = EmbeddingChunk.objects.filter(pk=chunk_id).first()
    if method is None or chunk is None:  # deleted meanwhile: nothing to do
        return 0
    gpu().embed_chunk(method, chunk, worker)
    return chunk.sounds


@shared_task(base=MethodTask, bind=True, name="workers.gpu.assemble_library")
def assemble_library(self, method_id: int, run_id: int) -> int:
    """Joins the chunks into the library's embeddings file, builds its search index, and sends
    retrieve."""
    with beating(waiting_for_sound(method_id)):
        return logged(f"assemble_library method {method_id}", lambda: _assemble_library(method_id, run_id))


def _assemble_library(method_id: int, run_id: int) -> int:
    from workers.models import EmbeddingRun

    method = find_method(method_id)
    run = EmbeddingRun.objects.filter(pk=run_id).first()
    if method is None or run is None:
        return 0
    library = gpu().failing_method(method, "assembling the library", lambda: gpu().assemble_run(method, run))
    if library is None:
        return 0
    dispatch_method(method_id, retrieve)
    return len(library.ids)


@shared_task(base=MethodTask, bind=True, name="workers.gpu.retrieve")
def retrieve(self, method_id: int) -> int:
    """Embeds the method's pending videos, stores their top-1 sounds, and queues their muxing."""
    with beating(on_behalf(self)):
        return logged(f"retrieve method {method_id}", lambda: _retrieve(method_id))


def _retrieve(method_id: int) -> int:
    method = find_method(method_id)
    if method is None:
        return 0
    ready = gpu().failing_method(method, "retrieval", lambda: gpu().retrieve(method))
    if ready is None:
        return 0
    dispatch_mux(ready)
    return len(ready)


@shared_task(base=StimulusTask, bind=True, name="workers.media.mux_stimulus")
def mux_stimulus(self, stimulus_id: int) -> str:
    reclaim = self.reclaim()
    return logged(
        f"mux_stimulus {stimulus_id}",
        lambda: stimuli.build_stimulus(stimulus_id, reclaim=reclaim),
        lambda result: result == "failed" and stimulus_error(stimulus_id),
    )


def stimulus_error(stimulus_id: int) -> str:
    return Stimulus.objects.filter(pk=stimulus_id).values_list("error", flat=True).first() or "failed"


def find_method(method_id: int) -> Method | None:
    related = Method.objects.select_related("trained_model", "experiment__sound_library")
    method = related.filter(pk=method_id).first()
    if method is None:  # deleted (with its experiment) after the build was queued: nothing to do
        log.warning("method %s no longer exists; skipping", method_id)
    return method


# --- sending: every message for a stimulus is recorded on it (workers.recovery reads it) -------


def dispatch_mux(stimulus_ids) -> None:
    """Sends one mux task per stimulus, recording each message's id on its stimulus first."""
    for pk in stimulus_ids:
        task_id = record(Stimulus.objects.filter(pk=pk))
        mux_stimulus.apply_async((pk,), task_id=task_id)


def dispatch_method(method_id: int, task) -> None:
    """Sends a gpu task of a model method (embed_library, then retrieve) on behalf of its
    pending stimuli that have no sound yet."""
    task.apply_async((method_id,), task_id=record(waiting_for_sound(method_id)))


def waiting_for_sound(method_id: int):
    return Stimulus.objects.filter(method_id=method_id, status=Stimulus.Status.PENDING, sound__isnull=True)


def record(rows) -> str:
    """A new message id, recorded on `rows` as the one sent for them."""
    task_id = str(uuid.uuid4())
    rows.update(task_id=task_id, dispatched_at=timezone.now(), heartbeat_at=None)
    return task_id
