#!/usr/bin/env bash
# The pre-registered difficulty study (docs/retrieval.md), as run from the checkout at d69e0d0.
# Usage: docs/difficulty/run.sh ROOT (an empty folder with ~10 GB free). Between generating the
# datasets and benchmarking them it waits for ROOT/checked: run docs/difficulty/check.py ROOT
# and touch ROOT/checked when it prints OK for every level.
set -euo pipefail
ROOT=$(realpath -m "${1:?usage: run.sh ROOT}"); mkdir -p "$ROOT"
cd "$(dirname "$0")/../.."
export DEBUG=true OMP_WAIT_POLICY=PASSIVE
TIME="/usr/bin/time -a -o $ROOT/cpu.txt -f %C|%U|%S|%e"
for spec in "0 0    0    0" "1 0.10 0.10 4" "2 0.20 0.20 8" "3 0.25 0.25 12"; do
  set -- $spec
  [ -f $ROOT/L$1/dataset.json ] || $TIME nice -n 10 .venv/bin/python manage.py make_dataset $ROOT/L$1 --days 38 --valid-days 2 \
      --test-days 28 --seed 0 --visual-distractors $2 --acoustic-distractors $3 --burial-db $4 --no-progress
  echo "$(date -Is) generated L$1" >> $ROOT/progress.txt
done
while [ ! -f $ROOT/checked ]; do sleep 20; done
for spec in "0 0    0    0" "1 0.10 0.10 4" "2 0.20 0.20 8" "3 0.25 0.25 12"; do
  set -- $spec
  $TIME nice -n 10 .venv/bin/python manage.py benchmark --data $ROOT/L$1 --out $ROOT/out-L$1 \
      --seeds 5 --first-seed 0 --trunk-seed 0 --split test --no-progress
  echo "$(date -Is) benchmarked L$1" >> $ROOT/progress.txt
done
.venv/bin/python manage.py difficulty_study $ROOT/out-L0 $ROOT/out-L1 $ROOT/out-L2 $ROOT/out-L3 \
    --levels 0 1 2 3 --out $ROOT/study
echo "$(date -Is) study done" >> $ROOT/progress.txt
