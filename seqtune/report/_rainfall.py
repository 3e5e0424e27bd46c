"""The rainfall page: the test block, actual against the best model, AutoReg(12)
and seasonal naive; predicted against actual."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from seqtune.baselines._rainfall import AUTOREG_LAGS, SEASON, AutoRegForecaster, LaggedValue
from seqtune.baselines._rainfall import history as lagged_history
from seqtune.report._figures import Panel, text
from seqtune.study import Checkpoint
from seqtune.tasks.rainfall import RainfallTask
from seqtune.trainer import predict


def rainfall_forecasts(task: RainfallTask, checkpoint: Checkpoint | None
                       ) -> dict[str, np.ndarray]:
    """One-step-ahead forecasts of the test block, in the series' units: the
    best model (if any), AutoReg(12) and seasonal naive fitted on everything
    before the test block (as the baselines' test numbers are)."""
    start, _ = task.split_bounds()["test"]
    out: dict[str, np.ndarray] = {}
    if checkpoint is not None:
        test = task.splits(window=checkpoint.context["window"]).test
        out["best model"] = task.unscale(test, predict(checkpoint.model,
                                                       test.inputs).reshape(-1))
    test = task.splits(**task.default_data_params()).test
    for name, model in ((f"AutoReg({AUTOREG_LAGS})", AutoRegForecaster()),
                        ("seasonal naive", LaggedValue(SEASON))):
        fitted = model.fit(task.series[:start])
        out[name] = fitted.predict(lagged_history(task, test, fitted.n_lags_))
    return out


def rainfall_panels(task: RainfallTask, checkpoint: Checkpoint | None) -> list[Panel]:
    forecasts = rainfall_forecasts(task, checkpoint)
    (val_start, _), (start, stop) = task.split_bounds()["val"], task.split_bounds()["test"]
    months = np.arange(val_start, stop)
    actual = task.series[start:stop]
    name = text(task.target if task.csv else "elnino")
    fig = go.Figure()
    fig.add_scatter(x=months, y=task.series[val_start:stop], mode="lines",
                    name=f"actual {name}", line={"color": "#222"})
    for label, values in forecasts.items():
        fig.add_scatter(x=np.arange(start, stop), y=values, mode="lines", name=label,
                        line={"dash": "solid" if label == "best model" else "dash"})
    fig.add_vrect(x0=start - 0.5, x1=stop - 0.5, fillcolor="#888", opacity=0.08,
                  line_width=0, annotation_text="test block")
    fig.update_layout(xaxis_title="month index", yaxis_title=name)
    panels = [Panel("fig-task", "Forecast vs actual (test block)",
                    "One-step-ahead forecasts of the last "
                    f"{stop - start} points from the true history; the val block before it "
                    "is shown for context.", fig)]
    if "best model" in forecasts:
        scatter = go.Figure()
        for label, values in forecasts.items():
            scatter.add_scatter(x=actual, y=values, mode="markers", name=label)
        low, high = float(np.min(actual)), float(np.max(actual))
        scatter.add_scatter(x=[low, high], y=[low, high], mode="lines", name="perfect",
                            line={"color": "#aaa", "dash": "dot"})
        scatter.update_layout(xaxis_title=f"actual {name}", yaxis_title="forecast")
        panels.append(Panel("fig-predicted", "Predicted vs true (best model, test)",
                            "Each test month's forecast against the actual value; the "
                            "dotted line is a perfect forecast.", scatter))
    return panels


