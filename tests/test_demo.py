"""`manage.py demo` end to end: on the real deployment path (PostgreSQL under CI, Redis, a real
worker process), a small study from nothing to an open experiment with every clip built."""

import subprocess
import sys

import pytest

from evalsite.experiments.models import Experiment, Stimulus
from retrieval.models import TrainedModel
from tests.conftest import ROOT, worker_env


def run_demo(env, root):
    return subprocess.run(
        [sys.executable, "manage.py", "demo", "--no-serve", "--small", "--dir", str(root)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.timeout(3600)  # a guard against a hang only: a busy machine takes several times 5 minutes
def test_it_runs_the_whole_demo_study_with_a_real_worker(start_worker, tmp_path):
    shared = {"MEDIA_ROOT": str(tmp_path / "media"), "EMBEDDINGS_DIR": str(tmp_path / "embeddings")}
    start_worker("gpu,media", env=shared)
    env = worker_env(shared)

    first = run_demo(env, tmp_path / "demo")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "Stimuli: building on the workers" in first.stdout
    table = first.stdout[first.stdout.index("Table 1"):]
    for row in ("Random", "Proposed", "Triplet 2", "Triplet 1"):
        assert f"\n{row}" in table
    assert "Table 2" in table

    experiment = Experiment.objects.get(slug="demo")
    assert experiment.status == Experiment.Status.OPEN
    assert sorted(experiment.methods.values_list("label", flat=True)) == [
        "Ground truth", "Original", "Proposed", "Random", "Triplet 1", "Triplet 2",
    ]
    stimuli = experiment.stimuli.all()
    tests = stimuli.filter(role=Stimulus.Role.TEST)
    assert tests.count() == experiment.videos.count() * 6
    truth = tests.filter(method__label="Ground truth").select_related("video", "sound")
    assert all(s.sound.source == s.video.source for s in truth)  # each video's own planted sound
    assert set(stimuli.values_list("status", flat=True)) == {Stimulus.Status.DONE}
    for stimulus in stimuli:
        assert (tmp_path / "media" / stimulus.file.name).stat().st_size > 0
    assert TrainedModel.objects.filter(name__startswith="demo-").count() == 3
    assert "Participant link: http://127.0.0.1:8000/s/demo/" in first.stdout

    again = run_demo(env, tmp_path / "demo")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "Dataset: reusing" in again.stdout
    assert again.stdout.count(": reusing") >= 5  # dataset, three models, experiment
    assert experiment.stimuli.count() == stimuli.count()
