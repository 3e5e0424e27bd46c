#!/usr/bin/env bash
# The test suite: set up (first time only), lint, then pytest.
# Extra arguments go to pytest (e.g. -k digitsum).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/setup.sh"
bash "$root/scripts/system-deps.sh" postgresql chromium chromium-driver
cd "$root"
"$root/.venv/bin/ruff" check .
exec "$root/.venv/bin/python" -m pytest "$@"
