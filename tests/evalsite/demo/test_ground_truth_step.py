"""The demo's ground-truth method: each video's own planted sound, imported as a choices CSV."""

import pytest

from evalsite.demo import steps
from evalsite.experiments.models import Experiment, Method
from tests.workers.conftest import experiment, library, video_row

pytestmark = pytest.mark.django_db


def test_it_imports_each_videos_own_sound_as_an_upper_reference(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    lib = library(tmp_path, n=3)
    videos = []
    for i in (2, 0):  # a dataset clip's video and sound share their source
        video = video_row(tmp_path, f"clip{i}")[0]
        video.source = f"data:clip{i}"
        video.save()
        lib.sounds.filter(name=f"s{i}").update(source=f"data:clip{i}")
        videos.append(video)
    exp = experiment(videos, lib, ("random",))
    lines = []
    steps.ground_truth(exp, tmp_path, lines.append)
    method = exp.methods.get(label=steps.GROUND_TRUTH)
    assert method.kind == Method.Kind.IMPORTED
    assert {o.video.name: o.sound.name for o in method.outputs.all()} == {"clip2": "s2", "clip0": "s0"}
    assert lines == [
        f"Method Ground truth: importing each video's planted sound from {tmp_path}/ground_truth.csv"
    ]
    steps.ground_truth(exp, tmp_path, lines.append)  # a second run keeps it
    assert exp.methods.filter(label=steps.GROUND_TRUTH).count() == 1 and len(lines) == 1


def test_it_leaves_an_open_study_as_it_is(tmp_path):
    exp = Experiment.objects.create(title="Demo", slug="demo", status=Experiment.Status.OPEN)
    steps.ground_truth(exp, tmp_path, print)
    assert not exp.methods.exists() and not (tmp_path / "ground_truth.csv").exists()
