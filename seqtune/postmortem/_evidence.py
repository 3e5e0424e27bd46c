"""Train one configuration and collect the evidence a trial stores.

The question's chain is trained by the shared trainer; each epoch it is
scored with both prediction helpers (as the question predicts and as it
should), so configurations that differ only after training (the warm-up and
metric defects) share one training run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from seqtune.errors import TrainingDiverged
from seqtune.postmortem._configs import Setup
from seqtune.postmortem._flux import FluxChain
from seqtune.postmortem._question import (
    QUESTION_BATCH_SIZE,
    helper_inputs,
    helper_split,
    question_mse,
    sequence_errors,
    training_split,
)
from seqtune.runtime import one_thread
from seqtune.study import TrialOutcome
from seqtune.tasks import Split, Splits
from seqtune.tasks.seeded import SeededTask, drift_ratio_per_step, drift_slope
from seqtune.trainer import FitResult, TrainConfig, fit, fit_budgets, predict

N_SAMPLES = 5


class FluxTask(SeededTask):
    """The ``seeded`` task, also scored with the question's error formula."""

    def score(self, split: Split, predictions: np.ndarray) -> dict[str, float]:
        return {**super().score(split, predictions),
                "mse_question": question_mse(split.targets, predictions)}


def train_config(setup: Setup, seed: int) -> TrainConfig:
    """The shared trainer's settings for ``setup``: Adam without clipping, the
    last epoch's weights (the question selects nothing), and with the batching
    defect the helper's unshuffled batches of 3."""
    return TrainConfig(
        learning_rate=setup.learning_rate,
        batch_size=QUESTION_BATCH_SIZE if setup.batching_defect else setup.batch_size,
        grad_clip=0.0, max_epochs=setup.epochs, patience=setup.epochs, seed=seed,
        shuffle=not setup.batching_defect, restore_best=False,
        options={"teacher_forcing": setup.teacher_forcing})


def _flux_material(task: FluxTask, setup: Setup) -> tuple[Splits, dict[str, Split]]:
    """The splits the chain trains on under ``setup`` and the splits scored each epoch."""
    splits = task.splits()
    material = Splits(training_split(splits.train, setup.batching_defect), splits.val,
                      splits.test)
    monitor = {"train": splits.train, "cold_train": helper_split(splits.train, True),
               "cold_val": helper_split(splits.val, True)}
    return material, monitor


def _new_chain(task: FluxTask, setup: Setup, seed: int) -> FluxChain:
    torch.manual_seed(seed)
    return FluxChain(setup.width, setup.head, task.n_seeds, task.horizon)


def train_flux(task: FluxTask, setup: Setup, seed: int,
               model: FluxChain | None = None) -> FitResult:
    """Train the chain (a fresh one seeded by ``seed``, or ``model``) as ``setup``
    says, scoring both prediction helpers every epoch."""
    material, monitor = _flux_material(task, setup)
    model = model if model is not None else _new_chain(task, setup, seed)
    with one_thread():
        return fit(task, material, train_config(setup, seed), model=model, monitor=monitor)


def train_flux_seeds(task: FluxTask, setup: Setup, seeds: list[int], shorter: Sequence[int] = ()
                     ) -> list[dict[int, FitResult | TrainingDiverged]]:
    """:func:`train_flux` once per seed, the chains trained packed as one model
    (at the question's size a step is per-op overhead, so K seeds cost little
    more than one). Per seed: ``{epochs: result}`` for ``setup.epochs`` and each
    of ``shorter`` (the same setup with fewer epochs, read off the one run)."""
    material, monitor = _flux_material(task, setup)
    chains = [_new_chain(task, setup, seed) for seed in seeds]
    with one_thread():
        return fit_budgets(task, material, [train_config(setup, seed) for seed in seeds],
                           shorter, models=chains, monitor=monitor)


def _samples(split: Split, predictions: np.ndarray) -> list[dict[str, Any]]:
    """The first few val sequences: seeds, true and predicted continuation."""
    def values(row: np.ndarray) -> list[float]:
        return [round(float(v), 4) for v in row]

    return [{"index": i, "seeds": values(split.inputs[i]), "true": values(split.targets[i]),
             "predicted": values(predictions[i])} for i in range(min(N_SAMPLES, len(split)))]


def _subset_spread(task: FluxTask, model: torch.nn.Module, setup: Setup,
                   draws: int = 1000) -> dict[str, float]:
    """How much the reported error of the final model moves between sets of the
    val split's size: the 5th and 95th percentiles of its mean over random
    subsets of the training sequences (for the question's side remark)."""
    splits = task.splits()
    errors = sequence_errors(
        splits.train.targets,
        predict(model, helper_inputs(splits.train.inputs, setup.warmup_defect)),
        as_question=setup.metric_defect)
    rng = np.random.default_rng(0)
    size = len(splits.val)
    means = [errors[rng.choice(len(errors), size, replace=False)].mean() for _ in range(draws)]
    low, high = np.percentile(means, [5, 95])
    return {"size": size, "p5": float(low), "p95": float(high), "train": float(errors.mean())}


