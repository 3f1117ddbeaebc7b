"""The pre-registered check of the four datasets, before any benchmark runs.

Usage: python docs/difficulty/check.py ROOT, where ROOT holds the datasets L0 … L3 that run.sh made.
"""
import csv
import json
import sys
from collections import Counter
from pathlib import Path

if len(sys.argv) != 2:
    sys.exit("usage: check.py ROOT (the folder holding L0 … L3)")
ROOT = Path(sys.argv[1])
EXPECT = {0: (0, 0), 1: (4, 4), 2: (7, 7), 3: (9, 9)}  # visual, acoustic a day
DAYS = 38
ok = True
base = (ROOT / "L0/annotations.csv").read_bytes()
for level, (vis, aco) in EXPECT.items():
    d = ROOT / f"L{level}"
    meta = json.loads((d / "dataset.json").read_text())
    planted = meta["planted"]
    with open(d / "planted.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    kinds = Counter((r["recording"], r.get("kind")) for r in rows)
    per_day = Counter()
    for (_recording, kind), n in kinds.items():
        per_day[kind, n] += 1
    want = {"targets": 18 * DAYS, "visual_distractors": vis * DAYS, "acoustic_distractors": aco * DAYS}
    same = (d / "annotations.csv").read_bytes() == base
    line_ok = planted == want and same and all(
        n == {"target": 18, "visual": vis, "acoustic": aco}[k] for (k, n) in per_day)
    ok &= line_ok
    print(f"L{level}: planted {planted} want {want}; per-day (kind, count): {dict(per_day)}; "
          f"annotations equal to L0: {same}; {'OK' if line_ok else 'MISMATCH'}")
sys.exit(0 if ok else 1)
