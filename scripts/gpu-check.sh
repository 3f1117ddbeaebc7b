#!/usr/bin/env bash
# The GPU check (bench/gpu.py): on a CUDA machine, trains the paper preset, runs the gpu worker's
# code path and the tests marked gpu, and writes every figure to bench/out/gpu/gpu-check.{json,md}.
# Usage: scripts/gpu-check.sh [--device cuda|cpu] [--tiny] [--out DIR] [--work DIR] [--keep]
# (--device cpu --tiny: the same stages at a tiny size on a CPU, as the test suite runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
exec "$PYTHON" bench/gpu.py "$@"
