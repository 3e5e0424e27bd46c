#!/usr/bin/env bash
# Create .venv and install seqtune with its pinned dependencies (idempotent).
# Sourced by scripts/run.sh and scripts/test.sh; re-installs only when
# pyproject.toml or constraints.txt changed since the last install.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.seqtune-installed"
want=$(cat "$root/pyproject.toml" "$root/constraints.txt" | sha256sum | cut -d' ' -f1)

if [ ! -x "$venv/bin/python" ]; then
  echo "seqtune setup: creating $venv" >&2
  python3 -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "seqtune setup: installing pinned dependencies (CPU torch)" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$root/constraints.txt" -e "$root[test]"
  echo "$want" > "$stamp"
fi
