"""Read results back from a study: the best trial per architecture."""

from __future__ import annotations

import warnings
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from seqtune.blobs import StudyLike, get_blob
from seqtune.stored import stored_metric


def trained_trials(study: optuna.Study) -> list[FrozenTrial]:
    """COMPLETE trials that seqtune trained: an architecture and the val metric stored.

    Trials told through ``optuna tell`` or run by other code lack them and are
    left out of every seqtune table (:func:`foreign_trials` counts them)."""
    metric = stored_metric(study)
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if "architecture" in t.params and f"val_{metric}" in t.user_attrs]


def foreign_trials(study: optuna.Study) -> int:
    """How many COMPLETE trials :func:`trained_trials` leaves out."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return len(complete) - len(trained_trials(study))


def best_per_architecture(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per architecture: its best trained trial with val and test metrics."""
    metric = stored_metric(study)
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    best: dict[str, FrozenTrial] = {}
    for trial in trained_trials(study):
        arch = trial.params["architecture"]
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


def is_postmortem(study: StudyLike) -> bool:
    """Whether a stored study is a post-mortem grid (it records its grid)."""
    settings = get_blob(study, "settings")
    return isinstance(settings, dict) and "grid" in settings


def name_metric(study: optuna.Study, metric: str) -> None:
    """Name the objective ``metric`` (``study.metric_names``: optuna-dashboard's axis
    titles and tables); a no-op when it already is."""
    if study.metric_names != [metric]:
        with warnings.catch_warnings():  # experimental in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([metric])
