#!/usr/bin/env bash
# Create the virtualenv and install every component (editable) with pinned versions.
# Usage: scripts/install.sh VENV COMPONENT...
set -euo pipefail
venv=$1; shift
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  echo "Flotilla needs Python 3.11 or newer as '$python' (set PYTHON=...)" >&2
  exit 1
fi
if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' 2>/dev/null; then
  echo "python venv support is missing: apt-get install python3-venv" >&2
  exit 1
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
args=()
for component in "$@"; do args+=(-e "$component"); done
"$venv/bin/python" -m pip install --quiet -c requirements/constraints.txt \
  -r requirements/dev.txt "${args[@]}"
echo "installed: $* into $venv"
