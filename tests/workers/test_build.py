"""The in-process build (embedded mode) on the test database: rows, files, errors, re-runs."""

import re

import av
import numpy as np
import pytest

from evalsite.experiments.hubs import hub_shares
from evalsite.experiments.models import Stimulus
from tests.workers.conftest import experiment, library, trained_model, video_row
from workers import mux
from workers.build import build_progress, enqueue_build, prepare, run_build

pytestmark = pytest.mark.django_db


def files_of(exp):
    return {s.pk: s.file.name for s in exp.stimuli.all()}


def test_it_builds_every_method_and_control_clip(media_root, checkpoint):
    videos = [video_row(media_root, f"v{i}", flash_at=2.0 + i)[0] for i in range(2)]
    exp = experiment(videos, library(media_root), ("model", "random", "original"), trained_model(checkpoint),
                     gold_clips=1, trap_clips=1, training_clips=3)  # fmt: skip
    progress = run_build(exp.pk, progress=False)
    assert progress == {
        "Model": {"pending": 0, "running": 0, "done": 2, "failed": 0},
        "Random": {"pending": 0, "running": 0, "done": 2, "failed": 0},
        "Original": {"pending": 0, "running": 0, "done": 2, "failed": 0},
        "controls": {"pending": 0, "running": 0, "done": 5, "failed": 0},
    }, [s.error for s in exp.stimuli.all()]
    for s in exp.stimuli.all():
        assert s.file.name.startswith("stimuli/") and s.file.name.endswith(".mp4")
        assert mux.probe_video(s.file.path).has_audio
        assert s.duration == pytest.approx(7.0, abs=0.1)
    model = exp.stimuli.filter(method__kind="model")
    assert all(s.sound_id and s.rank == 1 and s.distance >= 0 for s in model)
    assert all(s.sound_id and s.distance is None for s in exp.stimuli.filter(method__kind="random"))
    assert all(s.sound_id is None for s in exp.stimuli.filter(method__kind="original"))
    trap = exp.stimuli.get(role="trap")
    assert 1 <= trap.expected_score <= 5 and exp.stimuli.get(role="gold").expected_score == 2
    kinds = sorted(exp.stimuli.filter(role="training").values_list("control_kind", flat=True))
    assert kinds == ["gold", "original", "random"]


def test_it_aligns_the_sound_onset_with_the_known_effect_onset(media_root):
    video, _ = video_row(media_root, "v", flash_at=3.0)
    video.effect_onset = 4.0  # a known onset wins over the detected flash
    video.save()
    lib = library(media_root, n=1)
    sound = lib.sounds.get()
    sound.onset = 0.25
    sound.save()
    exp = experiment([video], lib, ("random",))
    run_build(exp.pk, progress=False)
    stimulus = exp.stimuli.get()
    assert stimulus.sound_offset == pytest.approx(3.75)
    track = mux.read_audio(stimulus.file.path)
    first = np.argmax(np.abs(track) > 0.01 * np.abs(track).max()) / mux.SAMPLE_RATE
    assert first == pytest.approx(3.85, abs=0.05)  # the file's 0.1 s lead silence, then the chirp


def test_it_matches_loudness_across_methods(media_root):
    from workers.audio import integrated_loudness

    video, _ = video_row(media_root, "v", flash_at=2.0)
    exp = experiment([video], library(media_root), ("random", "original"), loudness_lufs=-26.0, gold_clips=1)
    run_build(exp.pk, progress=False)
    levels = [integrated_loudness(mux.read_audio(s.file.path), mux.SAMPLE_RATE) for s in exp.stimuli.all()]
    assert len(levels) == 3
    assert levels == pytest.approx([-26.0] * 3, abs=0.7)


