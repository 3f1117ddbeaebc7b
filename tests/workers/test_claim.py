"""Claiming and recording stimuli: one owner at a time, exactly one file per stimulus."""

from datetime import timedelta

import pytest
from django.utils import timezone

from evalsite.experiments.models import Stimulus
from tests.workers.conftest import experiment, library, video_row
from workers import stimuli
from workers.build import prepare

pytestmark = pytest.mark.django_db


@pytest.fixture
def stimulus(media_root):
    video, _ = video_row(media_root, "v")
    exp = experiment([video], library(media_root, n=1), ("random",))
    prepare(exp)
    return exp.stimuli.get()


def test_it_claims_a_pending_stimulus_once(stimulus):
    assert stimuli.claim(stimulus.pk) == 1
    assert stimuli.claim(stimulus.pk) is None
    stimulus.refresh_from_db()
    assert stimulus.status == "running" and stimulus.attempts == 1 and stimulus.started_at


def test_a_redelivered_task_takes_over_a_running_stimulus(stimulus):
    stimuli.claim(stimulus.pk)
    assert stimuli.claim(stimulus.pk, reclaim=True) == 2


def test_a_claim_older_than_the_time_limit_can_be_taken(stimulus, settings):
    stimuli.claim(stimulus.pk)
    old = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 5)
    Stimulus.objects.filter(pk=stimulus.pk).update(started_at=old)
    assert stimuli.claim(stimulus.pk) == 2


def test_it_does_not_rebuild_a_finished_stimulus(stimulus):
    assert stimuli.build_stimulus(stimulus.pk) == "done"
    stimulus.refresh_from_db()
    assert stimuli.build_stimulus(stimulus.pk) == "skipped"
    assert stimuli.build_stimulus(stimulus.pk, reclaim=True) == "skipped"
    assert Stimulus.objects.get(pk=stimulus.pk).file.name == stimulus.file.name


def test_a_worker_that_lost_its_claim_keeps_no_file(stimulus, media_root, monkeypatch):
    # While this worker muxes, the stimulus is taken over (a re-run build, a redelivery).
    real_store = stimuli.store

    def store_then_lose_the_claim(*args):
        real_store(*args)
        assert stimuli.claim(stimulus.pk, reclaim=True) is not None

    monkeypatch.setattr(stimuli, "store", store_then_lose_the_claim)
    assert stimuli.build_stimulus(stimulus.pk) == "skipped"
    assert not [p for p in (media_root / "stimuli").iterdir()]
    assert Stimulus.objects.get(pk=stimulus.pk).status == "running"  # the new owner's


def test_a_failed_stimulus_keeps_its_error_until_rebuilt(stimulus):
    attempt = stimuli.claim(stimulus.pk)
    assert stimuli.fail(stimulus.pk, attempt, "video 'v': broken")
    assert Stimulus.objects.get(pk=stimulus.pk).error == "video 'v': broken"
    assert stimuli.build_stimulus(stimulus.pk) == "skipped"
    prepare(stimulus.experiment)
    assert stimuli.build_stimulus(stimulus.pk) == "done"
    assert Stimulus.objects.get(pk=stimulus.pk).error == ""


def test_prepare_creates_controls_up_to_the_counts_and_no_more(media_root):
    videos = [video_row(media_root, f"v{i}")[0] for i in range(2)]
    exp = experiment(videos, library(media_root, n=1), ("random", "original"), gold_clips=2, trap_clips=1)
    prepare(exp)
    prepare(exp)
    assert exp.stimuli.filter(role="test").count() == 4
    assert exp.stimuli.filter(role="gold").count() == 2 and exp.stimuli.filter(role="trap").count() == 1
    exp.training_clips = 4
    exp.save()
    prepare(exp)
    rows = sorted(exp.stimuli.filter(role="training").values_list("label", "control_kind"))
    assert rows == [
        ("training 1: original", "original"),
        ("training 2: random", "random"),
        ("training 3: gold", "gold"),
        ("training 4: original", "original"),
    ]


def test_prepare_sweeps_temp_files_of_killed_workers_only_when_stale(stimulus, media_root, settings):
    import os
    import time

    folder = media_root / "stimuli"
    folder.mkdir(exist_ok=True)
    stale, fresh = folder / ".tmp-dead.mp4", folder / ".tmp-live.mp4"
    for path in (stale, fresh):
        path.write_bytes(b"half a file")
    old = time.time() - settings.CELERY_TASK_TIME_LIMIT - 60
    os.utime(stale, (old, old))
    prepare(stimulus.experiment)
    assert not stale.exists() and fresh.exists()


def test_a_stimulus_whose_worker_keeps_dying_fails_after_max_attempts(stimulus):
    Stimulus.objects.filter(pk=stimulus.pk).update(status="running", attempts=stimuli.MAX_ATTEMPTS)
    assert stimuli.build_stimulus(stimulus.pk, reclaim=True) == "failed"
    assert "the worker stopped each time" in Stimulus.objects.get(pk=stimulus.pk).error
    # A build started again by the researcher tries once more.
    prepare(stimulus.experiment)
    assert stimuli.build_stimulus(stimulus.pk) == "done"
