"""The demo's build step: the admin's check first; a study an earlier run opened is reused."""

import pytest
from django.core.management.base import CommandError

from evalsite.demo import steps
from evalsite.experiments.models import Experiment, Method, SoundLibrary

pytestmark = pytest.mark.django_db


def test_it_refuses_an_experiment_the_admin_would_not_build_naming_each_problem():
    exp = Experiment.objects.create(title="Demo", slug="demo", training_clips=0,
                                    sound_library=SoundLibrary.objects.create(name="empty"))  # fmt: skip
    Method.objects.create(experiment=exp, kind=Method.Kind.RANDOM, label="Random")
    lines = []
    with pytest.raises(CommandError) as refused:
        steps.build(exp, lines.append)
    problems = "'Demo' has no videos; 'Demo' needs a sound library with sounds"
    assert str(refused.value) == f"'Demo' cannot be built: {problems}"
    assert lines == [] and not exp.stimuli.exists()


def test_it_reuses_the_clips_of_a_study_an_earlier_run_opened():
    exp = Experiment.objects.create(title="Demo", slug="demo", status=Experiment.Status.OPEN)
    lines = []
    assert steps.build(exp, lines.append) == {}
    assert lines == ["Stimuli: reusing the clips of the open experiment"] and not exp.stimuli.exists()
