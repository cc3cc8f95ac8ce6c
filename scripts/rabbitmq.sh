#!/usr/bin/env bash
# A RabbitMQ node for `make run`, in the foreground: Debian's rabbitmq-server as a plain
# process (never the system service), everything it owns under var/rabbitmq.
# AMQP on RABBITMQ_PORT (default 5672; scripts/run.sh picks a free one when 5672 is taken);
# the Erlang distribution port and epmd get free ports of their own. Everything binds to
# loopback: AMQP, the distribution listener (inet_dist_use_interface) and epmd (ERL_EPMD_ADDRESS).
set -euo pipefail
cd "$(dirname "$0")/.."
server=/usr/lib/rabbitmq/bin/rabbitmq-server
[ -x "$server" ] || { echo "rabbitmq-server is missing: run 'make deps'" >&2; exit 1; }

root=${RABBITMQ_ROOT:-$PWD/var/rabbitmq}
port=${RABBITMQ_PORT:-5672}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mkdir -p "$root/log"

cat > "$root/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$port
loopback_users = none
disk_free_limit.absolute = 50MB
log.console = true
log.console.level = warning
log.file = false
CONF
echo '[].' > "$root/enabled_plugins"

export HOME=$root  # the Erlang cookie lives here
export RABBITMQ_NODENAME=${RABBITMQ_NODENAME:-flotilla@localhost}
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$port
export RABBITMQ_DIST_PORT=${RABBITMQ_DIST_PORT:-$(free_port)} ERL_EPMD_PORT=${ERL_EPMD_PORT:-$(free_port)}
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_MNESIA_BASE=$root/mnesia RABBITMQ_LOG_BASE=$root/log
export RABBITMQ_CONFIG_FILE=$root/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$root/enabled_plugins
export RABBITMQ_PID_FILE=$root/rabbitmq.pid

echo "rabbitmq: AMQP on 127.0.0.1:$port, data in $root"
"$server" &
child=$!
stop() { kill -TERM "$child" 2>/dev/null || true; }
trap stop TERM INT
status=0
wait "$child" || status=$?
wait "$child" 2>/dev/null || true   # a trapped signal interrupts the first wait
epmd -kill >/dev/null 2>&1 || true  # the node started its own epmd on ERL_EPMD_PORT
exit "$status"
