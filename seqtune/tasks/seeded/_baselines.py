"""Baselines of the ``seeded`` task: seeds (n, n_seeds) -> continuation (n, horizon).

Every estimator is fitted on ``splits.train`` only and scored on val and
test through :meth:`SeededTask.score`, like the trials.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression
from sklearn.utils.validation import check_is_fitted

from seqtune.baselines._base import BaselineResult, score_on
from seqtune.tasks._base import Splits
from seqtune.tasks.seeded._task import SeededTask

#: normalized MSE below this counts as an exact fit (float32 data rounds at ~1e-15)
EXACT_NMSE = 1e-9


class Persistence(RegressorMixin, BaseEstimator):
    """Repeat the last seed at every continuation step."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> Persistence:
        self.horizon_ = np.asarray(y).shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return np.repeat(np.asarray(X, dtype=np.float64)[:, -1:], self.horizon_, axis=1)


class PooledAR(RegressorMixin, BaseEstimator):
    """One linear AR(``order``) with intercept, fitted on every window of the
    training sequences (seeds then continuation), rolled forward free-running
    from the seeds: each prediction is fed back as the next input."""

    def __init__(self, order: int = 2) -> None:
        self.order = order

    def fit(self, X: np.ndarray, y: np.ndarray) -> PooledAR:
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if not 1 <= self.order <= X.shape[1]:
            raise ValueError(f"order must be within 1..{X.shape[1]} (the seeds), "
                             f"got {self.order}")
        windows = sliding_window_view(np.hstack([X, y]), self.order + 1, axis=1)
        windows = windows.reshape(-1, self.order + 1)
        self.linear_ = LinearRegression().fit(windows[:, :-1], windows[:, -1])
        self.horizon_ = y.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        history = np.asarray(X, dtype=np.float64)
        for _ in range(self.horizon_):
            step = self.linear_.predict(history[:, -self.order:])
            history = np.hstack([history, step[:, None]])
        return history[:, -self.horizon_:]


def _fit_and_score(task: SeededTask, splits: Splits, estimator: BaseEstimator
                   ) -> tuple[BaseEstimator, dict[str, float], dict[str, float]]:
    train = splits.train
    fitted = estimator.fit(train.inputs.astype(np.float64), train.targets.astype(np.float64))
    return fitted, score_on(task, fitted, splits.val), score_on(task, fitted, splits.test)


def _result(task: SeededTask, splits: Splits, name: str, description: str,
            estimator: BaseEstimator, note: str = "") -> BaselineResult:
    fitted, val, test = _fit_and_score(task, splits, estimator)
    return BaselineResult(name, description, val, test, {"val": "train", "test": "train"},
                          note, {"val": fitted, "test": fitted})


def _least_squares_note(rule: str, test: dict[str, float]) -> str:
    if test["nmse"] < EXACT_NMSE:
        return (f"exact (test MSE {test['mse']:.2g}): the {rule} continuation is a linear "
                "function of the seeds, so a linear map from seeds to continuation solves "
                "it; a recurrent model can at best tie")
    return (f"not exact (test normalized MSE {test['nmse']:.3g}): the {rule} continuation "
            "is not linear in the seeds")


def _pooled_ar(task: SeededTask, splits: Splits) -> BaselineResult:
    """Pooled AR with its order chosen on val among 1..n_seeds."""
    tried = {p: _fit_and_score(task, splits, PooledAR(order=p))
             for p in range(1, task.n_seeds + 1)}
    order = min(tried, key=lambda p: tried[p][1]["mse"])
    fitted, val, test = tried[order]
    val_mse = ", ".join(f"{p}: {scores[1]['mse']:.3g}" for p, scores in tried.items())
    note = f"order {order} chosen on val among 1..{task.n_seeds} (val MSE {val_mse})"
    result = BaselineResult(f"pooled AR({order})",
                            "one linear AR fitted on all windows of the training sequences, "
                            "rolled forward free-running from the seeds",
                            val, test, {"val": "train", "test": "train"}, note,
                            {"val": fitted, "test": fitted})
    # exact where the rule is a linear recursion (ar2): a yardstick, like least squares
    result.exact = test["nmse"] < EXACT_NMSE
    return result


def seeded_baselines(task: SeededTask, splits: Splits) -> list[BaselineResult]:
    mean = _result(task, splits, "per-step mean",
                   "the training mean of each continuation step, whatever the seeds "
                   "(what a collapsed model predicts)", DummyRegressor(strategy="mean"))
    mean.note = (f"test normalized MSE {mean.test['nmse']:.3f}: the score of a model that "
                 "ignores the seeds")
    persistence = _result(task, splits, "persistence", "repeat the last seed",
                          Persistence())
    least_squares = _result(task, splits, "least squares",
                            "linear regression from the seeds to the whole continuation",
                            LinearRegression())
    least_squares.note = _least_squares_note(task.rule, least_squares.test)
    least_squares.exact = least_squares.test["nmse"] < EXACT_NMSE
    return [mean, persistence, least_squares, _pooled_ar(task, splits)]
