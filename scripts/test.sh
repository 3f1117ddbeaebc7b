#!/usr/bin/env bash
# Sets up the development environment and runs the linter, the layer contracts (import-linter,
# pyproject.toml), the type checks (mypy with django-stubs) and the whole test suite.
# PostgreSQL and Redis tests use DATABASE_URL / CELERY_BROKER_URL when set; without the services
# they are skipped with a reason (under CI=true they fail instead).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
.venv/bin/ruff check .
PYTHONPATH=. .venv/bin/lint-imports --no-cache
DEBUG=true .venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
