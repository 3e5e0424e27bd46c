"""The seeded task: its data (seeds and the rule's continuation) and scoring.

From a public Flux.jl question: ``n_seeds`` values uniform in [-1, 1], then a
continuation of ``horizon`` values fixed by a rule. The model reads the seeds
and generates the continuation free-running.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from seqtune.errors import SeqtuneError
from seqtune.tasks._base import Predictor, Split, Splits, Task

RULES = ("drift", "ar2")


def continue_sequence(seeds: np.ndarray, horizon: int, rule: str) -> np.ndarray:
    """The continuation (n, horizon) that ``rule`` fixes for each row of ``seeds``.

    - ``drift``: x[t] = x[t-1] + 0.5 * seeds[3] (only the 4th seed sets the slope)
    - ``ar2``:   x[t] = x[t-1] + 0.2 * x[t-2]
    """
    seq = np.concatenate([seeds, np.zeros((len(seeds), horizon))], axis=1)
    n_seeds = seeds.shape[1]
    for t in range(n_seeds, n_seeds + horizon):
        if rule == "drift":
            seq[:, t] = seq[:, t - 1] + 0.5 * seeds[:, 3]
        elif rule == "ar2":
            seq[:, t] = seq[:, t - 1] + 0.2 * seq[:, t - 2]
        else:
            raise SeqtuneError(f"task.rule: unknown rule {rule!r}; expected one of {RULES}")
    return seq[:, n_seeds:]


def normalized_mse(targets: np.ndarray, predictions: np.ndarray) -> float:
    """MSE / mean per-step variance of the targets (= 1 - variance-weighted R^2)."""
    return float(np.mean((predictions - targets) ** 2) / np.mean(np.var(targets, axis=0)))


def drift_ratio_per_step(seeds: np.ndarray, targets: np.ndarray,
                         predictions: np.ndarray) -> np.ndarray:
    """Std across examples of the predicted change from the last seed over the
    std of the true change, per step. Near 0 means a flat continuation."""
    last = seeds[:, -1:]
    return np.std(predictions - last, axis=0) / np.std(targets - last, axis=0)


def drift_slope(seeds: np.ndarray, values: np.ndarray) -> float:
    """Least-squares slope of the per-step drift (x[t] - last seed) / steps on seed 4."""
    steps = np.arange(1, values.shape[1] + 1)
    per_step = ((values - seeds[:, -1:]) / steps).ravel()
    s4 = np.repeat(seeds[:, 3], values.shape[1])
    return float(np.polyfit(s4, per_step, 1)[0])


class SeededTask(Task):
    name: ClassVar[str] = "seeded"
    metric: ClassVar[str] = "mse"
    direction: ClassVar[Literal["minimize", "maximize"]] = "minimize"
    model_kind = "generator"
    extra_parameters: ClassVar[dict[str, str | None]] = {"teacher_forcing": None,
                                                         "rollout": "horizon"}

    @classmethod
    def split_size(cls, settings: dict[str, Any]) -> tuple[int, int] | None:
        rows = max(settings.get(k, 1000) for k in ("n_train", "n_val", "n_test"))
        return rows, settings.get("n_seeds", 5) + settings.get("horizon", 5)

    def baselines(self, splits: Splits) -> list[Any]:
        from seqtune.tasks.seeded._baselines import seeded_baselines  # sklearn: slow
        return seeded_baselines(self, splits)

    def report_panels(self, view: Any, views: list[Any]) -> list[Any]:
        from seqtune.tasks.seeded._report import seeded_panels
        return seeded_panels(self, view)

    def report_verdict(self, view: Any, views: list[Any]) -> list[str]:
        from seqtune.tasks.seeded._report import seeded_verdict
        return seeded_verdict(view)

    @classmethod
    def check_checkpoint(cls, settings: dict[str, Any], context: dict[str, Any]) -> str | None:
        return None if isinstance(settings.get("n_seeds"), int) else "task.n_seeds missing"

    @classmethod
    def predict_input(cls, checkpoint: Any, rows: list[tuple[str, list[float]]],
                      options: dict[str, Any]) -> list[dict[str, Any]]:
        """The free-running continuation after each row of seeds."""
        from seqtune.tasks.seeded._predict import continue_seeds
        return continue_seeds(checkpoint, rows)

    def __init__(self, rule: str = "drift", n_seeds: int = 5, horizon: int = 5,
                 n_train: int = 1000, n_val: int = 100, n_test: int = 1000,
                 seed: int = 0) -> None:
        if rule not in RULES:
            raise SeqtuneError(f"task.rule: unknown rule {rule!r}; expected one of {RULES}")
        if n_seeds < 4:
            raise SeqtuneError(f"task.n_seeds: must be >= 4 (the rules read seed 4), got {n_seeds}")
        for key, value in (("horizon", horizon), ("n_train", n_train), ("n_val", n_val),
                           ("n_test", n_test)):
            if value < 1:
                raise SeqtuneError(f"task.{key}: must be a positive integer, got {value}")
        self.rule, self.n_seeds, self.horizon = rule, n_seeds, horizon
        self.n_train, self.n_val, self.n_test, self.seed = n_train, n_val, n_test, seed
        self._splits = self._make_splits()

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "rule": self.rule, "n_seeds": self.n_seeds,
                "horizon": self.horizon, "n_train": self.n_train, "n_val": self.n_val,
                "n_test": self.n_test, "seed": self.seed}

    def _make_splits(self) -> Splits:
        rng = np.random.default_rng(self.seed)
        parts = []
        for n in (self.n_train, self.n_val, self.n_test):
            seeds = rng.uniform(-1.0, 1.0, size=(n, self.n_seeds))
            cont = continue_sequence(seeds, self.horizon, self.rule)
            parts.append(Split(seeds.astype(np.float32), cont.astype(np.float32)))
        return Splits(*parts)

    def splits(self, **data_params: Any) -> Splits:
        return self._splits

    def model_spec(self) -> dict[str, Any]:
        return {"horizon": self.horizon}

    def score(self, split: Split, predictions: np.ndarray) -> dict[str, float]:
        y, p = split.targets.astype(np.float64), predictions.astype(np.float64)
        ratio = drift_ratio_per_step(split.inputs.astype(np.float64), y, p)
        return {"mse": float(np.mean((p - y) ** 2)), "nmse": normalized_mse(y, p),
                "drift_ratio": float(np.mean(ratio))}

    def metric_points(self, split: Split, predictions: np.ndarray) -> np.ndarray:
        """Each sequence's continuation MSE (their mean is the task's MSE)."""
        y, p = split.targets.astype(np.float64), predictions.astype(np.float64)
        return np.mean((p - y) ** 2, axis=1)

    def diagnostics(self, split: Split, predict: Predictor) -> dict[str, Any]:
        """Drift ratio per step, seed attribution and the seed-4 slope."""
        seeds, y = split.inputs, split.targets.astype(np.float64)
        pred = predict(seeds).astype(np.float64)
        base = float(np.mean((pred - y) ** 2))
        rng = np.random.default_rng(12345)
        attribution = []
        for j in range(self.n_seeds):
            shuffled = seeds.copy()
            shuffled[:, j] = shuffled[rng.permutation(len(seeds)), j]
            attribution.append(float(np.mean((predict(shuffled) - y) ** 2) - base))
        s64 = seeds.astype(np.float64)
        return {
            "drift_ratio_per_step": drift_ratio_per_step(s64, y, pred).round(6).tolist(),
            "seed_attribution": attribution,
            "seed4_slope": drift_slope(s64, pred),
            "seed4_slope_true": drift_slope(s64, y),
        }
