#!/usr/bin/env bash
# Migrate, seed and start every component under one supervisor (honcho).
# Ctrl-C stops everything. Settings come from the environment (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VENV:-.venv}/bin
export PATH="$PWD/$bin:$PATH"
export LOG_FORMAT=${LOG_FORMAT:-console}
export CATALOG_PORT=${CATALOG_PORT:-8082}
mkdir -p var/metrics

for service in catalog; do
  "$bin/$service" migrate
  "$bin/$service" seed
done

cat <<MSG

Flotilla is starting. Try:
  curl http://127.0.0.1:${CATALOG_PORT}/products
  curl http://127.0.0.1:${CATALOG_PORT}/health/ready
  curl http://127.0.0.1:${CATALOG_PORT}/metrics
  curl http://127.0.0.1:${CATALOG_PORT}/openapi.json
Press Ctrl-C to stop.

MSG
exec "$bin/honcho" start -f Procfile
