#!/usr/bin/env bash
# Create .venv and install the project (and, with "test", what the tests need). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
extras=""
if [ "${1:-}" = "test" ]; then
    extras="[test]"
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
if [ "${1:-}" = "test" ]; then
    # The export tests read our files back with datumaro, which pins an older Pillow than the product: it gets
    # a venv of its own that the tests call as a separate process (tests/readers/).
    if [ ! -x .venv-readers/bin/python ]; then
        "$PYTHON" -m venv .venv-readers
    fi
    .venv-readers/bin/python -m pip install --quiet --disable-pip-version-check -r tests/readers/requirements.txt
fi
