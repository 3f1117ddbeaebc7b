"""Files go with their rows: after the deletion commits, never while another row uses them; and
`manage.py orphan_files` lists (and with --delete removes) what no row uses."""

import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction

from evalsite.experiments.models import Experiment, Stimulus

pytestmark = pytest.mark.django_db


def paths(rows) -> set[Path]:
    return {Path(row.file.path) for row in rows}


def test_it_deletes_an_experiments_clips_after_the_commit_and_keeps_its_media(
    make_experiment, django_capture_on_commit_callbacks
):
    experiment = make_experiment()
    clips, videos = paths(experiment.stimuli.all()), paths(experiment.videos.all())
    sound = Path(experiment.sound_library.sounds.get().file.path)
    assert clips and all(p.exists() for p in clips)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        experiment.delete()
    assert all(p.exists() for p in clips)  # not before the commit
    for callback in callbacks:
        callback()
    assert not any(p.exists() for p in clips)
    assert all(p.exists() for p in videos) and sound.exists()  # the library and videos stay


def test_it_deletes_a_methods_clips_only(make_experiment, django_capture_on_commit_callbacks):
    experiment = make_experiment()
    method = experiment.methods.get(label="random")
    mine, others = paths(method.stimuli.all()), paths(experiment.stimuli.exclude(method=method))
    with django_capture_on_commit_callbacks(execute=True):
        method.delete()
    assert not any(p.exists() for p in mine)
    assert all(p.exists() for p in others)


def test_it_keeps_a_file_that_another_row_still_uses(make_experiment, django_capture_on_commit_callbacks):
    experiment = make_experiment()
    first, second = experiment.stimuli.filter(role="test")[:2]
    Stimulus.objects.filter(pk=second.pk).update(file=first.file.name)
    shared = Path(first.file.path)
    with django_capture_on_commit_callbacks(execute=True):
        first.delete()
    assert shared.exists()
    with django_capture_on_commit_callbacks(execute=True):
        Stimulus.objects.get(pk=second.pk).delete()
    assert not shared.exists()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_deletion_keeps_the_files(make_experiment):
    experiment = make_experiment()
    pk, clips = experiment.pk, paths(experiment.stimuli.all())
    with pytest.raises(RuntimeError), transaction.atomic():
        experiment.delete()
        raise RuntimeError("changed my mind")
    assert Experiment.objects.filter(pk=pk).exists()
    assert all(p.exists() for p in clips)
    Experiment.objects.get(pk=pk).delete()  # outside a transaction: at once
    assert not any(p.exists() for p in clips)


def age(path: Path, seconds: float) -> None:
    stamp = path.stat().st_mtime - seconds
    os.utime(path, (stamp, stamp))


def test_orphan_files_lists_then_deletes_only_unused_files(make_experiment, media_root, capsys):
    experiment = make_experiment()
    used = paths(experiment.stimuli.all()) | paths(experiment.videos.all())
    orphan = media_root / "stimuli" / "left-behind.mp4"
    orphan.write_bytes(b"x" * 2000)
    fresh = media_root / "stimuli" / "being-written.mp4"
    fresh.write_bytes(b"y" * 10)
    for path in [*media_root.rglob("*.*")]:
        if path != fresh:
            age(path, 7200)

    call_command("orphan_files")
    out = capsys.readouterr().out
    assert f"orphan: {orphan}" in out and "1 orphan files" in out, out
    assert "being-written" not in out  # a build may still be writing it
    assert orphan.exists()

    call_command("orphan_files", "--delete")
    assert f"removed: {orphan}" in capsys.readouterr().out
    assert not orphan.exists() and fresh.exists() and all(p.exists() for p in used)

    call_command("orphan_files", "--delete", "--older-than", "0")
    assert f"removed: {fresh}" in capsys.readouterr().out
    assert not fresh.exists() and all(p.exists() for p in used)
