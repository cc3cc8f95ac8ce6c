#!/bin/sh
# flotilla-entrypoint ROLE [ARGS...] -- the one entrypoint of every Flotilla Python image.
#
#   api      migrate, then exec gunicorn serving $FLOTILLA_APP (default "$FLOTILLA_SERVICE:create_app()")
#   worker   migrate, then exec "$FLOTILLA_SERVICE-worker" ARGS (the event consumer + outbox relay)
#   migrate  migrate only (e.g. a Kubernetes Job), then exit
#   edge     the nginx edge (gateway image, target "edge"): `python3 -m gateway.nginx run`
#            renders gateway/gateway/nginx/nginx.conf.template from EDGE_* / GATEWAY_ADDR
#            into $EDGE_PREFIX (default /tmp/edge) and execs nginx; logs go to stdout/stderr
#   other    exec'd as given: `catalog seed`, `users create-admin --email ...`, `sh`
#
# MIGRATE_ON_START=0 skips the migration step (the gateway has no database).
# Migrations are retried (MIGRATE_ATTEMPTS, default 10, back-off 1 s, 2 s, ...): the
# database may still be starting, and when several replicas start together on
# PostgreSQL the losers' transactional DDL rolls back and their retry finds head.
# SEED_ON_START=1 also runs "$FLOTILLA_SERVICE seed" (demo data; catalog only).
set -eu

svc=${FLOTILLA_SERVICE:-flotilla}

log() { echo "flotilla-entrypoint[$svc]: $*" >&2; }

migrate() {
  attempt=1
  max=${MIGRATE_ATTEMPTS:-10}
  until "$svc" migrate; do
    if [ "$attempt" -ge "$max" ]; then
      log "migrations failed $attempt times; giving up"
      exit 1
    fi
    log "migrations failed (attempt $attempt/$max); retrying in ${attempt}s"
    sleep "$attempt"
    attempt=$((attempt + 1))
  done
}

prepare() {
  if [ "${MIGRATE_ON_START:-1}" = 1 ]; then migrate; fi
  if [ "${SEED_ON_START:-0}" = 1 ]; then "$svc" seed; fi
  # Consul calls the instance back: register the container's own address, not 0.0.0.0.
  if [ "${DISCOVERY:-static}" = consul ] && [ -z "${SERVICE_ADDRESS:-}" ]; then
    SERVICE_ADDRESS=$(python3 -c 'import socket; print(socket.gethostbyname(socket.gethostname()))')
    export SERVICE_ADDRESS
  fi
}

role=${1:-api}
[ $# -gt 0 ] && shift

case $role in
  api)
    prepare
    exec gunicorn -c python:flotilla.gunicorn_conf "$@" "${FLOTILLA_APP:-$svc:create_app()}"
    ;;
  worker)
    prepare
    exec "$svc-worker" "$@"
    ;;
  migrate)
    migrate
    ;;
  edge)
    prefix=${EDGE_PREFIX:-/tmp/edge}
    mkdir -p "$prefix/logs"
    ln -sf /dev/stdout "$prefix/logs/access.log"
    ln -sf /dev/stderr "$prefix/logs/error.log"
    exec python3 -m gateway.nginx run "$prefix"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
