"""The forecast page (and rainfall's): the test block, actual against the best
model, AutoReg(season) and seasonal naive; predicted against actual. The x axis
holds the dates of the task's time column where it has one, else the time index."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from seqtune.report._figures import Panel, series_color, text
from seqtune.study import Checkpoint
from seqtune.tasks.forecast._baselines import AutoRegForecaster, LaggedValue
from seqtune.tasks.forecast._baselines import history as lagged_history
from seqtune.tasks.forecast._data import step_words
from seqtune.tasks.forecast._task import ForecastTask
from seqtune.trainer import predict


def forecast_lines(task: ForecastTask, checkpoint: Checkpoint | None
                   ) -> dict[str, np.ndarray]:
    """One-step-ahead forecasts of the test block, in the series' units: the
    best model (if any), AutoReg(season) and seasonal naive fitted on everything
    before the test block (as the baselines' test numbers are)."""
    start, _ = task.split_bounds()["test"]
    season = task.season_length
    out: dict[str, np.ndarray] = {}
    if checkpoint is not None:
        test = task.splits(window=checkpoint.context["window"]).test
        out["best model"] = task.unscale(test, predict(checkpoint.model,
                                                       test.inputs).reshape(-1))
    test = task.splits(**task.default_data_params()).test
    for name, model in ((f"AutoReg({season})", AutoRegForecaster(lags=season)),
                        ("seasonal naive", LaggedValue(season))):
        fitted = model.fit(task.series[:start])
        out[name] = fitted.predict(lagged_history(task, test, fitted.n_lags_))
    return out


def time_axis(task: ForecastTask, start: int, stop: int) -> tuple[Any, str]:
    """The x values of rows ``start:stop`` and the axis title: the dates of the
    task's time column, or the row index of a series without one."""
    if task.dates is None:
        return np.arange(start, stop), task.index_label
    return task.dates[start:stop].to_pydatetime(), task.time or "date"


def _edge(task: ForecastTask, i: float) -> Any:
    """The x position half-way between rows ``i - 0.5`` and ``i + 0.5``."""
    if task.dates is None:
        return i
    low, high = int(np.floor(i)), int(np.ceil(i))
    dates = task.dates
    if high >= len(dates):  # past the last row: half a step on
        return (dates[-1] + (dates[-1] - dates[-2]) / 2).to_pydatetime()
    return (dates[low] + (dates[high] - dates[low]) / 2).to_pydatetime()


def forecast_panels(task: ForecastTask, checkpoint: Checkpoint | None) -> list[Panel]:
    forecasts = forecast_lines(task, checkpoint)
    (val_start, _), (start, stop) = task.split_bounds()["val"], task.split_bounds()["test"]
    context, x_title = time_axis(task, val_start, stop)
    test_x, _ = time_axis(task, start, stop)
    actual = task.series[start:stop]
    name = text(task.series_label)
    fig = go.Figure()
    fig.add_scatter(x=context, y=task.series[val_start:stop], mode="lines",
                    name=f"actual {name}", line={"color": series_color("actual")})
    for label, values in forecasts.items():
        fig.add_scatter(x=test_x, y=values, mode="lines", name=text(label),
                        line={"dash": "solid" if label == "best model" else "dash",
                              "color": series_color(label)})
    fig.add_vrect(x0=_edge(task, start - 0.5), x1=_edge(task, stop - 0.5), fillcolor="#888",
                  opacity=0.08, line_width=0, annotation_text="test block")
    fig.update_layout(xaxis_title=text(x_title), yaxis_title=name)
    step = "" if task.frequency is None else f" (one row every {step_words(task.frequency)})"
    panels = [Panel("fig-task", "Forecast vs actual (test block)",
                    f"Series: {task.series_words}{step}. One-step-ahead forecasts of the "
                    f"last {stop - start} points from the true history; the val block before "
                    "it is shown for context.", fig)]
    if "best model" in forecasts:
        scatter = go.Figure()
        for label, values in forecasts.items():
            scatter.add_scatter(x=actual, y=values, mode="markers", name=text(label),
                                marker={"color": series_color(label)})
        low, high = float(np.min(actual)), float(np.max(actual))
        scatter.add_scatter(x=[low, high], y=[low, high], mode="lines", name="perfect",
                            line={"color": series_color("perfect"), "dash": "dot"})
        scatter.update_layout(xaxis_title=f"actual {name}", yaxis_title="forecast")
        panels.append(Panel("fig-predicted", "Predicted vs true (best model, test)",
                            "Each test point's forecast against the actual value; the "
                            "dotted line is a perfect forecast.", scatter))
    return panels
