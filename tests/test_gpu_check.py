"""The GPU check (scripts/gpu-check.sh) at its tiny size on the CPU, so that it cannot rot
between the rare runs on a GPU machine."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


def check(*args, tmp_path):
    return subprocess.run(
        ["scripts/gpu-check.sh", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=900,
    )


@pytest.mark.slow
def test_it_runs_every_stage_at_the_tiny_size_on_the_cpu(tmp_path):
    done = check("--device", "cpu", "--tiny", "--out", str(tmp_path / "out"), tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "out" / "gpu-check.json").read_text())
    stages = result["stages"]
    assert {k: v["status"] for k, v in stages.items()} == dict.fromkeys(
        ("device", "dataset", "train", "limit", "torchrun", "workers", "tests"), "ok"
    )
    train = stages["train"]
    assert train["trainable_trunk_layers"] == 1 and train["step_clips_per_s"] > 0
    joint = [e for e in train["epochs"] if e["stage"] == "joint"]
    assert len(joint) == 1 and all(joint[0][k] > 0 for k in ("data_s", "step_s", "bn_s", "valid_s"))
    assert stages["limit"]["clips_per_s"] > 0 and stages["torchrun"]["ran"] is False
    for preset in ("demo", "paper"):
        assert stages["workers"][preset]["sounds"] == 8 and stages["workers"][preset]["videos"] == 1
    assert "skipped" in stages["tests"]["summary"]  # no CUDA here: the gpu tests say why
    table = (tmp_path / "out" / "gpu-check.md").read_text()
    assert "train      ok" in table and "workers    ok" in table and "no GPU used" in table
    assert not (tmp_path / "out" / "work").exists()  # the dataset and checkpoints are removed


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_it_refuses_cuda_where_there_is_none(tmp_path):
    done = check("--device", "cuda", "--out", str(tmp_path / "out"), tmp_path=tmp_path)
    assert done.returncode == 2
    assert "--device cuda: CUDA is not available here" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "tpu"], "--device tpu: the check runs on cpu or cuda"),
        (
            ["--device", "cpu", "--out", "/proc/no-such-folder"],
            "/proc/no-such-folder: cannot write the check's files",
        ),
    ],
)
def test_it_names_a_bad_argument_before_it_starts(tmp_path, args, message):
    done = check(*args, tmp_path=tmp_path)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
