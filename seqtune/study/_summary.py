"""Read results back from a study: the best trial per architecture."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import TrialState


def best_per_architecture(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per architecture: its best COMPLETE trial with val and test metrics."""
    metric = study.user_attrs.get("metric", "value")
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    best: dict[str, optuna.trial.FrozenTrial] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        arch = trial.params.get("architecture", "?")
        incumbent = best.get(arch)
        if incumbent is None or (trial.value > incumbent.value if maximize
                                 else trial.value < incumbent.value):
            best[arch] = trial
    rows = []
    for arch, trial in best.items():
        rows.append({"study": study.study_name, "architecture": arch, "trial": trial.number,
                     "metric": metric, "val": trial.value,
                     "test": trial.user_attrs.get(f"test_{metric}"),
                     "epochs": trial.user_attrs.get("epochs"),
                     "train_seconds": trial.user_attrs.get("train_seconds")})
    rows.sort(key=lambda r: r["val"], reverse=maximize)
    return rows
