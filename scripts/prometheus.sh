#!/usr/bin/env bash
# Prometheus for `make run` (Debian's package): renders var/prometheus/prometheus.yml with a
# static target for every api, every worker and the gateway (the services from services.toml,
# through flotilla.services_list; ports from the same variables the Procfile reads), loads
# deploy/prometheus/rules.yml, keeps its data under var/prometheus/data and listens on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VENV:-.venv}/bin
port=${PROMETHEUS_PORT:-9090}
dir=var/prometheus
mkdir -p "$dir/data"

"$bin/python" - "$dir/prometheus.yml" "$port" <<'PY'
import json
import os
import sys
from pathlib import Path

from flotilla.services_list import PORTS, WORKER_PORTS

out, port = Path(sys.argv[1]), sys.argv[2]


def env_port(name: str, default: int) -> str:
    return os.environ.get(name, str(default))


jobs = {"gateway": env_port("GATEWAY_PORT", 8080), "prometheus": port}
for service, default in PORTS.items():
    jobs[f"{service}-api"] = env_port(f"{service.upper()}_PORT", default)
for service, default in WORKER_PORTS.items():
    jobs[f"{service}-worker"] = env_port(f"{service.upper()}_WORKER_PORT", default)

lines = [
    "# Rendered by scripts/prometheus.sh for make run: do not edit (it is rewritten at every start).",
    "global: {scrape_interval: 5s, evaluation_interval: 5s}",
    f"rule_files: [{json.dumps(str(Path('deploy/prometheus/rules.yml').resolve()))}]",
    "scrape_configs:",
]
for job, target in jobs.items():
    lines.append(f"  - job_name: {job}")
    lines.append(f"    static_configs: [{{targets: ['127.0.0.1:{target}']}}]")
out.write_text("\n".join(lines) + "\n")
PY

echo "Prometheus: http://127.0.0.1:${port} (targets: http://127.0.0.1:${port}/targets, alerts: /alerts)"
exec prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
  --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:${port}" --log.level=warn
