#!/usr/bin/env bash
# The main job on a fresh machine: set up, then run the complete demo study
# (synthetic data, three trained models, an experiment with built clips, the site).
# Extra arguments go to `manage.py demo` (e.g. --no-serve, --port 8001).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The demo is a local, single-user development server over plain HTTP.
export DEBUG=${DEBUG:-true}
exec .venv/bin/python manage.py demo "$@"
