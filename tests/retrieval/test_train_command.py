"""End to end: a generated dataset, `manage.py train` for every variant, resume, `manage.py evaluate`."""

import io
import json
import shutil

import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command

from retrieval.checkpoint import load_checkpoint
from retrieval.config import default_config
from retrieval.data.synth import make_dataset
from retrieval.epochs import split_metrics
from retrieval.inference import RetrievalModel
from retrieval.inputs import TrainingError, TrainSplit
from retrieval.models import TrainedModel
from retrieval.presets import get_preset
from retrieval.train import fit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    torch.set_num_threads(2)
    # 3 days of 1.2 minutes (~11 samples a day): one day each to train, validate and test
    return make_dataset(tmp_path_factory.mktemp("data") / "bench", days=3, minutes_per_day=1.2, seed=3,
                        progress=False, log=lambda *a: None)



def _train(dataset, out, variant, *extra):
    call_command("train", "--data", str(dataset), "--variant", variant, "--out", str(out), "--no-progress",
                 *extra, stdout=open("/dev/null", "w"))


def _log(out):
    return [json.loads(line) for line in out.with_name(out.name + ".log.jsonl").read_text().splitlines()]


@pytest.mark.django_db
def test_it_trains_every_variant_resumes_and_evaluates(dataset, tmp_path, capsys):
    for variant in ("triplet1", "triplet2", "proposed"):
        out = tmp_path / f"{variant}.pt"
        _train(dataset, out, variant, "--epochs", "2", "--pretrain-epochs", "1")
        state = load_checkpoint(out)
        assert state["epoch"] == 2 and state["best"]["epoch"] in (1, 2)
        stages = [r["stage"] for r in _log(out)]
        assert stages == (["pretrain"] if variant == "proposed" else []) + ["joint", "joint"]
        row = TrainedModel.objects.get(name=variant)
        assert row.variant == variant and row.checkpoint == str(out) and len(row.checkpoint_sha256) == 64
        assert row.metrics["valid"]["acc_rank"] == state["best"]["acc_rank"]

    # resuming: asking for 3 epochs runs only the third
    out = tmp_path / "proposed.pt"
    _train(dataset, out, "proposed", "--epochs", "3", "--pretrain-epochs", "1")
    assert [r["epoch"] for r in _log(out)] == [1, 1, 2, 3]
    assert load_checkpoint(out)["epoch"] == 3

    paths = [str(tmp_path / f"{v}.pt") for v in ("triplet1", "triplet2", "proposed")]
    call_command("evaluate", "--data", str(dataset), "--random", "--json", "--no-progress", *paths)
    rows = json.loads(capsys.readouterr().out)
    assert [r["method"] for r in rows] == ["Random", "Triplet 1 (triplet1.pt)", "Triplet 2 (triplet2.pt)",
                                           "Proposed (proposed.pt)"]
    n = rows[0]["n"]
    assert n >= 2 and all(r["n"] == n for r in rows)
    assert rows[0]["acc_rank"] == 0.5 and rows[0]["r@5"] == pytest.approx(5 / n)
    for r in rows[1:]:
        assert 0.0 <= r["acc_rank"] <= 1.0 and {"r@5", "r@50", "r@100"} <= set(r)
    assert rows[3]["det_video"] is not None and rows[1]["det_video"] is None

    call_command("evaluate", "--data", str(dataset), "--random", "--no-progress", paths[2])
    text = capsys.readouterr().out
    assert "Table 1" in text and "Random" in text and "Table 2" in text and "Proposed (proposed.pt)" in text
    assert "hub share" in text

    # the hubness-aware option: the same queries against the centred dictionary
    call_command("evaluate", "--data", str(dataset), "--json", "--no-progress", "--hubness", "centre",
                 paths[2])
    (centred,) = json.loads(capsys.readouterr().out)
    assert centred["hubness_option"] == "centre" and centred["n"] == n
    assert 1 / n <= centred["hub_share"] <= 1 and 0 <= centred["acc_rank"] <= 1
    assert rows[3]["hubness_option"] == "none" and 1 / n <= rows[3]["hub_share"] <= 1


