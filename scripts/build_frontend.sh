#!/usr/bin/env bash
# Install the frontend's pinned packages (package-lock.json) and build it into frontend/dist.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
