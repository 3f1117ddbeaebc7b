"""A built study follows its settings: each clip records what it was built from; a change marks
exactly the clips it affects stale, the next build redoes those and removes the clips of removed
videos, and a study holding a stale or orphaned clip does not open."""

import pytest
from django.core.management import call_command

from evalsite.experiments import actions, provenance
from evalsite.experiments.models import Method, Stimulus
from tests.workers.conftest import experiment, library, trained_model, video_row
from workers.build import build_progress, run_build
from workers.stimuli import random_sound

pytestmark = pytest.mark.django_db


def files_of(exp):
    return {(s.video.name, s.method.label if s.method else s.label): s.file.name
            for s in exp.stimuli.select_related("video", "method")}  # fmt: skip


def stale_names(exp):
    return sorted(provenance.describe(s) for s, _ in provenance.stale(exp))


@pytest.fixture
def built(media_root, checkpoint):
    videos = [video_row(media_root, f"v{i}", flash_at=1.0 + i)[0] for i in range(2)]
    methods = ("model", "random", "original")
    lib = library(media_root, n=6)
    exp = experiment(videos, lib, methods, trained_model(checkpoint), gold_clips=1, seed=3)
    run_build(exp.pk, progress=False)
    assert set(exp.stimuli.values_list("status", flat=True)) == {"done"}
    return exp


def test_each_clip_records_the_settings_it_was_built_from(built):
    model = built.stimuli.select_related("method__trained_model").get(video__name="v0", method__kind="model")
    recorded = model.built_from
    assert recorded["kind"] == "model" and recorded["hubness"] == model.method.hubness
    assert recorded["trained_model"] == model.method.trained_model.checkpoint_sha256
    assert recorded["video"] == "v0" and recorded["mux"] == {"mode": "replace", "loudness_lufs": -23.0}
    assert recorded["sound_library"] == provenance.library_fingerprint(built.sound_library)
    assert built.stimuli.get(video__name="v0", method__kind="random").built_from["seed"] == 3
    assert provenance.stale(built) == [] and actions.freshness_problems(built) == []


def test_a_changed_hubness_option_rebuilds_exactly_that_methods_clips(built):
    before = files_of(built)
    was = built.methods.get(kind="model").hubness
    now = "centre" if was == "none" else "none"
    built.methods.filter(kind="model").update(hubness=now)
    assert stale_names(built) == ["v0 / Model", "v1 / Model"]
    (why,) = {tuple(w) for _, w in provenance.stale(built)}
    assert why == (f"hubness {was} → {now}",)
    with pytest.raises(actions.ActionRefused, match=r"2 clips were built from settings that changed since.*"
                       r"v0 / Model \(hubness .* → " + now):  # fmt: skip
        actions.open_experiment(built)
    assert "2 stale clips rebuilt" in actions.start_build(built)
    run_build(built.pk, progress=False)
    after = files_of(built)
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {("v0", "Model"), ("v1", "Model")}
    assert all(s.built_from["hubness"] == now for s in built.stimuli.filter(method__kind="model"))
    assert stale_names(built) == [] and "stale" not in " ".join(actions.open_problems(built))


def test_a_changed_seed_redraws_the_random_sounds_and_the_gold_noise(built):
    before = files_of(built)
    built.seed = 11
    built.save(update_fields=["seed"])
    gold = [provenance.describe(s) for s in built.stimuli.filter(role="gold")]
    assert stale_names(built) == sorted(["v0 / Random", "v1 / Random", *gold])
    run_build(built.pk, progress=False)
    after = files_of(built)
    assert {k for k in before if before.get(k) != after.get(k)} >= {("v0", "Random"), ("v1", "Random")}
    assert after[("v0", "Original")] == before[("v0", "Original")]
    assert after[("v0", "Model")] == before[("v0", "Model")]
    randoms = built.stimuli.filter(method__kind="random").select_related("experiment", "video", "method")
    for stimulus in randoms:
        assert stimulus.sound == random_sound(stimulus) and stimulus.built_from["seed"] == 11
    assert stale_names(built) == [] and set(built.stimuli.values_list("status", flat=True)) == {"done"}


def test_a_changed_mux_setting_rebuilds_the_clips_that_use_it(built):
    built.mux_mode, built.overlay_gain_db = "overlay", -3.0
    built.save(update_fields=["mux_mode", "overlay_gain_db"])
    # The original soundtrack and the gold noise do not depend on the mux mode.
    assert stale_names(built) == ["v0 / Model", "v0 / Random", "v1 / Model", "v1 / Random"]
    built.loudness_lufs = -20.0
    built.save(update_fields=["loudness_lufs"])
    assert len(stale_names(built)) == built.stimuli.count()


