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
if [ ! -x "$venv/bin/python" ]; then
  echo "==> creating the virtualenv $venv"
  "$python" -m venv "$venv"
fi
echo "==> upgrading pip"
"$venv/bin/python" -m pip install --quiet --upgrade pip
args=()
for component in "$@"; do
  echo "==> component $component (editable)"
  args+=(-e "$component")
done
# One resolve for all of them; pip prints each download with its progress (first run: 1-2 min).
echo "==> installing pinned dependencies (requirements/constraints.txt) and the components"
"$venv/bin/python" -m pip install --progress-bar on -c requirements/constraints.txt \
  -r requirements/dev.txt "${args[@]}"
echo "installed: $* into $venv"
