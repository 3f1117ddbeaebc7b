#!/usr/bin/env bash
# Sets up the development environment and runs the linter and the whole test suite.
# PostgreSQL and Redis tests use DATABASE_URL / CELERY_BROKER_URL when set; without the services
# they are skipped with a reason (under CI=true they fail instead).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
