#!/usr/bin/env bash
# Install the test needs and run every test. Uses DATABASE_URL / CELERY_BROKER_URL when set (CI sets PostgreSQL
# and Redis), else SQLite and the filesystem broker.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test
scripts/build_frontend.sh
# End-to-end tests drive Debian's Chromium through Playwright (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "Chromium is missing: run 'sudo apt-get install -y chromium' for the end-to-end tests" >&2
        exit 1
    fi
fi
mkdir -p var
if [ "$#" -eq 0 ]; then
    .venv/bin/ruff check --output-format concise annotator labeling workers tests bench
    (cd frontend && npx vitest run)
fi
exec .venv/bin/python -m pytest "$@"