def test_a_removed_video_s_clips_block_opening_and_go_with_the_next_build(
    built, media_root, django_capture_on_commit_callbacks
):
    v1 = built.videos.get(name="v1")
    gone = {s.file.name for s in built.stimuli.filter(video=v1)}
    built.videos.remove(v1)
    with pytest.raises(actions.ActionRefused, match=r"clips belong to videos or controls the experiment no "
                       r"longer has \(videos: v1\)"):  # fmt: skip
        actions.open_experiment(built)
    with django_capture_on_commit_callbacks(execute=True):  # files go once the deletion commits
        run_build(built.pk, progress=False)
    assert not built.stimuli.filter(video=v1).exists()
    assert not any((media_root / name).exists() for name in gone)
    assert {k: c["done"] for k, c in build_progress(built).items()} == {
        "Model": 1, "Random": 1, "Original": 1, "controls": 1,
    }  # fmt: skip
    actions.open_experiment(built)
    assert built.status == "open"


@pytest.mark.parametrize("option", ["assign", "csls", "none"])
def test_under_a_study_option_a_video_added_marks_every_model_clip_stale(built, media_root, option):
    built.methods.filter(kind="model").update(hubness=option)
    run_build(built.pk, progress=False)  # rebuilt under the option
    assert stale_names(built) == []
    built.videos.add(video_row(media_root, "v2", flash_at=2.5)[0])
    # assign and csls choose every video's sound together: v2 changes the others' choices
    expected = ["v0 / Model", "v1 / Model"] if option != "none" else []
    assert stale_names(built) == expected
    run_build(built.pk, progress=False)
    assert stale_names(built) == [] and built.stimuli.filter(video__name="v2", status="done").count() == 3


def test_a_changed_library_or_video_content_marks_the_clips_that_use_it(built, media_root):
    from evalsite.experiments.models import Sound

    Sound.objects.create(library=built.sound_library, name="new", file="sounds/s0.wav", sha256="sha-new")
    assert stale_names(built) == ["v0 / Model", "v0 / Random", "v1 / Model", "v1 / Random"]
    Sound.objects.filter(name="new").delete()
    built.videos.filter(name="v0").update(effect_onset=2.5)
    assert stale_names(built) == ["v0 / Model", "v0 / Random"]


def test_the_build_command_rebuilds_stale_clips(built, settings, capsys):
    settings.EMBEDDED_TASKS = True
    Method.objects.filter(experiment=built, kind="random").update(label="Chance")
    assert stale_names(built) == ["v0 / Chance", "v1 / Chance"]  # the draw is keyed by the label
    call_command("build_stimuli", built.slug, "--no-progress")
    assert stale_names(built) == []
    assert set(built.stimuli.values_list("status", flat=True)) == {Stimulus.Status.DONE}


def test_an_open_study_s_clips_are_never_rebuilt_or_removed(built):
    actions.open_experiment(built)
    before = files_of(built)
    built.seed = 12
    built.save(update_fields=["seed"])
    built.videos.remove(built.videos.get(name="v1"))
    run_build(built.pk, progress=False)  # what a re-run `manage.py demo` does to its open study
    assert files_of(built) == before


def test_a_clip_records_the_hubness_its_sound_was_retrieved_with(media_root, checkpoint):
    from workers import retrieve
    from workers.stimuli import build_stimulus

    video, _ = video_row(media_root, "v", flash_at=2.0)
    exp = experiment([video], library(media_root), ("model",), trained_model(checkpoint))
    exp.methods.update(hubness="none")
    run_build(exp.pk, progress=False)
    exp.methods.update(hubness="centre")
    run_build(exp.pk, progress=False)  # rebuilt with the new option
    stimulus = exp.stimuli.get()
    assert stimulus.built_from["hubness"] == "centre" and provenance.stale(exp) == []
    # The option changes again between the retrieval and the mux: the clip says what it was built from.
    exp.methods.update(hubness="none")
    from workers.build import prepare

    prepare(exp)
    (ready,) = retrieve.retrieve(Method.objects.get(experiment=exp))
    exp.methods.update(hubness="centre")
    assert build_stimulus(ready) == "done"
    assert exp.stimuli.get().built_from["hubness"] == "none"
    assert [why for _, why in provenance.stale(exp)] == [["hubness none → centre"]]
    # Changed after the retrieval, before the mux: the next build retrieves again.
    prepare(exp)
    retrieve.retrieve(Method.objects.get(experiment=exp))
    assert exp.stimuli.get().built_from == {"retrieved_with": provenance.retrieval_settings(
        Method.objects.get(experiment=exp), provenance.library_fingerprint(exp.sound_library))}  # fmt: skip
    exp.methods.update(hubness="none")
    run_build(exp.pk, progress=False)
    assert exp.stimuli.get().built_from["hubness"] == "none" and provenance.stale(exp) == []


def test_a_library_changed_during_a_build_leaves_the_clip_stale_never_wrongly_fresh(media_root):
    from evalsite.experiments.models import Sound
    from workers.build import prepare
    from workers.stimuli import build_stimulus

    video, _ = video_row(media_root, "v", flash_at=2.0)
    exp = experiment([video], library(media_root), ("random",))
    prepare(exp)  # reads the library's fingerprint; the clip's mux may reuse that read
    Sound.objects.create(library=exp.sound_library, name="late", file="sounds/s0.wav", sha256="sha-late")
    assert build_stimulus(exp.stimuli.get().pk) == "done"
    ((_, why),) = provenance.stale(exp)
    assert [w.split(" ")[0] for w in why] == ["sound_library"]
