"""The paper's problem end to end on media, kept small: a `proposed` model trained on a small
generated TV-like benchmark (decoded video, mixed soundtracks, weak labels) is evaluated against
Random on its unseen test day, with both tables' figures for every query.

How well it learns is measured, with confidence intervals over seeds, by `manage.py benchmark`
(docs/retrieval.md); `tests/retrieval/test_train_command.py` checks that training learns a planted
co-occurrence clearly better than Random."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from retrieval.data import read_manifest
from retrieval.data.synth import make_dataset


@pytest.mark.slow
def test_it_trains_on_generated_media_and_evaluates_every_test_query_against_random(tmp_path):
    data = make_dataset(tmp_path / "benchmark", days=3, minutes_per_day=1.5, seed=1, progress=False,
                        log=lambda *a: None)
    checkpoint = tmp_path / "proposed.pt"
    call_command("train", data=str(data), variant="proposed", out=str(checkpoint), preset="demo",
                 epochs=2, pretrain_epochs=1, no_register=True, no_progress=True, stdout=StringIO(),
                 stderr=StringIO())
    log_lines = checkpoint.with_name("proposed.pt.log.jsonl").read_text().splitlines()
    epochs = [json.loads(line) for line in log_lines]
    assert [e["stage"] for e in epochs].count("joint") == 2

    out = StringIO()
    call_command("evaluate", str(checkpoint), data=str(data), random=True, json=True, no_progress=True,
                 stdout=out)
    rows = {row["variant"]: row for row in json.loads(out.getvalue())}
    queries = sum(1 for r in read_manifest(data) if r.split == "test" and r.has_se)
    assert rows["proposed"]["n"] == rows["random"]["n"] == queries >= 3
    assert rows["random"]["acc_rank"] == pytest.approx(0.5)
    for key in ("acc_rank", "r@5", "det_video", "det_audio"):
        assert 0.0 <= rows["proposed"][key] <= 1.0, rows["proposed"]
