#!/usr/bin/env bash
# The main job: set up (first time only), then run every default study,
# the baselines and the reports. Extra arguments go to `seqtune run`
# (e.g. --quick).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/setup.sh"
cd "$root"
exec "$root/.venv/bin/seqtune" run "$@"
