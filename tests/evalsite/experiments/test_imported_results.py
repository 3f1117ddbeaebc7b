"""The results, ratings CSV and manifest of a study with imported methods beside the others."""

import hashlib
from pathlib import Path

import pytest

from evalsite.experiments import exports
from tests.workers.test_imported import three_systems
from workers.build import run_build

pytestmark = pytest.mark.django_db


def test_it_reports_imported_methods_beside_the_others(media_root, tmp_path, rate):
    Path(media_root).mkdir(parents=True, exist_ok=True)
    exp = three_systems(Path(media_root), tmp_path, mux_mode="replace")
    run_build(exp.pk, progress=False)
    for _ in range(3):
        rate(
            exp, {"Random": [1, 2], "Other retrieval": [4, 5], "Generator": [3, 3], "Finished clips": [5, 4]}
        )
    summaries = {s["label"]: s for s in exports.results_json(exp)["attributes"][0]["methods"]}
    assert summaries["Other retrieval"]["mos"] == pytest.approx(4.5) and summaries["Generator"]["n"] == 6
    comparisons = exports.results_json(exp)["attributes"][0]["comparisons"]
    pair = next(c for c in comparisons if (c["a"], c["b"]) == ("Finished clips", "Random"))
    assert pair["p_holm"] is not None and pair["rank_biserial"] == 1.0
    header, *rows = exports.csv_rows(exp)
    assert {row[header.index("method")] for row in rows} == set(summaries)
    entries = {m["label"]: m for m in exports.manifest(exp)["methods"]}
    tracks = entries["Generator"]["imported"]
    assert entries["Generator"]["kind"] == "imported" and len(tracks) == 2
    on_disk = (tmp_path / "tracks" / tracks[0]["source"]).read_bytes()
    assert tracks[0]["sha256"] == hashlib.sha256(on_disk).hexdigest()
    assert {c["sound"] for c in entries["Other retrieval"]["imported"]} == {"s2", "s3"}
