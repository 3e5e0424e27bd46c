"""Baselines of the ``forecast`` task (and of its preset ``rainfall``): one-step-ahead
forecasts of val and test.

Every row follows one protocol. The val number is fitted on train only, the
test number on train+val; each fitted model then forecasts its block one
step ahead, every target from the true values before it, with the fitted
parameters kept (no refit) -- the post's walk-forward. Parameter-free rows
(persistence, seasonal naive) fit nothing. Nothing is ever fitted on test.

History models (AutoReg, persistence, seasonal naive, seasonal mean, ETS,
SARIMA) follow the statsmodels convention rather than scikit-learn's:
``fit(series)`` on the values before the block, then ``forecast(series,
index)`` for the targets ``series[index]``, reading only ``series[:t]`` for
target ``t``. They forecast in the series' own units and are scored by
:meth:`ForecastTask.score_values`. The state-space models (ETS, SARIMA)
carry their filter across the block with ``results.append(block)``, which
re-runs the filter with the fitted parameters and initial states; their
``extend`` is not used because statsmodels' state-space ExponentialSmoothing
re-imposes its estimated initial state on the extended data. The ridge reads
the same scaled windows as the RNN and is scored by :meth:`ForecastTask.score`.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.validation import check_is_fitted
from statsmodels.tsa.ar_model import AutoReg, ar_select_order

from seqtune.baselines._base import BaselineResult
from seqtune.tasks._base import Split, Splits
from seqtune.tasks.forecast._task import ForecastTask

#: the post's season (monthly data), the estimators' default; the task's rows
#: follow ``task.season_length`` (12 for monthly data, 4 quarterly, ...)
SEASON = 12
#: the post's AutoReg order: one season of monthly data (the rows use the task's season)
AUTOREG_LAGS = SEASON
#: the largest lag order the information criterion may choose: two seasons
MAX_IC_LAG = 2 * SEASON
#: AutoReg needs a few observations per parameter
MIN_POINTS_PER_LAG = 4
#: ETS and SARIMA are fitted only on series of at least this many seasons
MIN_SEASONS = 4
#: the SARIMA order search: (p, q) x (P, Q), with d = 0 and D = 1
SARIMA_ARMA = ((1, 0), (0, 1), (1, 1), (2, 0))
SARIMA_SEASONAL = ((0, 1), (1, 1))


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

    def forecast(self, series: np.ndarray, index: np.ndarray) -> np.ndarray:
        return self.predict(lagged(series, index, self.n_lags_))


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

    def forecast(self, series: np.ndarray, index: np.ndarray) -> np.ndarray:
        return self.predict(lagged(series, index, self.n_lags_))


class SeasonalMean(RegressorMixin, BaseEstimator):
    """Climatology: the mean of the fitted series at each position of the season
    (position ``t % season``: the calendar month of monthly data starting in January)."""

    def __init__(self, season: int = SEASON) -> None:
        self.season = season

    def fit(self, series: np.ndarray) -> SeasonalMean:
        series = np.asarray(series, dtype=np.float64)
        position = np.arange(len(series)) % self.season
        self.means_ = np.array([series[position == k].mean() for k in range(self.season)])
        return self

    def forecast(self, series: np.ndarray, index: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.means_[np.asarray(index) % self.season]


class NoFit(ValueError):
    """No candidate model could be fitted (e.g. a constant series)."""


class _StateSpaceForecaster(RegressorMixin, BaseEstimator):
    """A statsmodels state-space model chosen by AIC among ``_candidates``; the
    block after the fitted series is filtered with the fitted parameters
    (``results.append``, no refit) and forecast one step ahead."""

    season: int

    def _candidates(self, series: np.ndarray) -> list[tuple[Any, Any]]:
        """(label, unfitted statsmodels model) pairs."""
        raise NotImplementedError

    def _modelled(self, series: np.ndarray) -> np.ndarray:
        """What the candidates model; a constant one has no likelihood to maximize."""
        return series

    def fit(self, series: np.ndarray) -> _StateSpaceForecaster:
        series = np.asarray(series, dtype=np.float64)
        if np.ptp(self._modelled(series)) == 0:
            raise NoFit(f"{type(self).__name__}: the modelled series is constant")
        best = None
        with warnings.catch_warnings():  # convergence chatter of the small searches
            warnings.simplefilter("ignore")
            for label, model in self._candidates(series):
                try:
                    result = model.fit(disp=False)
                except (ValueError, np.linalg.LinAlgError):
                    continue
                if np.isfinite(result.aic) and (best is None or result.aic < best[1].aic):
                    best = (label, result)
        if best is None:
            raise NoFit(f"{type(self).__name__}: no candidate has a finite AIC")
        self.choice_, self._result = best
        self.params_ = np.asarray(best[1].params, dtype=np.float64)
        self.aic_ = float(best[1].aic)
        self.n_fit_ = len(series)
        return self

    def _one_step(self, series: np.ndarray, index: np.ndarray) -> tuple[Any, int]:
        """The fitted results with ``series[n_fit_:stop]`` appended (parameters kept),
        and ``stop``, one past the last target of ``index``."""
        check_is_fitted(self)
        index = np.asarray(index)
        stop = int(index[-1]) + 1
        if not np.array_equal(index, np.arange(self.n_fit_, stop)):
            raise ValueError("the block must follow the fitted series directly")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            appended = self._result.append(np.asarray(series[self.n_fit_:stop], np.float64))
            return appended, stop


class HoltWinters(_StateSpaceForecaster):
    """ETS / Holt-Winters: statsmodels' state-space ``ExponentialSmoothing`` with
    an additive seasonal component, and no trend or an additive damped trend
    (chosen by AIC); initial states estimated by maximum likelihood."""

    def __init__(self, season: int = SEASON) -> None:
        self.season = season

    def _candidates(self, series: np.ndarray) -> list[tuple[Any, Any]]:
        from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

        return [(label, ExponentialSmoothing(series, trend=trend, damped_trend=trend,
                                             seasonal=self.season,
                                             initialization_method="estimated"))
                for label, trend in (("no trend", False), ("damped additive trend", True))]

    def forecast(self, series: np.ndarray, index: np.ndarray) -> np.ndarray:
        appended, stop = self._one_step(series, index)
        return np.asarray(appended.predict(start=self.n_fit_, end=stop - 1), np.float64)


class SeasonalARIMA(_StateSpaceForecaster):
    """SARIMA(p,0,q)(P,1,Q)_season without a constant, the order chosen by AIC
    among :data:`SARIMA_ARMA` x :data:`SARIMA_SEASONAL`.

    It is fitted on the seasonal differences ``y[t] - y[t - season]``
    (statsmodels' ``simple_differencing``, several times faster than the
    full state), so a forecast is the predicted difference plus the true
    value one season back.
    """

    def __init__(self, season: int = SEASON) -> None:
        self.season = season

    def _modelled(self, series: np.ndarray) -> np.ndarray:
        return series[self.season:] - series[: -self.season]

    def _candidates(self, series: np.ndarray) -> list[tuple[Any, Any]]:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        return [(f"({p},0,{q})({sp},1,{sq})_{self.season}",
                 SARIMAX(series, order=(p, 0, q), seasonal_order=(sp, 1, sq, self.season),
                         trend="n", simple_differencing=True, concentrate_scale=True))
                for (p, q), (sp, sq) in itertools.product(SARIMA_ARMA, SARIMA_SEASONAL)]

    def forecast(self, series: np.ndarray, index: np.ndarray) -> np.ndarray:
        appended, stop = self._one_step(series, index)
        # with simple differencing the model's time t is the series' time t + season
        differences = appended.predict(start=self.n_fit_ - self.season,
                                       end=stop - 1 - self.season)
        return np.asarray(differences, np.float64) + series[np.asarray(index) - self.season]


def _flatten(windows: np.ndarray) -> np.ndarray:
    return windows.reshape(len(windows), -1)


def window_ridge(alpha: float = 1.0) -> Pipeline:
    """Ridge regression on the flattened input window (all features, scaled)."""
    return make_pipeline(FunctionTransformer(_flatten), Ridge(alpha=alpha))


def lagged(series: np.ndarray, index: np.ndarray, n_lags: int) -> np.ndarray:
    """Per target ``series[t]``, the ``n_lags`` values before it, oldest first."""
    return np.asarray(series)[np.asarray(index)[:, None] + np.arange(-n_lags, 0)]


def history(task: ForecastTask, split: Split, n_lags: int) -> np.ndarray:
    """Per target of ``split``, the ``n_lags`` true values before it, oldest first."""
    return lagged(task.series, split.meta["index"], n_lags)


def _walk_forward(task: ForecastTask, splits: Splits, name: str, description: str,
                  estimator: BaseEstimator, fits: bool, note: str = "") -> BaselineResult:
    """Fit on everything before each block (train for val, train+val for test),
    then forecast the block one step ahead from the true history, no refit.

    The forecasts read the series only up to the end of the block: the val
    numbers never see a test value, even as history.
    """
    bounds, fitted, scores, forecasts = task.split_bounds(), {}, {}, {}
    for part in ("val", "test"):
        model = clone(estimator).fit(task.series[: bounds[part][0]])
        index = splits[part].meta["index"]
        forecast = model.forecast(task.series[: bounds[part][1]], index)
        fitted[part], forecasts[part] = model, forecast
        scores[part] = task.score_values(splits[part], forecast)
    fit_data = {"val": "train", "test": "train+val"} if fits else \
        {"val": "nothing", "test": "nothing"}
    return BaselineResult(name, description, scores["val"], scores["test"], fit_data,
                          note or _protocol(task, fits), fitted, forecasts)


def _protocol(task: ForecastTask, fits: bool) -> str:
    """The one test protocol, in words, with this data's sizes."""
    if not fits:
        return "nothing fitted; one step ahead from the true history across val and test"
    n_val_fit, n_test_fit = task.split_bounds()["val"][0], task.split_bounds()["test"][0]
    return (f"fitted on train ({n_val_fit} points) for the val number and on train+val "
            f"({n_test_fit} points) for the test number, then one step ahead from the true "
            "history, no refit")


