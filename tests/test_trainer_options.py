"""The trainer's options for prebuilt models: a fixed batch order, no model
selection, and extra splits scored every epoch."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from seqtune.models import SeedGenerator
from seqtune.tasks import make_task
from seqtune.trainer import TrainConfig, evaluate, fit, fit_many


class RecordingGenerator(SeedGenerator):
    """A real generator that remembers the first seed of every batch it trains on."""

    def __init__(self) -> None:
        super().__init__("gru", 8, 1, horizon=5)
        self.firsts: list[np.ndarray] = []

    def loss(self, seeds, targets, **options):
        self.firsts.append(seeds[:, 0].numpy().copy())
        return super().loss(seeds, targets, **options)


@pytest.fixture(scope="module")
def task():
    return make_task({"name": "seeded", "n_train": 60, "n_val": 30, "n_test": 30})


@pytest.mark.parametrize("shuffle", [False, True])
def test_shuffle_false_keeps_the_stored_order_every_epoch(task, shuffle):
    model = RecordingGenerator()
    config = TrainConfig(batch_size=20, max_epochs=2, patience=2, shuffle=shuffle)
    result = fit(task, task.splits(), config, model=model)
    assert result.model is model and len(model.firsts) == 6
    stored = task.splits().train.inputs[:, 0]
    epochs = [np.concatenate(model.firsts[i:i + 3]) for i in (0, 3)]
    assert all(np.array_equal(e, stored) for e in epochs) is (not shuffle)


def test_restore_best_false_keeps_the_last_epoch_and_monitor_scores_every_epoch(task):
    splits = task.splits()
    config = TrainConfig(architecture="rnn", hidden_size=8, learning_rate=0.3, batch_size=60,
                         max_epochs=8, patience=8, seed=0, restore_best=False)
    torch.manual_seed(0)
    result = fit(task, splits, config, model=SeedGenerator("rnn", 8, 1, horizon=5),
                 monitor={"train": splits.train})
    last = result.history[-1]
    assert result.best_epoch < len(result.history)  # the last epoch is not the best one
    assert evaluate(task, result.model, splits.val)["mse"] == pytest.approx(last["mse"])
    assert last["mse"] != pytest.approx(result.best_value)
    assert all("train_mse" in h and "train_drift_ratio" in h for h in result.history)
    assert evaluate(task, result.model, splits.train)["mse"] == pytest.approx(
        last["train_mse"])


def test_validate_false_scores_val_once_and_trains_the_same_weights(task):
    """A final fit (``validate=False``) skips the per-epoch val scoring but not a
    single training step: same weights as with it, val scored after the last epoch."""
    splits = task.splits()
    config = TrainConfig(architecture="gru", hidden_size=8, learning_rate=0.05, batch_size=20,
                         max_epochs=5, patience=5, seed=3, restore_best=False)
    every = fit(task, splits, config)
    once = fit(task, splits, replace(config, validate=False))
    for name, weight in every.model.state_dict().items():
        assert torch.equal(weight, once.model.state_dict()[name]), name
    assert [h["train_loss"] for h in once.history] == [h["train_loss"] for h in every.history]
    assert ["mse" in h for h in once.history] == [False] * 4 + [True]
    assert once.history[-1] == every.history[-1]
    assert once.best_epoch == 5 and once.val_scores["mse"] == every.history[-1]["mse"]


def test_keep_lowest_train_loss_ends_with_the_weights_after_that_epoch(task):
    """A final fit keeps the weights after its epoch of lowest mean training loss:
    what the same run stopped after that epoch ends with, packed or alone."""
    splits = task.splits()
    # at this step the training loss of both seeds bottoms out before the last epoch
    configs = [TrainConfig(architecture="rnn", hidden_size=8, learning_rate=0.1, batch_size=20,
                           grad_clip=0, max_epochs=8, patience=8, seed=seed, device="cpu",
                           restore_best=False, validate=False, keep_lowest_train_loss=True)
               for seed in (0, 1)]
    for config, packed in zip(configs, fit_many(task, splits, configs), strict=True):
        result = fit(task, splits, config)
        losses = [h["train_loss"] for h in result.history]
        lowest = int(np.argmin(losses)) + 1
        assert len(losses) == 8 and lowest < 8, losses  # the last epoch is not the lowest
        shorter = fit(task, splits, replace(config, max_epochs=lowest,
                                            keep_lowest_train_loss=False))
        last = fit(task, splits, replace(config, keep_lowest_train_loss=False))
        for name, weight in shorter.model.state_dict().items():
            assert torch.equal(result.model.state_dict()[name], weight), name
            torch.testing.assert_close(packed.model.state_dict()[name], weight,
                                       rtol=1e-4, atol=1e-5)
        assert any(not torch.equal(last.model.state_dict()[n], w)
                   for n, w in shorter.model.state_dict().items())
