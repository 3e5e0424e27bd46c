"""One trial: parameters -> trained model -> metrics stored on the trial."""

from __future__ import annotations

import os
import socket
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from seqtune.errors import TrainingDiverged
from seqtune.space import suggest
from seqtune.study import _signals
from seqtune.study._artifacts import BestCheckpoint
from seqtune.tasks import Splits, Task
from seqtune.trainer import FitResult, TrainConfig, evaluate, fit, fit_many, predict

_TRAIN_PARAMS = ("architecture", "hidden_size", "num_layers", "learning_rate", "weight_decay",
                 "batch_size", "grad_clip")
_MODEL_OPTIONS = ("teacher_forcing", "rollout")


def train_config(params: dict[str, Any], max_epochs: int, patience: int,
                 seed: int) -> TrainConfig:
    """Map search-space parameters onto the trainer's settings."""
    return TrainConfig(
        **{k: params[k] for k in _TRAIN_PARAMS if k in params},
        options={k: params[k] for k in _MODEL_OPTIONS if k in params},
        max_epochs=max_epochs, patience=patience, seed=seed)


@dataclass
class TrialOutcome:
    fit: FitResult
    val: dict[str, float]
    test: dict[str, float]
    diagnostics: dict[str, Any]

    def user_attrs(self) -> dict[str, Any]:
        """What a trial stores, readable with ``optuna trials`` or the dashboard."""
        return {**{f"val_{k}": v for k, v in self.val.items()},
                **{f"test_{k}": v for k, v in self.test.items()},
                **self.diagnostics,
                "epochs": self.fit.epochs_run, "best_epoch": self.fit.best_epoch,
                "train_seconds": round(self.fit.seconds, 3)}


def train_and_score(task: Task, params: dict[str, Any], max_epochs: int, patience: int,
                    seed: int, hook: Any = None) -> TrialOutcome:
    """Train one configuration and score it on val and test (shared by studies,
    ``seqtune evaluate`` and the post-mortem)."""
    data_params = {k: params[k] for k in task.data_params if k in params}
    splits = task.splits(**data_params)
    return score_fit(task, splits,
                     fit(task, splits, train_config(params, max_epochs, patience, seed), hook))


def score_fit(task: Task, splits: Splits, result: FitResult) -> TrialOutcome:
    """Val scores, test scores and the task's diagnostics of one trained model."""
    diagnostics = task.diagnostics(splits.val, lambda x: predict(result.model, x))
    return TrialOutcome(result, result.val_scores, evaluate(task, result.model, splits.test),
                        diagnostics)


def train_and_score_many(task: Task, params: dict[str, Any], max_epochs: int, patience: int,
                         seeds: list[int]) -> list[TrialOutcome | TrainingDiverged]:
    """:func:`train_and_score` once per seed, the seeds trained packed as one model
    (:func:`seqtune.trainer.fit_many`); a diverged seed is returned as its error."""
    data_params = {k: params[k] for k in task.data_params if k in params}
    splits = task.splits(**data_params)
    configs = [train_config(params, max_epochs, patience, seed) for seed in seeds]
    return [r if isinstance(r, TrainingDiverged) else score_fit(task, splits, r)
            for r in fit_many(task, splits, configs)]


class _PruningHook:
    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial

    def report(self, step: int, value: float) -> None:
        self.trial.report(value, step)

    def should_prune(self) -> bool:
        _signals.check()  # once per epoch: a safe point to stop on SIGINT/SIGTERM
        return self.trial.should_prune()


class Objective:
    """Optuna objective: suggest, train, store metrics; keep the error text on failure."""

    def __init__(self, task: Task, space: dict[str, Any], max_epochs: int, patience: int,
                 seed: int, artifact_dir: Path | None = None) -> None:
        self.task, self.space = task, space
        self.max_epochs, self.patience, self.seed = max_epochs, patience, seed
        #: keeps the best model as an artifact (None: no checkpoints)
        self.checkpoints = BestCheckpoint(task, artifact_dir) if artifact_dir else None

    def __call__(self, trial: optuna.Trial) -> float:
        params = suggest(trial, self.space)
        seed = self.seed + trial.number
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        try:
            _signals.check()
            outcome = train_and_score(self.task, params, self.max_epochs, self.patience, seed,
                                      _PruningHook(trial))
        except TrainingDiverged as exc:
            trial.set_user_attr("error", f"TrainingDiverged: {exc}")
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            trial.set_user_attr("traceback", traceback.format_exc(limit=5))
            raise
        except KeyboardInterrupt as exc:
            trial.set_user_attr("error", str(exc) or "interrupted (KeyboardInterrupt)")
            raise
        for key, value in outcome.user_attrs().items():
            trial.set_user_attr(key, value)
        if outcome.fit.pruned:
            raise optuna.TrialPruned(f"pruned at epoch {outcome.fit.epochs_run}")
        if self.checkpoints is not None:
            self.checkpoints.offer(trial, params, outcome.fit.model, outcome.fit.best_value)
        return outcome.fit.best_value
