"""DistributedDataParallel under torchrun, two CPU processes on the gloo backend."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys
import numpy as np, torch
torch.set_num_threads(1)
from retrieval.config import default_config
from retrieval.inputs import TrainSplit
from retrieval.train import fit
rng = np.random.default_rng(0)
n = 12
split = TrainSplit(rng.normal(size=(n, 256, 8, 8, 8)).astype(np.float16),
                   rng.normal(size=(n, 257, 401)).astype(np.float32), np.arange(n) % 2 == 0)
config = default_config("proposed", "demo", epochs=2, pretrain_epochs=1, batch_size=4)
fit(config, split, split, sys.argv[1], device="cpu", progress=False)
"""


@pytest.mark.slow
def test_it_trains_with_ddp_on_two_cpu_processes(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    out = tmp_path / "ddp.pt"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
         str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = load_checkpoint(out)
    assert state["epoch"] == 2 and state["pretrain_epoch"] == 1
    lines = [json.loads(x) for x in out.with_name("ddp.pt.log.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["epoch"]) for r in lines] == [("pretrain", 1), ("joint", 1), ("joint", 2)]
