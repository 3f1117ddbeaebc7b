"""manage.py benchmark end to end at a tiny size: 2 seeds x 3 variants on a generated dataset, its
statistics checked against scipy from the per-run CSV, resumption, reproducibility from the seed."""

import csv
import io
import json
import math

import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command
from scipy import stats

from retrieval.data.synth import make_dataset

pytestmark = pytest.mark.slow
METRICS = ("acc_rank", "r@5", "r@50", "r@100")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    torch.set_num_threads(2)
    return make_dataset(tmp_path_factory.mktemp("data") / "tiny", days=3, minutes_per_day=0.75, seed=3,
                        progress=False, log=lambda *a: None)


def _bench(dataset, out, *extra):
    stdout = io.StringIO()
    call_command("benchmark", "--data", str(dataset), "--out", str(out), "--seeds", "2", "--no-progress",
                 "--set", "epochs=1", "pretrain_epochs=1", *extra, stdout=stdout, stderr=io.StringIO())
    return stdout.getvalue()


def _runs(out):
    with open(out / "runs.csv") as fh:
        return list(csv.DictReader(fh))


def check_table1(report, runs):
    """Table 1: mean and Student-t 95% interval over the 2 seeds, from the CSV's per-run figures."""
    ordered = sorted(runs, key=lambda r: r["seed"])
    for variant in ("triplet1", "triplet2", "proposed"):
        for metric in METRICS:
            values = [float(r[metric]) for r in ordered if r["variant"] == variant]
            cell = report["table1"][variant][metric]
            assert cell["mean"] == pytest.approx(np.mean(values))
            if np.ptp(values) > 0:
                low, high = stats.t.interval(0.95, df=1, loc=np.mean(values), scale=stats.sem(values))
                assert (cell["low"], cell["high"]) == pytest.approx((low, high))
            else:
                assert cell["ci"] == pytest.approx(0)


def check_paired(report, runs):
    """Paired differences: the same seeds' ACC_rank, against scipy's paired tests."""
    by = {(r["variant"], int(r["seed"])): float(r["acc_rank"]) for r in runs}
    for d in report["paired"]:
        better = [0.5, 0.5] if d["better"] == "random" else [by[(d["better"], s)] for s in (0, 1)]
        worse = [0.5, 0.5] if d["worse"] == "random" else [by[(d["worse"], s)] for s in (0, 1)]
        diff = np.subtract(better, worse)
        assert d["mean"] == pytest.approx(diff.mean())
        assert d["wins"] == int((diff > 0).sum())
        if np.ptp(diff) > 0:
            assert d["t_p"] == pytest.approx(stats.ttest_rel(better, worse).pvalue)
        if (diff != 0).any():
            assert d["wilcoxon_p"] == pytest.approx(stats.wilcoxon(diff).pvalue)


