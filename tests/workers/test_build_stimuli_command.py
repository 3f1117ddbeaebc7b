"""manage.py build_stimuli: in-process when embedded, progress table, failures, bad arguments."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

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
    exp = experiment([silent], library(media_root), ("original",))
    with pytest.raises(CommandError, match="1 stimuli failed"):
        call_command("build_stimuli", str(exp.pk), "--no-progress")
    assert "failed: silent / Original: Original / video 'silent':" in capsys.readouterr().err
