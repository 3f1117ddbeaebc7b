"""The difficulty study's pre-registered analysis, against figures worked out by hand."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from retrieval.difficulty import StudyError, study, verdict

# Proposed - Triplet 2 per level (rows) and seed (columns): per-seed slopes 0.01, 0.02, 0.03
DIFFS = [[0.00, 0.01, -0.01], [0.01, 0.03, 0.02], [0.02, 0.05, 0.05]]


def report(diffs: list[float], split: str = "test") -> dict:
    runs = [{"variant": "triplet2", "seed": s, "acc_rank": 0.75} for s in range(len(diffs))]
    runs += [{"variant": "proposed", "seed": s, "acc_rank": 0.75 + d} for s, d in enumerate(diffs)]
    runs += [{"variant": "triplet1", "seed": 0, "acc_rank": 0.5}]
    return {"split": split, "runs": runs}


def test_it_reads_each_level_and_the_slope_as_worked_out_by_hand():
    result = study([report(d) for d in DIFFS], [0, 1, 2])
    assert [r["mean"] for r in result["per_level"]] == pytest.approx([0.0, 0.02, 0.04])
    assert [r["wins"] for r in result["per_level"]] == [1, 3, 3]
    slope = result["trend"]["slope"]
    assert result["trend"]["per_seed"] == pytest.approx([0.01, 0.02, 0.03])
    # mean 0.02, sd 0.01 over 3 seeds: half-width t(0.975, 2) x 0.01 / sqrt(3) = 4.3027 x 0.0057735
    assert slope["mean"] == pytest.approx(0.02) and slope["ci"] == pytest.approx(0.024841, abs=1e-6)
    assert result["trend"]["pooled"]["mean"] == pytest.approx(0.02)  # equal counts: through the means
    assert result["verdict"] == "inconclusive"  # CI [-0.005, 0.045]: neither above 0 nor below 0.01


def test_the_reading_follows_the_registered_rule():
    assert verdict({"low": 0.001, "high": 0.05}) == "supported"
    assert verdict({"low": -0.02, "high": 0.009}) == "refuted"  # any growth is below 0.01 per level
    assert verdict({"low": -0.001, "high": 0.011}) == "inconclusive"


def test_it_refuses_what_the_study_does_not_read():
    with pytest.raises(StudyError, match="reads the test split; got \\['test', 'valid'\\]"):
        study([report(DIFFS[0]), report(DIFFS[1], split="valid")], [0, 1])
    with pytest.raises(StudyError, match="share 1 seed"):
        study([report(DIFFS[0]), report(DIFFS[1][:1])], [0, 1])
    with pytest.raises(StudyError, match="2 reports for 3 levels"):
        study([report(DIFFS[0]), report(DIFFS[1])], [0, 1, 2])


def test_it_runs_as_a_command_over_benchmark_folders(tmp_path):
    folders = []
    for k, d in enumerate(DIFFS):
        folder = tmp_path / f"out-L{k}"
        folder.mkdir()
        (folder / "benchmark.json").write_text(json.dumps(report(d)))
        folders.append(str(folder))
    out = io.StringIO()
    call_command("difficulty_study", *folders, "--out", str(tmp_path / "study"), stdout=out)
    text = out.getvalue()
    assert "slope per level (mean of per-seed slopes): +0.0200 ± 0.0248" in text
    assert "pre-registered reading: inconclusive" in text
    saved = json.loads((tmp_path / "study" / "difficulty.json").read_text())
    assert saved["levels"] == [0, 1, 2] and saved["seeds"] == [0, 1, 2]
    assert (tmp_path / "study" / "difficulty.png").stat().st_size > 1000
    with pytest.raises(CommandError, match="no benchmark report"):
        call_command("difficulty_study", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x"))