def flux_evidence(task: FluxTask, result: FitResult, setup: Setup) -> dict[str, Any]:
    """What a trial stores for ``setup``, read from a training run it shares."""
    splits = task.splits()

    def predict_fn(seeds: np.ndarray) -> np.ndarray:
        return predict(result.model, helper_inputs(seeds, setup.warmup_defect))

    val_pred = predict_fn(splits.val.inputs)
    val = task.score(splits.val, val_pred)
    test = task.score(splits.test, predict_fn(splits.test.inputs))
    reported = "mse_question" if setup.metric_defect else "mse"
    train_key, val_key = (("cold_train_", "cold_val_") if setup.warmup_defect
                          else ("train_", ""))
    history = [{"epoch": h["epoch"], "train_loss": h["train_loss"],
                "train_error": h[train_key + reported], "val_error": h[val_key + reported],
                "val_mse": h[val_key + "mse"], "val_drift_ratio": h[val_key + "drift_ratio"]}
               for h in result.history]
    return {**{f"val_{k}": v for k, v in val.items()},
            **{f"test_{k}": v for k, v in test.items()},
            "val_error_reported": val[reported],
            **task.diagnostics(splits.val, predict_fn),
            "history": history, "samples": _samples(splits.val, val_pred),
            "train_subsets_error": _subset_spread(task, result.model, setup),
            "epochs": result.epochs_run, "train_seconds": round(result.seconds, 3)}


#: the numbers each seed of a configuration stores (``per_seed`` user attr, one list
#: per key); ``<split>_`` is ``val_`` (for choosing) or ``test_`` (for judging)
SEED_KEYS = ("mse", "nmse", "mse_question", "error_reported", "drift_ratio", "seed4_slope",
             "seed4_slope_true", "bias")


def _sig(x: float) -> float:
    return float(f"{x:.5g}")


def split_numbers(split: Split, predictions: np.ndarray, metric_defect: bool
                  ) -> dict[str, float]:
    """One model's numbers on one split: MSE (as it should be and as the question
    computed it), normalized MSE, drift ratio, seed-4 slope (and the truth's), and
    the mean bias of the continuation in units of the targets' standard deviation
    (the normalized MSE's own scale)."""
    seeds, y = split.inputs.astype(np.float64), split.targets.astype(np.float64)
    p = predictions.astype(np.float64)
    scale = float(np.sqrt(np.mean(np.var(y, axis=0))))
    mse = float(np.mean((p - y) ** 2))
    question = question_mse(y, p)
    return {"mse": mse, "nmse": mse / scale ** 2, "mse_question": question,
            "error_reported": question if metric_defect else mse,
            "drift_ratio": float(np.mean(drift_ratio_per_step(seeds, y, p))),
            "seed4_slope": drift_slope(seeds, p), "seed4_slope_true": drift_slope(seeds, y),
            "bias": float(np.mean(p - y)) / scale}


def seed_numbers(model: torch.nn.Module, val: Split, test: Split, warmup_defect: bool,
                 metric_defect: bool) -> dict[str, float]:
    """The compact numbers one seed of a configuration stores, on val and test."""
    out = {}
    for name, split in (("val", val), ("test", test)):
        pred = predict(model, helper_inputs(split.inputs, warmup_defect))
        out.update({f"{name}_{k}": _sig(v)
                    for k, v in split_numbers(split, pred, metric_defect).items()})
    return out


def history_facts(result: FitResult, setup: Setup) -> dict[str, int]:
    """For the question's side remarks, per seed: in how many epochs the reported
    val error was below the reported train error, and until which epoch the
    reported train error rose epoch after epoch (1: it did not)."""
    reported = "mse_question" if setup.metric_defect else "mse"
    train_key, val_key = (("cold_train_", "cold_val_") if setup.warmup_defect
                          else ("train_", ""))
    train = [h[train_key + reported] for h in result.history]
    val = [h[val_key + reported] for h in result.history]
    peak = 0
    while peak + 1 < len(train) and train[peak + 1] > train[peak]:
        peak += 1
    below = sum(v < t for v, t in zip(val, train, strict=True))
    return {"epochs": len(train), "val_below_train": below, "rose_until": peak + 1}


def tuned_evidence(task: FluxTask, outcome: TrialOutcome) -> dict[str, Any]:
    """What the tuned seeded model's trial stores, in the same keys."""
    splits = task.splits()
    val_pred = predict(outcome.fit.model, splits.val.inputs)
    history = [{"epoch": h["epoch"], "train_loss": h["train_loss"], "val_error": h["mse"],
                "val_mse": h["mse"], "val_drift_ratio": h["drift_ratio"]}
               for h in outcome.fit.history]
    return {**outcome.user_attrs(), "val_error_reported": outcome.val["mse"],
            "history": history, "samples": _samples(splits.val, val_pred)}
