"""manage.py build_stimuli: in-process when embedded, progress table, failures, refusals, bad arguments."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evalsite.experiments.models import Method, Video
from tests.workers.conftest import experiment, library, video_row

pytestmark = pytest.mark.django_db


def test_the_command_builds_in_process_when_embedded(media_root, settings, capsys):
    settings.EMBEDDED_TASKS = True
    video, _ = video_row(media_root, "v")
    exp = experiment([video], library(media_root), ("random", "original"))
    call_command("build_stimuli", exp.slug, "--no-progress")
    out = capsys.readouterr().out
    assert "Random" in out and "Original" in out
    assert "hub share (videos given the method's most chosen sound):\n  Random: 1.00 (1 videos" in out
    assert set(exp.stimuli.values_list("status", flat=True)) == {"done"}
    with pytest.raises(CommandError, match="no experiment with id or slug 'nope'"):
        call_command("build_stimuli", "nope")


def test_the_command_exits_non_zero_when_stimuli_fail(media_root, settings, capsys):
    settings.EMBEDDED_TASKS = True
    silent, _ = video_row(media_root, "silent", tone_hz=None)
    Video.objects.filter(pk=silent.pk).update(has_audio=True)  # its file lost the soundtrack since import
    exp = experiment([silent], library(media_root), ("original",))
    with pytest.raises(CommandError, match="1 stimuli failed"):
        call_command("build_stimuli", str(exp.pk), "--no-progress")
    assert "failed: silent / Original: Original / video 'silent':" in capsys.readouterr().err


def test_it_refuses_an_experiment_the_admin_would_not_build_naming_each_problem(media_root, settings):
    settings.EMBEDDED_TASKS = True
    silent, _ = video_row(media_root, "silent", tone_hz=None)
    exp = experiment([silent], library(media_root, n=0), ("original", "random"))
    problems = [
        "The 'Original soundtrack' method needs the videos' own soundtrack; no audio in: silent",
        "'Exp' needs a sound library with sounds",
    ]
    with pytest.raises(CommandError) as refused:
        call_command("build_stimuli", exp.slug, "--no-progress")
    assert str(refused.value) == "'Exp' cannot be built: " + "; ".join(problems)
    assert not exp.stimuli.exists() and not (media_root / "stimuli").exists()

    Method.objects.filter(experiment=exp).delete()
    exp.status = exp.Status.CLOSED
    exp.save(update_fields=["status"])
    closed = "'Exp' is closed: only a draft can be built; 'Exp' has no methods"
    with pytest.raises(CommandError, match=closed):
        call_command("build_stimuli", str(exp.pk), "--no-progress")
    assert not exp.stimuli.exists()
