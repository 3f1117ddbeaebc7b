"""The reproducibility manifest rebuilds its study: a new experiment made from the manifest alone
(its settings, its methods with their hubness option, the media it names by hash) builds the same
clips, each from the same recorded settings, with the same sound."""

import json
from hashlib import sha256

import pytest

from evalsite.experiments import exports
from evalsite.experiments.models import Experiment, Method, SoundLibrary, Video
from retrieval.models import TrainedModel
from tests.workers.conftest import experiment, library, trained_model, video_row
from workers.build import run_build

pytestmark = pytest.mark.django_db


def from_manifest(manifest: dict, slug: str) -> Experiment:
    """What a researcher does with a manifest: every setting, method and medium as it names them."""
    config = {k: v for k, v in manifest["experiment"].items() if k not in ("id", "slug", "status")}
    library = SoundLibrary.objects.get(name=manifest["sound_library"]["name"])
    exp = Experiment.objects.create(slug=slug, sound_library=library, **config)
    exp.videos.set(Video.objects.filter(sha256__in=[v["sha256"] for v in manifest["videos"]]))
    for entry in manifest["methods"]:
        model = entry.get("trained_model")
        Method.objects.create(
            experiment=exp, label=entry["label"], kind=entry["kind"], order=entry["order"],
            **({"hubness": entry["hubness"]} if "hubness" in entry else {}),
            trained_model=model and TrainedModel.objects.get(checkpoint_sha256=model["checkpoint_sha256"]),
        )  # fmt: skip
    return exp


def clips(manifest: dict) -> dict:
    return {(s["video_sha256"], s["method"] or s["label"]): s for s in manifest["stimuli"]}


def files(exp) -> dict:
    rows = exp.stimuli.select_related("video", "method")
    return {(s.video.sha256, s.method.label if s.method else s.label): sha256(s.file.read()).hexdigest()
            for s in rows}  # fmt: skip


def test_a_study_rebuilt_from_its_manifest_has_the_same_clips(media_root, checkpoint):
    videos = [video_row(media_root, f"v{i}", flash_at=1.0 + i)[0] for i in range(2)]
    lib = library(media_root, n=6)
    exp = experiment(videos, lib, ("model", "random", "original"), trained_model(checkpoint),
                     gold_clips=1, training_clips=3, seed=9, loudness_lufs=-20.0)  # fmt: skip
    # Not the default, whatever it is: only the manifest can tell the copy.
    default = Method._meta.get_field("hubness").default
    exp.methods.filter(kind="model").update(hubness="none" if default == "centre" else "centre")
    run_build(exp.pk, progress=False)
    manifest = json.loads(json.dumps(exports.manifest(exp), default=str))
    assert {m["label"]: m.get("hubness") for m in manifest["methods"]}["Model"] != default
    copy = from_manifest(manifest, "copy")
    run_build(copy.pk, progress=False)
    again = json.loads(json.dumps(exports.manifest(copy), default=str))
    first, second = clips(manifest), clips(again)
    assert set(first) == set(second) and len(first) == 2 * 3 + 4
    for key, stimulus in first.items():
        assert stimulus["status"] == second[key]["status"] == "done"
        assert second[key]["built_from"] == stimulus["built_from"] != {}, key
        for field in ("sound", "sound_sha256", "rank", "sound_offset", "expected_score", "control_kind"):
            assert second[key][field] == stimulus[field], (key, field)
    # The very same files, byte for byte.
    assert files(copy) == files(exp)
