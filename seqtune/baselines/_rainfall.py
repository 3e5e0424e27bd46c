"""Baselines of the ``rainfall`` task: one-step-ahead forecasts of val and test.

History models (AutoReg, persistence, seasonal naive) follow the statsmodels
convention rather than scikit-learn's: ``fit(series)`` on the values before
a cut-off, then ``predict(history)`` with, per target, the true values before
it (oldest first) -- the post's refit-free walk-forward. They forecast in
the series' own units and are scored by :meth:`RainfallTask.score_values`.
The ridge reads the same scaled windows as the RNN and is scored by
:meth:`RainfallTask.score`. Nothing is ever fitted on the test block.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.validation import check_is_fitted
from statsmodels.tsa.ar_model import AutoReg, ar_select_order

from seqtune.baselines._base import BaselineResult, score_on
from seqtune.tasks import Split, Splits
from seqtune.tasks.rainfall import RainfallTask

SEASON = 12
AUTOREG_LAGS = 12
#: the largest lag order the information criterion may choose (two seasons)
MAX_IC_LAG = 24
#: AutoReg needs a few observations per parameter
MIN_POINTS_PER_LAG = 4


class AutoRegForecaster(RegressorMixin, BaseEstimator):
    """statsmodels ``AutoReg`` with a constant, fitted once; forecasts one step
    ahead from the true history with the fitted parameters (no refit).

    ``lags=None`` chooses the order with ``ar_select_order`` by ``ic`` among
    0..``maxlag`` (bounded by a quarter of the fitted series).
    """

    def __init__(self, lags: int | None = AUTOREG_LAGS, ic: str = "bic",
                 maxlag: int = MAX_IC_LAG) -> None:
        self.lags, self.ic, self.maxlag = lags, ic, maxlag

    def fit(self, series: np.ndarray) -> AutoRegForecaster:
        series = np.asarray(series, dtype=np.float64)
        lags = self.lags
        if lags is None:
            chosen = ar_select_order(series, maxlag=min(self.maxlag, len(series) // 4),
                                     ic=self.ic, trend="c").ar_lags
            lags = list(chosen) if chosen else 0
        result = AutoReg(series, lags=lags, trend="c").fit()
        self.lags_ = np.asarray(result.model.ar_lags or [], dtype=int)
        self.params_ = np.asarray(result.params, dtype=np.float64)
        self.n_lags_ = int(self.lags_.max(initial=0))
        return self

    def predict(self, history: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        history = np.asarray(history, dtype=np.float64)
        return self.params_[0] + history[:, history.shape[1] - self.lags_] @ self.params_[1:]


class LaggedValue(RegressorMixin, BaseEstimator):
    """Forecast the value ``lag`` steps back (1: persistence, 12: seasonal naive)."""

    def __init__(self, lag: int = 1) -> None:
        self.lag = lag

    def fit(self, series: np.ndarray) -> LaggedValue:
        self.n_lags_ = self.lag
        return self

    def predict(self, history: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return np.asarray(history, dtype=np.float64)[:, -self.lag]


def _flatten(windows: np.ndarray) -> np.ndarray:
    return windows.reshape(len(windows), -1)


def window_ridge(alpha: float = 1.0) -> Pipeline:
    """Ridge regression on the flattened input window (all features, scaled)."""
    return make_pipeline(FunctionTransformer(_flatten), Ridge(alpha=alpha))


def history(task: RainfallTask, split: Split, n_lags: int) -> np.ndarray:
    """Per target of ``split``, the ``n_lags`` true values before it, oldest first."""
    index = split.meta["index"]
    return task.series[index[:, None] + np.arange(-n_lags, 0)]


def _walk_forward(task: RainfallTask, splits: Splits, name: str, description: str,
                  estimator: BaseEstimator, fits: bool, note: str = "") -> BaselineResult:
    """Fit on everything before each block (val, then test), forecast the block."""
    bounds, fitted, scores = task.split_bounds(), {}, {}
    for part in ("val", "test"):
        model = clone(estimator).fit(task.series[: bounds[part][0]])
        forecast = model.predict(history(task, splits[part], model.n_lags_))
        fitted[part], scores[part] = model, task.score_values(splits[part], forecast)
    fit_data = {"val": "train", "test": "train+val"} if fits else \
        {"val": "nothing", "test": "nothing"}
    return BaselineResult(name, description, scores["val"], scores["test"], fit_data, note,
                          fitted)


def _lag_text(lags: np.ndarray) -> str:
    if len(lags) == 0:
        return "no lags (mean only)"
    if np.array_equal(lags, np.arange(1, len(lags) + 1)):
        return f"lags 1..{len(lags)}"
    return "lags " + ", ".join(map(str, lags))


def rainfall_baselines(task: RainfallTask, splits: Splits) -> list[BaselineResult]:
    """``splits`` are the task's splits at its default window (the ridge's input)."""
    n_val_fit, n_test_fit = task.split_bounds()["val"][0], task.split_bounds()["test"][0]
    refit_free = (f"fitted on the {n_val_fit} points before val for the val number and on "
                  f"the {n_test_fit} points before test for the test number (the post's "
                  "procedure), then one step ahead from the true history, no refit")
    results = []
    if n_val_fit >= MIN_POINTS_PER_LAG * AUTOREG_LAGS:
        results.append(_walk_forward(
            task, splits, f"AutoReg({AUTOREG_LAGS})",
            f"statsmodels AutoReg(lags={AUTOREG_LAGS}) walk-forward", AutoRegForecaster(),
            fits=True, note=refit_free))
    chosen = _walk_forward(task, splits, "AutoReg(BIC)",
                           f"statsmodels AutoReg, order chosen by BIC among 0..{MAX_IC_LAG}",
                           AutoRegForecaster(lags=None), fits=True)
    chosen.note = (f"{_lag_text(chosen.fitted['val'].lags_)} chosen before val, "
                   f"{_lag_text(chosen.fitted['test'].lags_)} before test; {refit_free}")
    results.append(chosen)
    results.append(_walk_forward(task, splits, "persistence", "the last observed value",
                                 LaggedValue(1), fits=False))
    results.append(_walk_forward(task, splits, "seasonal naive",
                                 f"the value {SEASON} months earlier", LaggedValue(SEASON),
                                 fits=False))
    window, n_features = splits.train.inputs.shape[1:]
    ridge = window_ridge().fit(splits.train.inputs, splits.train.targets)
    results.append(BaselineResult(
        f"ridge (window {window})",
        "scikit-learn Ridge(alpha=1) on the RNN's input windows (scaled on train)",
        score_on(task, ridge, splits.val), score_on(task, ridge, splits.test),
        {"val": "train", "test": "train"},
        f"{window} steps x {n_features} feature(s), fitted on the training windows only",
        {"val": ridge, "test": ridge}))
    return results
