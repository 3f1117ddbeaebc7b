"""The deployment path: a real Redis broker and real `celery worker` processes on the test DB."""

import subprocess
import sys
import time

import av
import numpy as np
import pytest
from django.core.management import call_command

from evalsite.experiments.models import Stimulus
from tests.conftest import REDIS_URL, ROOT
from tests.workers.conftest import experiment, library, trained_model, video_row
from tests.workers.hold import Hold
from tests.workers.test_mux import best_lag_correlation
from workers import audio, mux
from workers.build import build_progress, enqueue_build

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def worker_settings(media_root):
    return {"MEDIA_ROOT": str(media_root), "EMBEDDINGS_DIR": str(media_root.parent / "embeddings")}


def wait_for(exp, done, poll=0.2):
    """build_progress once `done(progress)` holds: a state the build stays in (finished), polled
    from the database. A slow machine only waits longer; the per-test timeout guards a hang."""
    while not done(progress := build_progress(exp)):
        time.sleep(poll)
    return progress


def wait_past_visibility_timeout(client, seconds: float) -> None:
    """Returns once every unacknowledged message in the broker is older than the visibility
    timeout: from then on a starting worker takes them over (kombu stamps each message with its
    delivery time in `unacked_index` and restores the older ones when a worker starts)."""
    stamps = [score for _, score in client.zrange("unacked_index", 0, -1, withscores=True)]
    assert stamps, "the killed worker held no unacknowledged message"
    time.sleep(max(0.0, max(stamps) + seconds - time.time()))


def finished(progress):
    return not any(c["pending"] + c["running"] for c in progress.values())


def check_files(exp, media_root):
    """Every stimulus has one playable file of its video's length; no other final file exists."""
    recorded = {s.file.name for s in exp.stimuli.all()}
    assert len(recorded) == exp.stimuli.count()
    on_disk = {
        f"stimuli/{p.name}" for p in (media_root / "stimuli").iterdir() if not p.name.startswith(".tmp-")
    }
    assert on_disk == recorded
    for s in exp.stimuli.all():
        with av.open(s.file.path) as c:
            assert [st.type for st in c.streams] == ["video", "audio"]
            for st in c.streams:
                assert float(st.duration * st.time_base) == pytest.approx(7.0, abs=0.1)
            assert sum(1 for _ in c.decode(video=0)) == 70  # every frame decodes


def test_it_builds_3_videos_x_3_methods_on_a_real_worker(start_worker, media_root, checkpoint):
    videos = [video_row(media_root, f"v{i}", flash_at=2.0 + i)[0] for i in range(3)]
    exp = experiment(videos, library(media_root), ("model", "random", "original"), trained_model(checkpoint))
    start_worker("default,gpu,media", env=worker_settings(media_root))
    call_command("build_stimuli", exp.slug, "--wait", "--interval", "0.5")
    progress = build_progress(exp)
    assert {label: c["done"] for label, c in progress.items()} == {"Model": 3, "Random": 3, "Original": 3}, [
        s.error for s in exp.stimuli.all()
    ]
    check_files(exp, media_root)
    # The replace soundtrack is the retrieved sound, at its offset, loudness-matched.
    for s in exp.stimuli.filter(method__kind__in=["model", "random"]).select_related("sound"):
        sound = mux.read_audio(s.sound.file.path)
        expected = audio.normalize_loudness(
            audio.place(sound, round(s.sound_offset * mux.SAMPLE_RATE), 7 * mux.SAMPLE_RATE),
            mux.SAMPLE_RATE,
            -23.0,
        )[0]
        assert best_lag_correlation(mux.read_audio(s.file.path), expected) > 0.95
    originals = exp.stimuli.filter(method__kind="original")
    for s in originals:  # the video's own 440 Hz tone, not a library sound
        decoded = mux.read_audio(s.file.path)
        spectrum = np.abs(np.fft.rfft(decoded[: mux.SAMPLE_RATE]))
        assert np.argmax(spectrum) == pytest.approx(440, abs=2)


