#!/usr/bin/env bash
# Build Flotilla's images with podman FROM a local Debian image made with debootstrap
# (no registry is needed), run the catalog image on SQLite and check it answers, then
# (when every image was built) run all eight containers together against a real
# PostgreSQL and RabbitMQ and place one order through the edge (deploy/smoke/stack_smoke.py),
# then bring docker-compose.yml itself up with podman-compose, third-party images replaced
# by local stand-ins, and do the same (deploy/smoke/compose_smoke.sh).
# Slow (minutes), so it is `make images`, not part of `make test`.
#
#   scripts/image-smoke.sh                 # base image (once), every image, both smoke runs
#   IMAGES="catalog" scripts/image-smoke.sh
#
# Prints the figures: base image time, build time and size per image, time to the first
# /health/ready 200 and to the first /products answer, stack start-up and saga times.
set -euo pipefail
cd "$(dirname "$0")/.."

base=${BASE_IMAGE:-localhost/debian:bookworm}
services=$("${VENV:-.venv}/bin/python" -m flotilla.platform names)  # services.toml
images=${IMAGES:-$services gateway edge}
tag=${IMAGE_TAG:-smoke}
port=${SMOKE_PORT:-18082}
# pip inside the build trusts this machine's CA bundle (there may be a TLS-inspecting proxy);
# mounted beside, not over, the image's own bundle, which apt-get's ca-certificates rewrites.
ca=/etc/ssl/certs/ca-certificates.crt
build_ca=/run/flotilla-build-ca.crt

declare -A DOCKERFILE=( [gateway]=gateway/Dockerfile [edge]=gateway/Dockerfile )
for service in $services; do DOCKERFILE[$service]=services/$service/Dockerfile; done
declare -A TARGET=( [gateway]=gateway [edge]=edge )  # stages of gateway/Dockerfile

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

# --- tools -------------------------------------------------------------------------
missing=()
for tool in podman runc debootstrap curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
# Containers find each other by name (gateway:8080, consul:8500) only through this CNI plugin:
# podman here uses the CNI backend, which has no DNS between containers without it.
[ -x /usr/lib/cni/dnsname ] || missing+=(golang-github-containernetworking-plugin-dnsname)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "image-smoke needs: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# crun cannot set rlimits or use hybrid cgroups in this kind of sandbox: runc + cgroupfs.
if [ ! -f /etc/containers/containers.conf ] && [ "$(id -u)" -eq 0 ]; then
  mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n' \
    > /etc/containers/containers.conf
fi

# --- base image ----------------------------------------------------------------------
if ! podman image exists "$base"; then
  started=$(now)
  echo "making the base image $base with debootstrap (about 30 s) ..."
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" >/dev/null
  # Like the official images: no package cache or package lists (images run apt-get update).
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import - "$base" >/dev/null
  rm -rf "$rootfs"
  echo "base image $base: debootstrap + import $(since "$started") s"
fi
echo "base image $base: $(podman image inspect --format '{{.Size}}' "$base" | numfmt --to=iec)"

# --- component images ------------------------------------------------------------------
for image in $images; do
  file=${DOCKERFILE[$image]}
  if [ ! -f "$file" ]; then
    echo "skip $image: $file does not exist" >&2
    continue
  fi
  echo "building flotilla/$image:$tag from $file ..."
  started=$(now)
  target=()
  [ -n "${TARGET[$image]:-}" ] && target=(--target "${TARGET[$image]}")
  # Progress: each Dockerfile step as it starts, and any error line (the build's full log is long).
  podman build --format docker --network host -v "$ca:$build_ca:ro" \
    --build-arg PIP_CA_BUNDLE="$build_ca" --build-arg BASE_IMAGE="$base" "${target[@]}" \
    -f "$file" -t "localhost/flotilla/$image:$tag" . 2>&1 \
    | awk -v img="$image" '/^STEP |[Ee]rror/ { print "  " img ": " $0; fflush() }'
  size=$(podman image inspect --format '{{.Size}}' "localhost/flotilla/$image:$tag" | numfmt --to=iec)
  echo "image flotilla/$image:$tag: built in $(since "$started") s, $size"
done

# --- catalog smoke run -------------------------------------------------------------------
case " $images " in *" catalog "*) ;; *) exit 0 ;; esac
name=flotilla-smoke-$$
trap 'podman rm -f "$name" >/dev/null 2>&1 || true' EXIT
started=$(now)
# (podman without systemd complains it cannot schedule the HEALTHCHECK timer: harmless,
# the check is run by hand below.)
podman run -d --name "$name" -p "127.0.0.1:$port:8082" -e SEED_ON_START=1 \
  "localhost/flotilla/catalog:$tag" >/dev/null 2>"${TMPDIR:-/tmp}/$name.err" || {
  cat "${TMPDIR:-/tmp}/$name.err" >&2; exit 1; }
rm -f "${TMPDIR:-/tmp}/$name.err"
ready=""
for _ in $(seq 1 300); do  # at most 60 s
  if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then ready=$(since "$started"); break; fi
  if [ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ]; then break; fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "catalog container never became ready; its log:" >&2
  podman logs "$name" >&2 || true
  exit 1
fi
echo "catalog: first /health/ready 200 after $ready s (migrate + seed + gunicorn start)"
first=$(now)
products=$(curl -fsS "http://127.0.0.1:$port/products?limit=5")
echo "catalog: first /products answered in $(since "$first") s"
python3 - "$products" <<'PY'
import json, sys
body = json.loads(sys.argv[1])
assert body["items"], "no products: the seed did not run"
print(f"catalog: /products lists {len(body['items'])} items, first: {body['items'][0]['name']!r}")
PY
uid=$(podman exec "$name" id -u)
[ "$uid" = 10001 ] || { echo "catalog runs as uid $uid, expected 10001" >&2; exit 1; }
podman healthcheck run "$name" >/dev/null 2>&1 && echo "catalog: HEALTHCHECK passes; runs as uid $uid"
podman rm -f "$name" >/dev/null 2>&1

# --- the whole stack ---------------------------------------------------------------------
every=1
for image in catalog users orders gateway edge; do
  case " $images " in *" $image "*) ;; *) every=0 ;; esac
done
if [ "$every" = 1 ]; then
  "${VENV:-.venv}/bin/python" deploy/smoke/stack_smoke.py "$tag"
  IMAGE_TAG=$tag deploy/smoke/compose_smoke.sh  # docker-compose.yml itself, with stand-ins
else
  echo "(stack and compose smoke skipped: they need every image)"
fi
echo "image smoke: OK"
