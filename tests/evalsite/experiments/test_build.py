"""Build stimuli from the admin: a detached process without a broker, the workers' queue with one."""

import time
from pathlib import Path

import pytest
from django.urls import reverse

from evalsite.experiments.models import Experiment, Method, Stimulus, Video
from tests.conftest import worker_env


@pytest.fixture
def staff(client, researcher):
    client.force_login(researcher)
    return client


def plain_experiment(media_dir, methods=("original",)):
    from django.core.files.base import ContentFile

    experiment = Experiment.objects.create(
        title="Build", slug="build", gold_clips=0, trap_clips=0, training_clips=0
    )
    for order, kind in enumerate(methods):
        Method.objects.create(experiment=experiment, kind=kind, label=kind, order=order)
    for name in ("alpha", "beta"):
        video = Video.objects.create(
            name=name, file=ContentFile((media_dir / f"{name}.mp4").read_bytes(), f"{name}.mp4"),
            has_audio=True,
        )
        experiment.videos.add(video)
    return experiment


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_builds_in_a_detached_process_without_a_broker(staff, settings, tmp_path, media_dir, monkeypatch):
    # The child gets this process's environment as it is: here one naming the test database
    # and media folder, with no broker (embedded), as a site without a broker would have.
    for key, value in worker_env({"CELERY_BROKER_URL": "", "MEDIA_ROOT": str(settings.MEDIA_ROOT)}).items():
        monkeypatch.setenv(key, value)
    settings.EMBEDDED_TASKS = True
    settings.VAR_DIR = tmp_path / "var"
    experiment = plain_experiment(media_dir)
    response = staff.post(reverse("admin:experiments_experiment_build", args=[experiment.pk]), follow=True)
    log = settings.VAR_DIR / "logs" / f"build-{experiment.pk}.log"
    assert [str(m) for m in response.context["messages"]] == [
        f"Building 'Build' in a background process (log: {log})."
    ]
    # Until both clips are built: a slow machine only waits longer (pytest's timeout bounds a hang).
    while experiment.stimuli.filter(status__in=["done", "failed"]).count() < 2:
        time.sleep(0.5)
    stimuli = list(experiment.stimuli.all())
    assert [(s.status, s.error) for s in stimuli] == [("done", ""), ("done", "")], log.read_text()
    assert all(Path(s.file.path).is_relative_to(settings.MEDIA_ROOT) for s in stimuli)
    progress = staff.get(reverse("experiments:progress", args=[experiment.pk])).json()
    assert progress["progress"] == {"original": {"pending": 0, "running": 0, "done": 2, "failed": 0}}
    assert progress["stimuli"] == {"total": 2, "done": 2}
    opened = staff.post(reverse("admin:experiments_experiment_open", args=[experiment.pk]), follow=True)
    assert "The experiment is open." in [str(m) for m in opened.context["messages"]]


@pytest.fixture
def published():
    """(task name, routing key, args) of every message the broker accepted. Read from Celery's
    signal rather than the queue: on a shared broker another test run's worker may consume it."""
    from celery.signals import after_task_publish

    sent = []

    def record(sender=None, headers=None, routing_key=None, **kwargs):
        sent.append((sender, routing_key, headers["argsrepr"]))

    after_task_publish.connect(record, weak=False)
    yield sent
    after_task_publish.disconnect(record)


@pytest.mark.redis
@pytest.mark.django_db
def test_it_queues_the_build_on_the_workers_after_commit(
    staff, settings, media_dir, published, django_capture_on_commit_callbacks
):
    settings.EMBEDDED_TASKS = False
    experiment = plain_experiment(media_dir, methods=("original", "random"))
    experiment.sound_library = _library(media_dir)
    experiment.save()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff.post(
            reverse("admin:experiments_experiment_build", args=[experiment.pk]), follow=True
        )
        # Nothing is sent before the transaction commits.
        assert published == [] and not experiment.stimuli.exists()
    assert "Building 'Build' on the workers." in [str(m) for m in response.context["messages"]]
    for callback in callbacks:
        callback()
    stimuli = set(experiment.stimuli.filter(role="test").values_list("pk", flat=True))
    assert len(stimuli) == 4
    assert sorted(published) == sorted(("workers.media.mux_stimulus", "media", f"({pk},)") for pk in stimuli)


def _library(media_dir):
    from django.core.files.base import ContentFile

    from evalsite.experiments.models import Sound, SoundLibrary

    library = SoundLibrary.objects.create(name="lib")
    Sound.objects.create(
        library=library, name="bang", file=ContentFile((media_dir / "bang.wav").read_bytes(), "b.wav")
    )
    return library


@pytest.mark.django_db
def test_it_reports_progress_per_method_and_for_controls(staff, make_experiment):
    experiment = make_experiment(methods=("proposed", "random"))
    Stimulus.objects.filter(pk=experiment.stimuli.filter(method__label="random").first().pk).update(
        status="failed"
    )
    data = staff.get(reverse("experiments:progress", args=[experiment.pk])).json()
    assert data["status"] == "draft"
    assert data["progress"] == {
        "proposed": {"pending": 0, "running": 0, "done": 2, "failed": 0},
        "random": {"pending": 0, "running": 0, "done": 1, "failed": 1},
        "controls": {"pending": 0, "running": 0, "done": 2, "failed": 0},
    }
    # Every clip of the fixture got the library's one sound: a hub share of 1 over 2 videos (too
    # few to call the method collapsed); the original soundtrack retrieves nothing. The model
    # method has the default option; a random method ranks nothing, so none applies to it.
    one_sound = {"videos": 2, "distinct": 1, "hub_share": 1.0, "collapsed": False}
    assert data["hubness"] == {"proposed": {**one_sound, "hubness": "assign"},
                               "random": {**one_sound, "hubness": "none"}}
