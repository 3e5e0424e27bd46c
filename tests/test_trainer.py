"""The shared trainer learns, stops early, prunes through its hook, and is deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqtune.study import train_and_score
from seqtune.tasks import make_task
from seqtune.tasks.digitsum import DigitSumTask
from seqtune.trainer import TrainConfig, fit, predict


def test_trainer_learns_seeded_drift_to_a_stated_accuracy():
    task = make_task({"name": "seeded", "rule": "drift", "n_train": 500})
    config = TrainConfig(architecture="gru", hidden_size=32, learning_rate=1e-2,
                         batch_size=32, max_epochs=40, patience=40, seed=1)
    result = fit(task, task.splits(), config)
    # the per-step mean (a collapsed model) has normalized MSE 1.0
    assert result.val_scores["nmse"] < 0.02
    assert result.val_scores["drift_ratio"] > 0.9
    assert result.best_epoch == min(result.history, key=lambda h: h["mse"])["epoch"]


def test_trainer_learns_digitsum_above_chance():
    task = make_task({"name": "digitsum", "length": 5})
    config = TrainConfig(architecture="lstm", hidden_size=64, learning_rate=1e-2,
                         batch_size=32, max_epochs=60, patience=60, seed=0)
    result = fit(task, task.splits(), config)
    assert result.val_scores["accuracy"] >= 0.8  # chance is about 0.1
    logits = predict(result.model, task.splits().val.inputs)
    assert logits.shape == (100, 19)


def test_early_stopping_and_restoring_the_best_epoch():
    task = make_task({"name": "seeded", "rule": "drift", "n_train": 200})
    config = TrainConfig(architecture="rnn", hidden_size=8, learning_rate=0.2,
                         batch_size=200, max_epochs=200, patience=3, seed=0)
    result = fit(task, task.splits(), config)
    assert result.epochs_run == result.best_epoch + 3 < 200
    restored = task.score(task.splits().val, predict(result.model, task.splits().val.inputs))
    assert restored["mse"] == pytest.approx(result.best_value, rel=1e-6)


class _CoarseDigitSum(DigitSumTask):
    """Accuracy in steps of 0.2, so that many epochs tie; the log-loss beside it."""

    def score(self, split, predictions):
        accuracy = super().score(split, predictions)["accuracy"]
        return {"accuracy": math.floor(accuracy * 5) / 5,
                "log_loss": self.tie_break(split, predictions)}


def test_a_tie_on_the_metric_keeps_the_lower_log_loss_without_extra_epochs():
    task = _CoarseDigitSum(length=5)
    config = TrainConfig(architecture="gru", hidden_size=32, learning_rate=1e-2,
                         batch_size=32, max_epochs=60, patience=8, seed=0)
    result = fit(task, task.splits(), config)
    best = max(h["accuracy"] for h in result.history)
    ties = [h for h in result.history if h["accuracy"] == best]
    first = ties[0]["epoch"]
    kept = min(ties, key=lambda h: h["log_loss"])["epoch"]
    assert len(ties) > 1 and kept > first  # the test needs a won tie to mean anything
    assert result.best_epoch == kept
    assert result.epochs_run == min(first + 8, 60)  # patience counts from `first`
    restored = task.score(task.splits().val, predict(result.model, task.splits().val.inputs))
    assert restored["log_loss"] == pytest.approx(min(h["log_loss"] for h in ties), rel=1e-6)


class _StopAt:
    def __init__(self, epoch: int) -> None:
        self.epoch, self.reported = epoch, []

    def report(self, step: int, value: float) -> None:
        self.reported.append(step)

    def should_prune(self) -> bool:
        return self.reported[-1] >= self.epoch


def test_hook_receives_every_epoch_and_can_stop_training():
    task = make_task({"name": "seeded", "n_train": 100})
    hook = _StopAt(4)
    result = fit(task, task.splits(), TrainConfig(max_epochs=50, hidden_size=8), hook)
    assert hook.reported == [1, 2, 3, 4] and result.pruned and result.epochs_run == 4


def test_same_seed_and_params_reproduce_the_same_value_on_cpu():
    task = make_task({"name": "rainfall"})
    params = {"architecture": "lstm", "hidden_size": 16, "num_layers": 2,
              "learning_rate": 3e-3, "batch_size": 16, "grad_clip": 1.0, "window": 8}
    runs = [train_and_score(task, params, max_epochs=5, patience=5, seed=7) for _ in range(2)]
    assert runs[0].fit.best_value == runs[1].fit.best_value
    assert runs[0].test == runs[1].test
    other = train_and_score(task, params, max_epochs=5, patience=5, seed=8)
    assert other.fit.best_value != runs[0].fit.best_value


def test_teacher_forcing_changes_training_but_not_evaluation():
    task = make_task({"name": "seeded", "n_train": 64})
    base = dict(hidden_size=8, max_epochs=2, patience=5, seed=3, batch_size=64)
    free = fit(task, task.splits(), TrainConfig(**base, options={"teacher_forcing": 0.0}))
    forced = fit(task, task.splits(), TrainConfig(**base, options={"teacher_forcing": 1.0}))
    assert free.history[0]["train_loss"] != forced.history[0]["train_loss"]
    # evaluation is free-running: an untrained-but-identical model scores the same
    same = fit(task, task.splits(), TrainConfig(**{**base, "max_epochs": 1},
                                                options={"teacher_forcing": 0.0}))
    assert np.isclose(same.history[0]["mse"], free.history[0]["mse"])