def test_a_build_survives_a_worker_killed_mid_build(start_worker, media_root, purge_broker):
    videos = [video_row(media_root, f"v{i}", flash_at=1.0 + i)[0] for i in range(3)]
    exp = experiment(videos, library(media_root), ("random", "original"), gold_clips=2, training_clips=3)
    # Redis hands a dead worker's unacknowledged tasks to another after the visibility timeout.
    env = {**worker_settings(media_root), "CELERY_VISIBILITY_TIMEOUT": "3"}
    hold = Hold(REDIS_URL, after_done=2)
    first = start_worker("default,gpu,media", env={**env, **hold.env()}, include="tests.workers.hold")
    enqueue_build(exp.pk)
    # Killed while a clip is being made (held there): its row stays "running", its message unacknowledged.
    held = hold.wait(first)
    first.kill()  # SIGKILL to the whole worker, pool children and ffmpeg included
    assert sum(c["done"] for c in build_progress(exp).values()) >= 2
    stranded = list(exp.stimuli.filter(status="running").values_list("pk", flat=True))
    assert stranded == [held]
    # Past the visibility timeout before the new worker's first sweep for abandoned messages
    # (kombu sweeps at start, then only every ~100 s).
    wait_past_visibility_timeout(purge_broker, 3)
    start_worker("default,gpu,media", env=env)
    progress = wait_for(exp, finished)
    assert sum(c["done"] for c in progress.values()) == 11, [s.error for s in exp.stimuli.all()]
    check_files(exp, media_root)
    assert Stimulus.objects.filter(experiment=exp).count() == 11
    # The stranded clip was taken over by the new worker (its redelivered message), once.
    assert set(exp.stimuli.filter(pk__in=stranded).values_list("attempts", flat=True)) == {2}
    assert max(exp.stimuli.values_list("attempts", flat=True)) <= 2


def clip_files(exp):
    rows = exp.stimuli.select_related("video", "method")
    return {(s.video.name, s.method.label): s.file.name for s in rows}


def test_the_web_side_never_imports_torch():
    code = (
        "import django, sys; django.setup(); import workers.build, workers.tasks; "
        "from evalsite.celery import app; app.loader.import_default_modules(); "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
        env={"DJANGO_SETTINGS_MODULE": "evalsite.test_settings", "PATH": "/usr/bin", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.stdout.strip() == "False", result.stderr


def test_a_changed_setting_is_rebuilt_by_the_workers_and_a_removed_video_s_clips_go(
    start_worker, media_root, checkpoint
):
    from evalsite.experiments import actions, provenance

    videos = [video_row(media_root, f"v{i}", flash_at=2.0 + i)[0] for i in range(3)]
    exp = experiment(videos, library(media_root), ("model", "random", "original"), trained_model(checkpoint))
    exp.methods.filter(kind="model").update(hubness="none")  # per video: a removed one leaves the rest
    start_worker("default,gpu,media", env=worker_settings(media_root))
    build = ("build_stimuli", exp.slug, "--wait", "--interval", "0.5")
    call_command(*build)
    before = clip_files(exp)
    exp.methods.filter(kind="model").update(hubness="centre")
    exp.videos.remove(videos[2])
    problems = " ".join(actions.open_problems(exp))
    assert "2 clips were built from settings that changed since" in problems
    assert "v0 / Model (hubness none → centre)" in problems and "(videos: v2)" in problems
    plan = actions.build_plan(exp)
    assert plan == ": 2 stale clips rebuilt, 3 clips of removed videos or controls removed"
    call_command(*build)
    after = clip_files(exp)
    assert set(after) == {(v, m) for v in ("v0", "v1") for m in ("Model", "Random", "Original")}
    assert {key for key in after if after[key] != before[key]} == {("v0", "Model"), ("v1", "Model")}
    assert all(s.built_from["hubness"] == "centre" for s in exp.stimuli.filter(method__kind="model"))
    assert provenance.stale(exp) == []
    check_files(exp, media_root)
    actions.open_experiment(exp)


def documented_worker_commands():
    """(document, command) for every worker command README.md and docs/workers.md give."""
    for doc in (ROOT / "README.md", ROOT / "docs" / "workers.md"):
        for line in doc.read_text().splitlines():
            if "celery -A evalsite worker" in line:
                yield doc.name, line.split("#")[0].strip()


def test_the_documented_worker_commands_log_each_task_s_start_and_end(start_worker, media_root):
    import re
    import shlex

    commands = list(documented_worker_commands())
    assert len(commands) == 4
    # The media command as documented (a name of its own beside other test workers), on the test actions.
    _, command = next(c for c in commands if c[0] == "workers.md" and "-Q media" in c[1])
    args = [*shlex.split(command)[1:], "--concurrency", "1", "-n", f"docs-{time.time_ns()}@%h"]
    video, _ = video_row(media_root, "v", flash_at=2.0)
    exp = experiment([video], library(media_root), ("random",))
    worker = start_worker(env=worker_settings(media_root), args=args, wait=False)
    call_command("build_stimuli", exp.slug, "--wait", "--interval", "0.5")
    stimulus = exp.stimuli.get()
    log = worker.log.read_text()
    assert f"mux_stimulus {stimulus.pk}: started" in log, log[-3000:]
    assert re.search(rf"mux_stimulus {stimulus.pk}: finished in \d+\.\d\d s: done", log), log[-3000:]
    for doc, line in commands:
        assert "--loglevel INFO" in line, (doc, line)
