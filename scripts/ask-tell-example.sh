#!/usr/bin/env bash
# Ask and tell from the shell: Optuna keeps the study and proposes parameters,
# seqtune trains them. Nothing but the `optuna` CLI touches the study.
#
#   export OPTUNA_STORAGE=sqlite:///storage/seqtune.db
#   optuna create-study --study-name drift-asktell --direction minimize
#   bash scripts/ask-tell-example.sh seeded-drift drift-asktell 3 --max-epochs 20
#
# Arguments: STUDY (a study file or a name in studies/), the Optuna study name,
# the number of trials, then any `seqtune evaluate` options (--max-epochs,
# --set length=35, --csv ...). Needs `optuna`, `seqtune` and `python` on PATH
# (source .venv/bin/activate) and OPTUNA_STORAGE (or edit the optuna calls).
set -euo pipefail

study_file=${1:?usage: ask-tell-example.sh STUDY OPTUNA_STUDY_NAME N_TRIALS [evaluate options]}
study_name=${2:?missing the Optuna study name}
n_trials=${3:?missing the number of trials}
shift 3

space=$(seqtune space "$study_file" --json)
for _ in $(seq "$n_trials"); do
    asked=$(optuna ask --study-name "$study_name" --search-space "$space" -f json)
    number=$(python -c 'import json, sys; print(json.load(sys.stdin)["number"])' <<<"$asked")
    params=$(python -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["params"]))' \
        <<<"$asked")
    status=0
    value=$(seqtune -q evaluate "$study_file" --params "$params" "$@") || status=$?
    if [ "$status" -eq 0 ]; then
        optuna tell --study-name "$study_name" --trial-number "$number" --values "$value"
        echo "trial $number: $value"
    else  # 1: training diverged, the next trial may do better; 2: bad input, stop
        optuna tell --study-name "$study_name" --trial-number "$number" --state fail
        [ "$status" -eq 1 ] || exit "$status"
    fi
done