def test_benchmark_tables_match_scipy_and_runs_resume(dataset, tmp_path):
    out = tmp_path / "bench"
    printed = _bench(dataset, out)
    report = json.loads((out / "benchmark.json").read_text())
    runs = _runs(out)
    assert sorted((r["variant"], r["seed"]) for r in runs) == sorted(
        (v, s) for v in ("triplet1", "triplet2", "proposed") for s in ("0", "1"))
    n = report["n"]
    assert n >= 2 and all(int(r["n"]) == n for r in runs)

    check_table1(report, runs)
    random = report["table1"]["random"]
    assert random["acc_rank"]["mean"] == 0.5 and random["r@5"]["mean"] == pytest.approx(min(5, n) / n)
    assert set(report["table2"]) == {"proposed"}  # only Proposed has awareness heads

    check_paired(report, runs)
    assert {(d["better"], d["worse"]) for d in report["paired"]} >= {("proposed", "triplet2"),
                                                                     ("triplet2", "triplet1")}
    # hubness, plain and under each option; assign caps every sound at ceil(n / 10) queries
    capacity = math.ceil(n / 10)
    for r in runs:
        for option in ("", "centre_", "csls_", "assign_"):
            assert 1 / n <= float(r[f"{option}hub_share"]) <= 1 and 0 <= float(r[f"{option}acc_rank"]) <= 1
        assert float(r["assign_hub_share"]) <= capacity / n
        assert 0 <= float(r["r@1"]) <= float(r["r@5"]) and 0 <= float(r["assign_r@1"]) <= 1
        assert math.isfinite(float(r["k_skewness"]))
        assert int(r["best_epoch"]) == 1 == int(r["epochs"])  # one epoch: the best is the last
    assert "best validation epoch (the one kept): the last in 6 of 6 runs" in printed
    assert set(report["options"]) == {"none", "centre", "csls", "assign"}
    assert "Table 1" in printed and "±" in printed and "Proposed - Triplet 2" in printed
    assert (out / "acc_rank.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a second run reuses every finished checkpoint and reports the same figures
    again = _bench(dataset, out)
    assert "6 runs (6 reused from earlier)" in again
    assert _runs(out) == runs

    # the same seed in another folder trains to the same figures: a run is reproducible from its seed
    # (and, with a separate sound library of generated effects, the videos also query that)
    other, library = tmp_path / "other", _library(tmp_path / "library")
    printed = _bench(dataset, other, "--variants", "proposed", "--first-seed", "1", "--seeds", "1",
                     "--library", str(library))
    (rerun,) = _runs(other)
    (first,) = [r for r in runs if r["variant"] == "proposed" and r["seed"] == "1"]
    assert {k: rerun[k] for k in METRICS} == {k: first[k] for k in METRICS}
    lib = json.loads((other / "benchmark.json").read_text())["library"]
    assert lib["n"] == 12 and lib["chance"] == pytest.approx(2 / 12)  # 2 sounds of each of 6 classes
    for key in ("lib_class_acc", "centre_lib_class_acc", "lib_hub_share", "centre_lib_hub_share"):
        assert 0 <= float(rerun[key]) <= 1
    assert "Separate sound library (12 sounds" in printed

    # a library whose classes share no name with the effect classes: class@1 cannot be computed
    other_names = _library(tmp_path / "renamed")
    for i, folder in enumerate(sorted(other_names.iterdir())):
        folder.rename(other_names / f"kit{i}")
    printed = _bench(dataset, other, "--variants", "proposed", "--first-seed", "1", "--seeds", "1",
                     "--library", str(other_names))
    assert "class@1 cannot be computed: no library class is named like an effect class" in printed
    lib = json.loads((other / "benchmark.json").read_text())["library"]
    assert lib["chance"] is None and "lib_class_acc" not in lib["proposed"]
    assert 0 < lib["proposed"]["assign_lib_hub_share"]["mean"] <= 1
    (renamed,) = _runs(other)
    assert renamed["lib_class_acc"] == "" and renamed["centre_lib_class_acc"] == ""

    with pytest.raises(CommandError, match="another plan"):
        _bench(dataset, out, "--set", "epochs=2")


def test_generate_defaults_to_the_size_its_help_names():
    from retrieval.management.commands.benchmark import Command, generate_settings

    assert generate_settings([]) == {"days": 38, "valid_days": 2, "test_days": 28}
    assert generate_settings(["seed=3"]) == {"days": 38, "valid_days": 2, "test_days": 28, "seed": 3}
    assert generate_settings(["days=6"]) == {"days": 6}  # a size given: make_dataset's rules
    help_text = next(a.help for a in Command().create_parser("manage.py", "benchmark")._actions
                     if a.dest == "generate")
    assert "days=38 valid_days=2 test_days=28" in help_text and "without days" in help_text


def test_benchmark_rejects_unknown_settings(dataset, tmp_path):
    with pytest.raises(CommandError, match="unknown setting"):
        _bench(dataset, tmp_path / "b", "--set", "lamda2=0.5")
    with pytest.raises(CommandError, match="key=value"):
        _bench(dataset, tmp_path / "c", "--set", "lambda2")


def _library(root):
    """Two generated sounds per effect class, one sub-folder per class, as a sound library."""
    from retrieval.data.synth_audio import SOUND_CLASSES, synth_effect
    from retrieval.data.writers import write_wav

    rng = np.random.default_rng(5)
    for cls in SOUND_CLASSES:
        (root / cls).mkdir(parents=True)
        for k in range(2):
            write_wav(root / cls / f"{k}.wav", synth_effect(cls, rng, 48_000), 48_000)
    return root