def _learnable_split(rng, n, preset):
    """Frozen-trunk features and spectrograms sharing a class cue when the sample has an effect."""
    cls, has_se = rng.integers(0, 4, n), rng.random(n) < 0.6
    video = (rng.normal(size=(n, 256, 8, 8, 8)) * 0.5).astype(np.float16)
    spec = rng.normal(size=(n, preset.freq_bins, preset.stft_frames)).astype(np.float32)
    for i in np.flatnonzero(has_se):
        onset = rng.integers(0, 6)
        video[i, cls[i] * 10 : cls[i] * 10 + 10, onset : onset + 2] += 2
        spec[i, 20 + cls[i] * 30 : 30 + cls[i] * 30, onset * 50 : onset * 50 + 60] += 3
    return TrainSplit(video, spec, has_se)


def test_it_learns_a_cooccurrence_clearly_better_than_random(tmp_path):

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    preset = get_preset("demo")
    # 96 samples, 4 epochs after 1 of pre-training: ACC_rank 0.86-0.89 over seeds 0-2.
    train, valid, test = (_learnable_split(rng, n, preset) for n in (96, 40, 40))
    config = default_config("proposed", "demo", epochs=4, pretrain_epochs=1)
    out = tmp_path / "proposed.pt"
    fit(config, train, valid, out, device="cpu", progress=False, log=lambda m: None)
    model = RetrievalModel.from_checkpoint(out, device="cpu")
    scores = split_metrics(model.net, test, model.device)
    assert scores["acc_rank"] > 0.7, scores  # Random: 0.5


@pytest.mark.django_db
def test_it_refuses_to_resume_a_checkpoint_of_another_variant(dataset, tmp_path):
    out = tmp_path / "model.pt"
    _train(dataset, out, "triplet2", "--epochs", "1", "--no-register")
    before = out.read_bytes()
    with pytest.raises(CommandError, match="model.pt: holds a triplet2/demo checkpoint"):
        _train(dataset, out, "triplet1", "--epochs", "1", "--no-register")
    assert out.read_bytes() == before


@pytest.mark.django_db
def test_it_names_the_manifest_row_of_a_bad_dataset(dataset, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(dataset, broken, ignore=shutil.ignore_patterns(".cache"))
    manifest = broken / "manifest.csv"
    lines = manifest.read_text().splitlines()
    lines[2] = lines[2].replace(".mp4", ".missing.mp4", 1)
    manifest.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match=r"manifest.csv.*row 3"):
        _train(broken, tmp_path / "m.pt", "triplet2", "--epochs", "1", "--no-register")
    assert not (tmp_path / "m.pt").exists()


def test_it_stops_on_a_non_finite_loss_and_keeps_the_last_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    n = 8
    split = TrainSplit(rng.normal(size=(n, 256, 8, 8, 8)).astype(np.float16),
                       rng.normal(size=(n, 257, 401)).astype(np.float32), np.arange(n) % 2 == 0)
    config = default_config("triplet2", "demo", epochs=2, batch_size=8)
    out = tmp_path / "model.pt"
    fit(config, split, split, out, device="cpu", progress=False, log=lambda m: None)
    before = out.read_bytes()
    split.spectrograms[3, 10, 10] = np.nan
    with pytest.raises(TrainingError, match="non-finite loss in joint epoch 1, batch 1"):
        fit(config, split, split, out, device="cpu", resume=False, progress=False, log=lambda m: None)
    assert out.read_bytes() == before


@pytest.mark.django_db
def test_it_names_a_video_weights_file_that_does_not_fit(dataset, tmp_path):
    bad = tmp_path / "r3d_18-b3b3357e.pth"
    torch.save({"stem.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(CommandError, match="r3d_18-b3b3357e.pth: not torchvision r3d_18 weights"):
        _train(dataset, tmp_path / "m.pt", "triplet2", "--video-weights", str(bad), "--no-register")
    assert not (tmp_path / "m.pt").exists() and not TrainedModel.objects.exists()


@pytest.mark.django_db
def test_it_says_when_the_trunk_starts_from_random_weights(dataset, tmp_path):
    out = io.StringIO()
    call_command("train", "--data", str(dataset), "--variant", "triplet2", "--out", str(tmp_path / "m.pt"),
                 "--epochs", "1", "--no-progress", "--no-register", stdout=out)
    assert "r3d_18 starts from RANDOM weights" in out.getvalue()
