#!/usr/bin/env bash
# Install the test needs and run every test. Uses DATABASE_URL / CELERY_BROKER_URL when set (CI sets PostgreSQL
# and Redis), else SQLite and the filesystem broker.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test
mkdir -p var
if [ "$#" -eq 0 ]; then
    .venv/bin/ruff check --output-format concise annotator labeling workers tests bench
fi
exec .venv/bin/python -m pytest "$@"
