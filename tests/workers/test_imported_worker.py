"""Imported methods on the deployment path: PostgreSQL, a real Redis broker and a real worker."""

import pytest
from django.core.management import call_command

from tests.workers.test_imported import band, three_systems
from tests.workers.test_worker import check_files, worker_settings
from workers.build import build_progress

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_a_real_worker_builds_each_imported_form(start_worker, media_root, tmp_path):
    exp = three_systems(media_root, tmp_path, mux_mode="replace")
    start_worker("default,gpu,media", env=worker_settings(media_root))
    call_command("build_stimuli", exp.slug, "--wait", "--interval", "0.5")
    progress = build_progress(exp)
    assert {label: c["done"] for label, c in progress.items()} == {
        "Random": 2, "Other retrieval": 2, "Generator": 2, "Finished clips": 2,
    }, [s.error for s in exp.stimuli.all()]  # fmt: skip
    check_files(exp, media_root)
    choices = exp.stimuli.filter(method__label="Other retrieval").select_related("video", "sound")
    assert {s.video.name: s.sound.name for s in choices} == {"v0": "s2", "v1": "s3"}
    for clip in exp.stimuli.filter(method__label="Finished clips"):
        assert band(clip.file.path, 880) == 1.0 and band(clip.file.path, 440) < 0.01
