#!/usr/bin/env bash
# Migrate, seed and start every component under one supervisor (honcho).
# Ctrl-C stops everything. Settings come from the environment (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VENV:-.venv}/bin
export PATH="$PWD/$bin:$PATH"
export LOG_FORMAT=${LOG_FORMAT:-console}
export CATALOG_PORT=${CATALOG_PORT:-8082}
export USERS_PORT=${USERS_PORT:-8081}
export ORDERS_PORT=${ORDERS_PORT:-8083}
export JWT_JWKS_URL=${JWT_JWKS_URL:-http://127.0.0.1:${USERS_PORT}/auth/jwks.json}
# Development admin, made by users at start-up (never use these values outside a laptop).
export FLOTILLA_ADMIN_EMAIL=${FLOTILLA_ADMIN_EMAIL:-admin@flotilla.local}
export FLOTILLA_ADMIN_PASSWORD=${FLOTILLA_ADMIN_PASSWORD:-flotilla-dev-admin}
export GATEWAY_PORT=${GATEWAY_PORT:-8080} EDGE_HTTP_PORT=${EDGE_HTTP_PORT:-8000} EDGE_HTTPS_PORT=${EDGE_HTTPS_PORT:-8443}
mkdir -p var/metrics

# RabbitMQ (scripts/rabbitmq.sh, data in var/rabbitmq) on 5672, or on a free port when 5672 is taken.
if [ -z "${RABBITMQ_PORT:-}" ]; then
  RABBITMQ_PORT=5672
  if (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
    RABBITMQ_PORT=$("$bin/python" -c 'from flotilla.testing import free_port; print(free_port())')
  fi
fi
export RABBITMQ_PORT
# A given AMQP_URL is kept (the workers use it); otherwise it points at the node started here.
export AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:${RABBITMQ_PORT}/%2F}
# Commands run from another shell (catalog-worker dlq ..., flotilla-* CLIs) read the broker here.
printf 'RABBITMQ_PORT=%s\nAMQP_URL=%s\n' "$RABBITMQ_PORT" "$AMQP_URL" > var/run.env

# Redis (Procfile `redis`, data in var/redis) for the gateway's rate limits, shared by every
# gunicorn worker and replica: on 6379, or on a free port when that one is taken.
if [ -z "${REDIS_PORT:-}" ]; then
  REDIS_PORT=6379
  if (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    REDIS_PORT=$("$bin/python" -c 'from flotilla.testing import free_port; print(free_port())')
  fi
fi
export REDIS_PORT REDIS_URL=${REDIS_URL:-redis://127.0.0.1:${REDIS_PORT}/0}
mkdir -p var/redis

# Prometheus (Procfile `prometheus`, scripts/prometheus.sh, data in var/prometheus) on 9090,
# or on a free port when that one is taken.
if [ -z "${PROMETHEUS_PORT:-}" ]; then
  PROMETHEUS_PORT=9090
  if (exec 3<>/dev/tcp/127.0.0.1/9090) 2>/dev/null; then
    PROMETHEUS_PORT=$("$bin/python" -c 'from flotilla.testing import free_port; print(free_port())')
  fi
fi
export PROMETHEUS_PORT

# Every service of services.toml migrates; those whose installed cli.py registers a `seed`
# command (catalog) seed too (read from the source: asking each CLI would start Python once more each).
while read -r service seeds; do
  "$bin/$service" migrate
  if [ "$seeds" = seed ]; then
    "$bin/$service" seed
  fi
done < <("$bin/python" -m flotilla.platform seeds)

# nginx's config under var/nginx, and a development TLS certificate (openssl) on first run.
"$bin/python" -m gateway.nginx render var/nginx >/dev/null

echo "==> starting every process (Procfile) under honcho; a table follows when all are ready"
# Polls every process's readiness, then prints one table and the commands to try (flotilla/runner.py).
"$bin/python" -m flotilla.runner &
exec "$bin/honcho" start -f Procfile