def _lag_text(lags: np.ndarray) -> str:
    if len(lags) == 0:
        return "no lags (mean only)"
    if np.array_equal(lags, np.arange(1, len(lags) + 1)):
        return f"lags 1..{len(lags)}"
    return "lags " + ", ".join(map(str, lags))


def _ridge(task: ForecastTask, splits: Splits) -> BaselineResult:
    """Ridge on the RNN's windows: fitted on the train windows for val, on the
    train+val windows for test; a window is the true history before its target."""
    window, n_features = splits.train.inputs.shape[1:]
    fit_sets = {"val": (splits.train,), "test": (splits.train, splits.val)}
    fitted, scores, forecasts = {}, {}, {}
    for part, sets in fit_sets.items():
        model = window_ridge().fit(np.concatenate([s.inputs for s in sets]),
                                   np.concatenate([s.targets for s in sets]))
        predictions = np.asarray(model.predict(splits[part].inputs))
        fitted[part], forecasts[part] = model, task.unscale(splits[part], predictions)
        scores[part] = task.score(splits[part], predictions)
    return BaselineResult(
        f"ridge (window {window})",
        "scikit-learn Ridge(alpha=1) on the RNN's input windows (scaled on train)",
        scores["val"], scores["test"], {"val": "train", "test": "train+val"},
        f"linear regression of the next value on the last {window} steps x {n_features} "
        f"feature(s), shrunk towards zero; {_protocol(task, True)}", fitted, forecasts)


