#!/usr/bin/env bash
# Make sure the Debian packages a mode needs are installed.
# Usage: scripts/system-deps.sh run|test
# As root it installs what is missing with apt-get; otherwise it says exactly what to install.
set -euo pipefail
mode=${1:?usage: system-deps.sh run|test}

# command to look for -> Debian package that provides it
declare -A RUN=( [/usr/sbin/nginx]=nginx [openssl]=openssl )
declare -A TEST=( [/usr/lib/postgresql/*/bin/initdb]=postgresql [/usr/sbin/nginx]=nginx
                  [redis-server]=redis-server [openssl]=openssl [wrk]=wrk )

# The event backbone's broker: make run starts a node, the tests start their own.
RUN[/usr/lib/rabbitmq/bin/rabbitmq-server]=rabbitmq-server
TEST[/usr/lib/rabbitmq/bin/rabbitmq-server]=rabbitmq-server
# Metrics: make run starts a Prometheus; the tests run promtool on deploy/prometheus.
RUN[prometheus]=prometheus
TEST[promtool]=prometheus
# The operator console's browser test: headless Chromium driven through chromedriver.
TEST[/usr/bin/chromium]=chromium
TEST[/usr/bin/chromedriver]=chromium-driver

declare -n wanted=${mode^^}
missing=()
for probe in "${!wanted[@]}"; do
  # shellcheck disable=SC2086 # the probe may be a glob
  compgen -G "$probe" >/dev/null || command -v "$probe" >/dev/null 2>&1 || missing+=("${wanted[$probe]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Flotilla needs these Debian packages for 'make $mode': ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Packaged servers must not keep running as system services: our scripts start their own.
for svc in postgresql rabbitmq-server nginx redis-server prometheus prometheus-node-exporter; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
  service "$svc" stop >/dev/null 2>&1 || true
done