def test_it_skips_finished_stimuli_and_redoes_failed_ones_on_a_rerun(media_root):
    video, _ = video_row(media_root, "v", flash_at=2.0)
    exp = experiment([video], library(media_root), ("random", "original"))
    run_build(exp.pk, progress=False)
    before = files_of(exp)
    original = exp.stimuli.get(method__kind="original")
    Stimulus.objects.filter(pk=original.pk).update(status="failed", error="boom")
    run_build(exp.pk, progress=False)
    after = files_of(exp)
    assert (
        after[exp.stimuli.get(method__kind="random").pk] == before[exp.stimuli.get(method__kind="random").pk]
    )
    assert after[original.pk] != before[original.pk]
    assert exp.stimuli.count() == 2 and set(exp.stimuli.values_list("status", flat=True)) == {"done"}
    # The replaced file is gone; exactly the recorded files remain.
    on_disk = {f"stimuli/{p.name}" for p in (media_root / "stimuli").iterdir()}
    assert on_disk == set(after.values())


def test_it_fails_only_the_stimuli_of_a_bad_video_with_a_readable_error(media_root):
    good, _ = video_row(media_root, "good", flash_at=2.0)
    silent, _ = video_row(media_root, "silent", tone_hz=None)
    broken, path = video_row(media_root, "broken")
    path.write_bytes(b"not a video at all")
    exp = experiment([good, silent, broken], library(media_root), ("random", "original"))
    progress = run_build(exp.pk, progress=False)
    assert progress["Random"] == {"pending": 0, "running": 0, "done": 2, "failed": 1}
    assert progress["Original"] == {"pending": 0, "running": 0, "done": 1, "failed": 2}
    errors = {(s.video.name, s.method.label): s.error for s in exp.stimuli.filter(status="failed")}
    assert "not a readable media file" in errors[("broken", "Random")]
    assert "videos/broken.mp4" in errors[("broken", "Random")]
    assert "has no audio stream, which the original soundtrack needs" in errors[("silent", "Original")]


def test_overlay_of_a_video_without_audio_fails_that_stimulus(media_root):
    silent, _ = video_row(media_root, "silent", tone_hz=None)
    exp = experiment([silent], library(media_root), ("random",), mux_mode="overlay")
    run_build(exp.pk, progress=False)
    assert "which overlay mode needs" in exp.stimuli.get().error


def test_it_draws_the_same_random_sound_for_the_same_seed(media_root):
    videos = [video_row(media_root, f"v{i}")[0] for i in range(3)]
    lib = library(media_root, n=6)
    picks = []
    for seed in (7, 7, 8):
        exp = experiment(videos, lib, ("random",), seed=seed)
        run_build(exp.pk, progress=False)
        picks.append([s.sound.name for s in exp.stimuli.order_by("video__name")])
    assert picks[0] == picks[1]
    assert picks[0] != picks[2] or len(set(picks[0])) == 1