def forecast_baselines(task: ForecastTask, splits: Splits) -> list[BaselineResult]:
    """``splits`` are the task's splits at its default window (the ridge's input)."""
    season = task.season_length
    n_val_fit = task.split_bounds()["val"][0]
    protocol = _protocol(task, True)
    results = []
    if n_val_fit >= MIN_POINTS_PER_LAG * season:
        results.append(_walk_forward(
            task, splits, f"AutoReg({season})",
            f"statsmodels AutoReg(lags={season}) walk-forward",
            AutoRegForecaster(lags=season), fits=True,
            note=f"the post's procedure: {protocol}"))
    max_lag = 2 * season
    chosen = _walk_forward(task, splits, "AutoReg(BIC)",
                           f"statsmodels AutoReg, order chosen by BIC among 0..{max_lag}",
                           AutoRegForecaster(lags=None, maxlag=max_lag), fits=True)
    chosen.note = (f"{_lag_text(chosen.fitted['val'].lags_)} chosen before val, "
                   f"{_lag_text(chosen.fitted['test'].lags_)} before test; {protocol}")
    results.append(chosen)
    results.append(_walk_forward(task, splits, "persistence", "the last observed value",
                                 LaggedValue(1), fits=False))
    results.append(_walk_forward(task, splits, "seasonal naive",
                                 f"the value {season} steps (one season) earlier",
                                 LaggedValue(season), fits=False))
    results.append(_walk_forward(
        task, splits, "seasonal mean",
        f"the fitting data's mean at the same position of the {season}-step season",
        SeasonalMean(season), fits=True,
        note=(f"climatology: the forecast for a {'month' if season == 12 else 'step'} is "
              "the average of that calendar "
              f"position (t mod {season}) over the fitting data, whatever happened "
              f"recently; {protocol}")))
    if n_val_fit >= MIN_SEASONS * season:
        results += _state_space_rows(task, splits, season, protocol)
    results.append(_ridge(task, splits))
    return results


def _state_space_rows(task: ForecastTask, splits: Splits, season: int,
                      protocol: str) -> list[BaselineResult]:
    """ETS and SARIMA, each left out where none of its candidates fits the data."""
    rows = []
    try:
        ets = _walk_forward(task, splits, "ETS (Holt-Winters)",
                            "statsmodels ExponentialSmoothing, additive seasonality, "
                            "no or damped trend by AIC", HoltWinters(season), fits=True)
        ets.note = (f"exponential smoothing: a level and {season} seasonal offsets, each "
                    "nudged towards every new observation; "
                    f"{ets.fitted['val'].choice_} chosen by AIC before val, "
                    f"{ets.fitted['test'].choice_} before test; {protocol}")
        rows.append(ets)
    except NoFit:
        pass
    try:
        sarima = _walk_forward(task, splits, "SARIMA",
                               "statsmodels SARIMAX on the seasonal differences, order by AIC",
                               SeasonalARIMA(season), fits=True)
        sarima.note = (f"seasonal ARIMA: the change from one season earlier, modelled from "
                       "recent changes and forecast errors; "
                       f"{sarima.fitted['val'].choice_} chosen by AIC among "
                       f"{len(SARIMA_ARMA) * len(SARIMA_SEASONAL)} orders before val, "
                       f"{sarima.fitted['test'].choice_} before test; {protocol}")
        rows.append(sarima)
    except NoFit:
        pass
    return rows
