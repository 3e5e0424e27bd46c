"""One trial: parameters -> trained model -> metrics stored on the trial."""

from __future__ import annotations

import os
import socket
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from torch import nn

from seqtune.errors import TrainingDiverged
from seqtune.models import build_model
from seqtune.space import suggest
from seqtune.study import _signals
from seqtune.study._artifacts import BestCheckpoint
from seqtune.study._curriculum import CarriedWeights, State
from seqtune.tasks import Splits, Task
from seqtune.trainer import FitResult, TrainConfig, fit, fit_many, predict

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
    #: the main metric per test point (``Task.metric_points``; None if the task has none)
    test_points: np.ndarray | None = None

    def user_attrs(self) -> dict[str, Any]:
        """What a trial stores, readable with ``optuna trials`` or the dashboard."""
        return {**{f"val_{k}": v for k, v in self.val.items()},
                **{f"test_{k}": v for k, v in self.test.items()},
                **self.diagnostics,
                "epochs": self.fit.epochs_run, "best_epoch": self.fit.best_epoch,
                "train_seconds": round(self.fit.seconds, 3)}


def _setup(task: Task, params: dict[str, Any], max_epochs: int, patience: int, seed: int,
           refit: bool) -> tuple[Splits, TrainConfig]:
    """The splits and the training settings; ``refit``: train on train+val
    (``Task.refit_splits``) for exactly ``max_epochs`` epochs (no early stopping, no
    selection on val: val is in training, so it is scored once, after the last
    epoch), keeping the weights after the epoch of the lowest mean training loss:
    the last epoch's where the loss kept falling, an earlier one after a spike
    (measured: an LSTM's last digitsum epoch jumped from 0.003 to 0.98 and left
    0.66 test accuracy)."""
    data_params = {k: params[k] for k in task.data_params if k in params}
    config = train_config(params, max_epochs, patience, seed)
    if not refit:
        return task.splits(**data_params), config
    return (task.refit_splits(**data_params),
            replace(config, patience=max_epochs, restore_best=False, validate=False,
                    keep_lowest_train_loss=True))


def _initial_model(task: Task, config: TrainConfig, init: State | None
                   ) -> nn.Module | None:
    """A model built from ``config`` holding the weights ``init`` (None: none given,
    the trainer builds and initialises one from the seed)."""
    if init is None:
        return None
    model = build_model(task.model_kind, config.architecture, config.hidden_size,
                        config.num_layers, **task.model_spec())
    model.load_state_dict(init)
    return model


def train_and_score(task: Task, params: dict[str, Any], max_epochs: int, patience: int,
                    seed: int, hook: Any = None, refit: bool = False,
                    init: State | None = None) -> TrialOutcome:
    """Train one configuration and score it on val and test (shared by studies,
    ``seqtune evaluate`` and the post-mortem). ``refit``: the final fit before
    test, on train+val for ``max_epochs`` epochs (its val scores mean nothing).
    ``init``: weights to start from (a curriculum) instead of the seed's."""
    splits, config = _setup(task, params, max_epochs, patience, seed, refit)
    model = _initial_model(task, config, init)
    return score_fit(task, splits, fit(task, splits, config, hook, model=model),
                     diagnose=not refit)


def score_fit(task: Task, splits: Splits, result: FitResult,
              diagnose: bool = True) -> TrialOutcome:
    """Val scores, test scores (and per test point) and the task's diagnostics of
    one trained model."""
    diagnostics = (task.diagnostics(splits.val, lambda x: predict(result.model, x))
                   if diagnose else {})
    predictions = predict(result.model, splits.test.inputs)
    try:
        points = task.metric_points(splits.test, predictions)
    except NotImplementedError:
        points = None
    return TrialOutcome(result, result.val_scores, task.score(splits.test, predictions),
                        diagnostics, points)


def train_and_score_many(task: Task, params: dict[str, Any], max_epochs: int, patience: int,
                         seeds: list[int], refit: bool = False,
                         inits: list[State | None] | None = None
                         ) -> list[TrialOutcome | TrainingDiverged]:
    """:func:`train_and_score` once per seed, the seeds trained packed as one model
    (:func:`seqtune.trainer.fit_many`); a diverged seed is returned as its error.
    ``inits``: per seed, weights to start from (or None)."""
    configs = []
    for seed in seeds:
        splits, config = _setup(task, params, max_epochs, patience, seed, refit)
        configs.append(config)
    models = None
    if inits is not None and any(init is not None for init in inits):
        models = [_initial_model(task, c, init) for c, init in zip(configs, inits, strict=True)]
    return [r if isinstance(r, TrainingDiverged) else score_fit(task, splits, r,
                                                                diagnose=not refit)
            for r in fit_many(task, splits, configs, models)]


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
                 seed: int, artifact_dir: Path | None = None,
                 carried: CarriedWeights | None = None) -> None:
        self.task, self.space = task, space
        self.max_epochs, self.patience, self.seed = max_epochs, patience, seed
        #: keeps the best model as an artifact (None: no checkpoints)
        self.checkpoints = BestCheckpoint(task, artifact_dir) if artifact_dir else None
        #: weights a trial starts from (a curriculum over a sweep; None: its seed's)
        self.carried = carried

    def __call__(self, trial: optuna.Trial) -> float:
        params = suggest(trial, self.space)
        seed = self.seed + trial.number
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        init = (self.carried.initial_state(self.task, params)
                if self.carried and trial.user_attrs.get("init") != "seed" else None)
        if init is not None:
            trial.set_user_attr("init_from", self.carried.source)
        try:
            _signals.check()
            outcome = train_and_score(self.task, params, self.max_epochs, self.patience, seed,
                                      _PruningHook(trial), init=init)
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
