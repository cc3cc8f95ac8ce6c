#!/usr/bin/env bash
# docker-compose.yml itself, brought up by podman-compose, then one order through the edge.
# No registry is reachable here, so the third-party images it names are replaced by local
# stand-ins built from Debian's packages (deploy/smoke/standins/Dockerfile; Consul is the
# kit's fake agent) and tagged with the compose file's names; Flotilla's own images are the
# ones `make images` built (localhost/flotilla/*:$IMAGE_TAG), tagged as compose expects.
# Run after `make images`:  deploy/smoke/compose_smoke.sh   (takes a few minutes)
#
# podman < 4.6 cannot wait for `condition: service_healthy` (podman-compose says so and
# starts everything at once); the images' migration retries and the workers' reconnects
# then do the ordering.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${IMAGE_TAG:-smoke}
python=${VENV:-.venv}/bin/python
compose_bin=${PODMAN_COMPOSE:-$(command -v podman-compose || echo "${VENV:-.venv}/bin/podman-compose")}
[ -x "$compose_bin" ] || { echo "podman-compose not found: pip install podman-compose" >&2; exit 1; }
project=flotilla-smoke
compose=("$compose_bin" -p "$project" -f docker-compose.yml)

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

# --- images, named as docker-compose.yml names them ------------------------------------------
"$python" - "$tag" <<'PY' > "${TMPDIR:-/tmp}/$project-images.txt"
import sys, yaml
services = yaml.safe_load(open("docker-compose.yml"))["services"]
for name, svc in services.items():
    if svc.get("profiles"):  # opt-in (Grafana, Jaeger): not started by a plain `up`
        continue
    image = svc["image"]
    if "build" in svc:  # ours: localhost/flotilla/<component>:<tag>
        component = svc["build"].get("target") or svc["build"]["dockerfile"].split("/")[-2]
        print(f"localhost/flotilla/{component}:{sys.argv[1]} {image}")
    else:  # a stand-in, tagged with the fully qualified name podman resolves the short one to
        path = image.split(":")[0]
        qualified = image if "." in path.split("/")[0] else (
            f"docker.io/{image}" if "/" in path else f"docker.io/library/{image}")
        print(f"standin:{name} {qualified}")
PY
while read -r source target; do
  if [ "${source%%:*}" = standin ]; then
    name=${source#standin:}
    started=$(now)
    podman build --quiet --format docker --target "$name" --build-arg FLOTILLA_IMAGE="localhost/flotilla/catalog:$tag" \
      -f deploy/smoke/standins/Dockerfile -t "$target" . >/dev/null
    echo "stand-in $target: built in $(since "$started") s"
  else
    podman tag "$source" "$target"
  fi
done < "${TMPDIR:-/tmp}/$project-images.txt"

# --- up, then poll every container's HEALTHCHECK (podman runs none without systemd) -----------
# On failure, say why before tearing down: every container's state, and the last log
# lines of those that exited or are not healthy.
explain() {
  echo "compose smoke failed; the containers of $project:" >&2
  podman ps -a --filter "label=io.podman.compose.project=$project" \
    --format '{{.Names}}\t{{.Status}}' >&2 || true
  for c in $(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}'); do
    state=$(podman inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c" 2>/dev/null || echo unknown)
    case "$state" in
      "running healthy"|"running ") ;;
      *) echo "--- $c ($state): last 30 log lines" >&2
         podman logs --tail 30 "$c" >&2 2>&1 || true ;;
    esac
  done
}
cleanup() {
  status=$?
  [ -n "${ticker:-}" ] && kill "$ticker" 2>/dev/null || true
  [ "$status" -ne 0 ] && explain
  "${compose[@]}" down -v -t 10 >/dev/null 2>&1 || true
}
trap cleanup EXIT
started=$(now)
"${compose[@]}" up -d >/dev/null 2>"${TMPDIR:-/tmp}/$project-up.err" || { cat "${TMPDIR:-/tmp}/$project-up.err" >&2; exit 1; }
( while true; do
    for c in $(podman ps --filter "label=io.podman.compose.project=$project" --format '{{.Names}}'); do
      podman healthcheck run "$c" >/dev/null 2>&1 || true
    done
    sleep 2
  done ) &
ticker=$!

"$python" - <<'PY'
import sys, time, httpx
sys.path.insert(0, "deploy/smoke")
from flotilla.testing import wait_for
from stack_smoke import one_order

started = time.monotonic()
def edge_ready():
    try:
        return httpx.get("http://127.0.0.1:8000/api/v1/products", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False
wait_for(edge_ready, timeout=240, interval=1, what="the edge to answer /api/v1/products")
print(f"compose: edge -> gateway -> catalog answered {time.monotonic() - started:.1f} s after `up -d`")
upstreams = httpx.get("http://127.0.0.1:8080/health", timeout=5).json()["upstreams"]
print("compose: gateway sees", {k: len(v["instances"]) for k, v in upstreams.items()}, "instances via Consul")
def _try(api):
    try:  # the first attempts may meet services not yet registered (503): try again
        return one_order(api)
    except Exception as exc:
        print(f"compose: not yet: {exc!r}"[:200], flush=True)
        return None
with httpx.Client(base_url="http://127.0.0.1:8000/api/v1", timeout=10) as api:
    order = wait_for(lambda: _try(api), timeout=60, interval=1, what="an order to go through")
print(f"compose: order {order['status']} {order['settled_s']:.2f} s after 202; stock 5 -> {order['stock_after']}")
def scraped():  # every job of deploy/prometheus/prometheus.yml has a target that is up
    targets = httpx.get("http://127.0.0.1:9090/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    jobs = {t["labels"]["job"]: t["health"] for t in targets}
    return len(jobs) == 8 and set(jobs.values()) == {"up"} and sorted(jobs)
print("compose: prometheus scrapes", wait_for(scraped, timeout=90, interval=2, what="every scrape target up"))
sys.exit(0 if order["status"] == "confirmed" else 1)
PY