def test_a_trap_clip_without_espeak_fails_with_a_readable_error(media_root, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without espeak-ng, as on a bare machine
    video, _ = video_row(media_root, "v")
    exp = experiment([video], library(media_root), ("original",), trap_clips=1)
    progress = run_build(exp.pk, progress=False)
    assert progress["Original"]["done"] == 1 and progress["controls"]["failed"] == 1
    assert "espeak-ng is not installed" in exp.stimuli.get(role="trap").error


def test_the_trap_clip_speaks_its_instruction(media_root):
    video, _ = video_row(media_root, "v", tone_hz=None)
    exp = experiment([video], library(media_root), (), trap_clips=1)
    run_build(exp.pk, progress=False)
    track = mux.read_audio(exp.stimuli.get(role="trap").file.path)
    rms = [np.sqrt(np.mean(track[i : i + 4800] ** 2)) for i in range(0, len(track) - 4800, 4800)]
    assert max(rms[:4]) < 1e-3  # silence, then speech from 0.5 s
    assert sum(r > 0.01 for r in rms) > 15  # about two seconds of speech


def test_a_model_method_with_a_broken_checkpoint_fails_its_stimuli_only(media_root, tmp_path):
    video, _ = video_row(media_root, "v")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    exp = experiment([video], library(media_root), ("model", "original"), trained_model(bad))
    progress = run_build(exp.pk, progress=False)
    assert progress["Model"]["failed"] == 1 and progress["Original"]["done"] == 1
    assert "bad.pt" in exp.stimuli.get(method__kind="model").error


def test_a_model_loads_once_and_reuses_the_library_embeddings(media_root, checkpoint):
    from workers import model_cache

    videos = [video_row(media_root, f"v{i}")[0] for i in range(2)]
    lib = library(media_root)
    tm = trained_model(checkpoint)
    run_build(experiment(videos, lib, ("model",), tm).pk, progress=False)
    cached = list((media_root.parent / "embeddings").iterdir())
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    second = experiment(videos, lib, ("model",), tm)
    run_build(second.pk, progress=False)
    assert [p.stat().st_mtime_ns for p in (media_root.parent / "embeddings").iterdir()] == [mtime]
    assert [k for k in model_cache.loaded() if k[0] == str(checkpoint.resolve())] == [
        (str(checkpoint.resolve()), tm.checkpoint_sha256)
    ]
    assert set(second.stimuli.values_list("status", flat=True)) == {"done"}


def test_enqueue_build_runs_the_task_graph_eagerly(media_root, checkpoint, eager_tasks):
    videos = [video_row(media_root, f"v{i}")[0] for i in range(2)]
    exp = experiment(
        videos, library(media_root), ("model", "random"), trained_model(checkpoint), gold_clips=1
    )
    enqueue_build(exp.pk)
    progress = build_progress(exp)
    assert {label: c["done"] for label, c in progress.items()} == {"Model": 2, "Random": 2, "controls": 1}


def test_progress_lists_every_method_before_the_build(media_root):
    video, _ = video_row(media_root, "v")
    exp = experiment([video], library(media_root), ("random", "original"))
    zero = {"pending": 0, "running": 0, "done": 0, "failed": 0}
    assert build_progress(exp) == {"Random": zero, "Original": zero}


def test_files_carry_no_metadata_naming_the_method(media_root):
    video, _ = video_row(media_root, "v")
    exp = experiment([video], library(media_root), ("random", "original"))
    run_build(exp.pk, progress=False)
    for s in exp.stimuli.all():
        with av.open(s.file.path) as c:
            text = repr((dict(c.metadata), [dict(st.metadata) for st in c.streams])).lower()
        assert "random" not in text and "original" not in text and "lavf" not in text


def test_the_model_method_stores_the_nearest_sound_and_its_distance(media_root, checkpoint):
    from retrieval.data import decode_video
    from workers.embeddings import sound_window
    from workers.model_cache import get_model

    videos = [video_row(media_root, f"v{i}", flash_at=1.0 + i)[0] for i in range(2)]
    lib = library(media_root, n=5)
    exp = experiment(videos, lib, ("model",), trained_model(checkpoint))
    exp.methods.update(hubness="none")  # the plain search (the default, assign, is tested below)
    run_build(exp.pk, progress=False)
    model = get_model(checkpoint)
    sounds = list(lib.sounds.order_by("pk"))
    library_emb = model.embed_sounds(np.stack([sound_window(s.file.path, model.preset) for s in sounds]))
    for stimulus in exp.stimuli.select_related("video"):
        query = model.embed_videos(decode_video(stimulus.video.file.path, model.preset)[None])[0]
        distances = np.linalg.norm(library_emb - query, axis=1)
        assert stimulus.sound_id == sounds[int(np.argmin(distances))].pk
        assert stimulus.distance == pytest.approx(distances.min(), rel=1e-3)


def test_it_builds_from_and_into_a_storage_without_local_paths(media_root, checkpoint, settings):
    # InMemoryStorage stands for S3 and the like: no .path(), only open() and save().
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from workers.build import run_build as build

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    videos = [video_row(media_root, f"v{i}", flash_at=2.0)[0] for i in range(2)]
    lib = library(media_root, n=3)
    for row in [*videos, *lib.sounds.all()]:
        default_storage.save(row.file.name, ContentFile((media_root / row.file.name).read_bytes()))
        (media_root / row.file.name).unlink()  # nothing left on the local disk
    exp = experiment(videos, lib, ("model", "random", "original"), trained_model(checkpoint), gold_clips=1)
    progress = build(exp.pk, progress=False)
    assert sum(c["done"] for c in progress.values()) == 7, [s.error for s in exp.stimuli.all()]
    for s in exp.stimuli.all():
        assert default_storage.exists(s.file.name) and default_storage.size(s.file.name) > 1000
    assert not (media_root / "stimuli").exists()


def test_each_task_logs_its_start_and_its_end_with_seconds_or_the_reason(media_root, eager_tasks, caplog):
    from workers import tasks

    good, _ = video_row(media_root, "good")
    mute, _ = video_row(media_root, "mute", tone_hz=None)
    exp = experiment([good, mute], library(media_root, n=1), ("original",))
    prepare(exp)
    ok, bad = (exp.stimuli.get(video=v).pk for v in (good, mute))
    with caplog.at_level("INFO", logger="workers.tasks"):
        tasks.mux_stimulus.delay(ok)
        tasks.mux_stimulus.delay(bad)
    lines = [r.getMessage() for r in caplog.records if r.name == "workers.tasks"]
    assert lines[0] == f"mux_stimulus {ok}: started"
    assert re.fullmatch(rf"mux_stimulus {ok}: finished in \d+\.\d\d s: done", lines[1])
    assert lines[2] == f"mux_stimulus {bad}: started"
    failed = rf"mux_stimulus {bad}: failed after \d+\.\d\d s: Original / video 'mute': .* no audio stream.*"
    assert re.fullmatch(failed, lines[3])
    assert len(lines) == 4


def test_a_centred_method_searches_the_centred_library_and_reports_its_hub_share(media_root, checkpoint):
    from retrieval.data.decode import decode_video
    from retrieval.hubness import apply_option
    from workers.embeddings import sound_window
    from workers.model_cache import get_model

    videos = [video_row(media_root, f"v{i}", flash_at=1.0 + i)[0] for i in range(3)]
    lib = library(media_root, n=6)
    exp = experiment(videos, lib, ("model",), trained_model(checkpoint))
    exp.methods.update(hubness="centre")
    run_build(exp.pk, progress=False)
    model = get_model(checkpoint)
    sounds = list(lib.sounds.order_by("pk"))
    library_emb = model.embed_sounds(np.stack([sound_window(s.file.path, model.preset) for s in sounds]))
    centred = apply_option(library_emb, "centre")
    chosen = []
    for stimulus in exp.stimuli.filter(role=Stimulus.Role.TEST).select_related("video"):
        query = model.embed_videos(decode_video(stimulus.video.file.path, model.preset)[None])[0]
        distances = np.linalg.norm(centred - query, axis=1)
        assert stimulus.sound_id == sounds[int(np.argmin(distances))].pk
        chosen.append(stimulus.sound_id)
    (label,) = exp.methods.values_list("label", flat=True)
    share = hub_shares(exp)[label]
    assert share["videos"] == 3 and share["distinct"] == len(set(chosen)) and share["hubness"] == "centre"
    assert share["hub_share"] == pytest.approx(max(chosen.count(c) for c in chosen) / 3)


def test_a_clip_of_a_video_damaged_on_disk_fails_instead_of_a_frozen_picture(media_root):
    good, _ = video_row(media_root, "good", flash_at=2.0)
    damaged, path = video_row(media_root, "damaged", flash_at=2.0)
    data = bytearray(path.read_bytes())  # damaged after import: the back half of the picture is noise
    start, end = int(len(data) * 0.35), int(len(data) * 0.9)
    data[start:end] = np.random.default_rng(0).integers(0, 256, end - start, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    for video in (good, damaged):  # known onsets: the mux never decodes the picture itself
        video.effect_onset = 2.0
        video.save()
    exp = experiment([good, damaged], library(media_root), ("random", "original"))
    run_build(exp.pk, progress=False)
    statuses = {(s.video.name, s.method.label): (s.status, s.error) for s in exp.stimuli.all()}
    assert statuses[("good", "Random")][0] == statuses[("good", "Original")][0] == "done"
    # Random copies the picture and brings its own sound: only the check of the built clip finds it.
    status, error = statuses[("damaged", "Random")]
    assert status == "failed"
    assert re.fullmatch(r"Random / video 'damaged': the built clip: does not decode past \d+\.\d\d s "
                        r"\(.*\); is the stored video damaged\?", error), error  # fmt: skip
    assert statuses[("damaged", "Original")][0] == "failed"  # its own soundtrack does not decode
    on_disk = {f"stimuli/{p.name}" for p in (media_root / "stimuli").iterdir()}
    assert on_disk == {s.file.name for s in exp.stimuli.filter(status="done")}


@pytest.mark.parametrize("option", ["csls", "assign"])
def test_a_study_option_chooses_every_videos_sound_at_once(media_root, checkpoint, option):
    from retrieval.data.decode import decode_video
    from retrieval.hubness import option_costs
    from workers.embeddings import sound_window
    from workers.model_cache import get_model

    videos = [video_row(media_root, f"v{i}", flash_at=1.0 + i)[0] for i in range(3)]
    lib = library(media_root, n=6)
    exp = experiment(videos, lib, ("model",), trained_model(checkpoint))
    exp.methods.update(hubness=option)
    run_build(exp.pk, progress=False)
    model = get_model(checkpoint)
    sounds = list(lib.sounds.order_by("pk"))
    library_emb = model.embed_sounds(np.stack([sound_window(s.file.path, model.preset) for s in sounds]))
    stimuli = list(exp.stimuli.filter(role=Stimulus.Role.TEST).select_related("video").order_by("video__pk"))
    queries = np.concatenate([model.embed_videos(decode_video(s.video.file.path, model.preset)[None])
                              for s in stimuli])
    expected = np.argmin(option_costs(queries, library_emb, option), axis=1)
    assert [s.sound_id for s in stimuli] == [sounds[i].pk for i in expected]
    assert all(s.status == "done" and s.rank == 1 for s in stimuli)
    for s, q, i in zip(stimuli, queries, expected, strict=True):
        assert s.distance == pytest.approx(float(np.linalg.norm(q - library_emb[i])), rel=1e-4)
    if option == "assign":  # 3 videos, 6 sounds: capacity 1, so 3 distinct sounds
        assert len({s.sound_id for s in stimuli}) == 3
    assert hub_shares(exp)["Model"]["hubness"] == option


def test_a_short_video_and_a_length_mismatch_are_built_as_long_as_imported(media_root, checkpoint):
    from evalsite.experiments import importer
    from tests.evalsite.experiments.conftest import ffmpeg
    from tests.workers.media import make_video

    short = make_video(media_root / "short.mp4", seconds=2.0, fps=10)
    apart = media_root / "apart.mkv"  # a 7 s picture with 3 s of sound
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=7", "-f", "lavfi", "-i",
           "sine=frequency=440:sample_rate=48000:duration=3", "-c:v", "libx264", "-c:a", "libvorbis",
           "-pix_fmt", "yuv420p", str(apart))  # fmt: skip
    videos = [importer.import_video(path).obj for path in (short, apart)]
    assert [round(v.duration, 1) for v in videos] == [2.0, 3.0]
    exp = experiment(videos, library(media_root), ("model", "random", "original"), trained_model(checkpoint))
    run_build(exp.pk, progress=False)
    for s in exp.stimuli.all():
        assert s.status == "done", s.error
        built = mux.probe_video(s.file.path)  # the clip is the video as imported, no padding shown
        # (a copied H.264 stream ends on a packet: up to two frames at 10 fps past the cut)
        assert built.duration == pytest.approx(s.video.duration, abs=0.25)
        assert s.duration == pytest.approx(s.video.duration, abs=0.05)
