#!/usr/bin/env bash
# Install everything and run the product: web server + a real Celery worker, SQLite and a broker that needs no
# server (kombu's filesystem transport under var/broker), and the demo project with printed logins.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
scripts/build_frontend.sh
export DJANGO_ENV="${DJANGO_ENV:-development}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
mkdir -p var
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py collectstatic --noinput --verbosity 0
.venv/bin/python manage.py demo_setup
# One embedded worker serves both queues: CPU work (uploads, superpixels) and model work (embeddings, pre-labels).
# With Debian's libtcmalloc-minimal4 installed the worker preloads it: the SAM encoder runs 2-3x faster on CPU.
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
WORKER_PRELOAD="${LD_PRELOAD:-}"
if [ -z "$WORKER_PRELOAD" ] && [ -e "$TCMALLOC" ]; then WORKER_PRELOAD="$TCMALLOC"; fi
LD_PRELOAD="$WORKER_PRELOAD" .venv/bin/celery -A annotator worker --queues "${ANNOTATOR_CPU_QUEUE:-cpu},${ANNOTATOR_GPU_QUEUE:-gpu}" \
    --concurrency 2 --loglevel INFO &
WORKER_PID=$!
stop_worker() {
    trap - EXIT INT TERM
    kill -TERM "$WORKER_PID" 2>/dev/null || true
    wait "$WORKER_PID" 2>/dev/null || true
}
trap stop_worker EXIT
trap 'stop_worker; exit 130' INT TERM
echo
echo "Open http://$HOST:$PORT/ (API docs at /api/docs/, admin at /admin/) and log in with a login printed above."
echo
.venv/bin/python manage.py runserver --noreload "$HOST:$PORT"
