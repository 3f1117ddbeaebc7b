"""What the experiment page says about its workers: queues that no live worker consumes (real
Redis, real worker processes started and stopped here), and the signs of life of a gpu phase."""

import time

import pytest

from tests.workers.conftest import experiment, library, trained_model, video_row
from tests.workers.test_worker import finished, wait_for, worker_settings
from workers import heartbeats, liveness, tasks
from workers.build import enqueue_build, wait_for_build
from workers.models import EmbeddingChunk, EmbeddingRun

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def idle_queues(exp) -> list[str]:
    lines = liveness.missing_workers(exp)
    return [queue for queue in ("gpu", "media") if any(f"the {queue} queue" in line for line in lines)]


def until(check):
    """Waits for `check()` to hold: a worker's reply may come after a busy moment, so a slow machine
    only waits longer (the suite's per-test timeout bounds a hang)."""
    while not check():
        time.sleep(0.2)


@pytest.fixture
def ask_every_time(settings):
    settings.QUEUE_CHECK_S = 0


def test_it_names_each_queue_that_no_live_worker_consumes(
    ask_every_time, start_worker, media_root, checkpoint
):
    videos = [video_row(media_root, f"v{i}")[0] for i in range(2)]
    exp = experiment(videos, library(media_root), ("model", "random"), trained_model(checkpoint))
    enqueue_build(exp.pk)
    assert idle_queues(exp) == ["gpu", "media"]
    assert "No worker is consuming the gpu queue: 2 stimuli wait for it." in liveness.missing_workers(exp)[0]
    assert liveness.gpu_activity(exp)["Model"].startswith("waiting in the gpu queue for")

    start_worker("media", env=worker_settings(media_root))
    until(lambda: idle_queues(exp) == ["gpu"])
    wait_for(exp, lambda p: p["Random"]["done"] == 2)
    assert exp.stimuli.filter(method__label="Model", status="pending").count() == 2  # still no gpu worker
    until(lambda: idle_queues(exp) == ["gpu"])

    gpu = start_worker("gpu", env=worker_settings(media_root))
    until(lambda: "gpu" in (liveness.consumers() or {}))
    wait_for(exp, finished)
    assert set(exp.stimuli.values_list("status", flat=True)) == {"done"}
    assert liveness.missing_workers(exp) == [] and liveness.gpu_activity(exp) == {}
    gpu.stop()
    until(lambda: set(liveness.consumers() or {}) == {"media"})


class Said(Exception):
    pass


def test_build_stimuli_wait_names_the_queue_without_a_worker(
    ask_every_time, transactional_db, purge_broker, media_root, settings
):
    settings.BUILD_WATCHDOG_S = 0  # check at every round (30 s by default)
    exp = experiment([video_row(media_root, f"v{i}")[0] for i in range(2)], library(media_root), ("random",))
    enqueue_build(exp.pk)
    said = []

    def out(line):
        said.append(line)
        if line.startswith("No worker"):
            raise Said  # what `build_stimuli --wait` prints; it would go on waiting

    with pytest.raises(Said):
        wait_for_build(exp, out, interval=0.05)
    assert said[-1].startswith("No worker is consuming the media queue: 2 stimuli wait for it."), said


@pytest.mark.django_db
def test_the_gpu_phase_shows_its_signs_of_life(media_root, checkpoint):
    videos = [video_row(media_root, f"v{i}")[0] for i in range(2)]
    model = trained_model(checkpoint)
    exp = experiment(videos, library(media_root), ("model",), model)
    assert liveness.gpu_activity(exp) == {}  # nothing to build yet
    for video in videos:
        exp.stimuli.create(video=video, method=exp.methods.get(), role="test")
    assert liveness.gpu_activity(exp) == {"Model": "not sent to the gpu queue yet"}
    method_id = exp.methods.get().pk
    tasks.record(tasks.waiting_for_sound(method_id))  # what dispatch_method does
    assert liveness.gpu_activity(exp)["Model"].startswith("waiting in the gpu queue for 0 s")

    run = EmbeddingRun.objects.create(
        library=exp.sound_library,
        model_sha256=model.checkpoint_sha256,
        library_hash="h",
        sounds=4,
        chunk_size=2,
    )
    EmbeddingChunk.objects.create(run=run, index=0, first_pk=1, last_pk=2, sounds=2, done_at=run.created_at)
    EmbeddingChunk.objects.create(run=run, index=1, first_pk=3, last_pk=4, sounds=2)
    with heartbeats.beating(tasks.waiting_for_sound(method_id)):  # what the gpu tasks do while they work
        line = liveness.gpu_activity(exp)["Model"]
    assert (
        line == "a gpu worker is at work (last sign of life 0 s ago; sound library: 1 of 2 chunks embedded)"
    )
