#!/usr/bin/env bash
# Re-resolve every dependency from scratch and pin the result in requirements/constraints.txt.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
args=(); for component in "$@"; do args+=(-e "$component"); done
"$tmp/venv/bin/pip" install --quiet -r requirements/dev.txt "${args[@]}"
{
  echo "# Pinned versions of every third-party distribution; regenerate with 'make lock'."
  "$tmp/venv/bin/pip" freeze --exclude-editable | grep -v '^-e ' | sort -f
} > requirements/constraints.txt
echo "pinned $(grep -vc '^#' requirements/constraints.txt) distributions"
