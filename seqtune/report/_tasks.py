"""Each task's own figures and the best model's predicted-vs-true plots.

- seeded: drift ratio and seed attribution per architecture; the best model's
  free-running continuations of test sequences next to the truth;
- rainfall: the test block, actual against the best model, AutoReg(12) and
  seasonal naive; predicted against actual;
- digitsum: the memory curve (best tuned test accuracy vs L per architecture,
  with the logistic and majority baselines); predicted against true sums.

The best model is the study's stored checkpoint; it only predicts here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optuna
import plotly.graph_objects as go

from seqtune.baselines._rainfall import AUTOREG_LAGS, SEASON, AutoRegForecaster, LaggedValue
from seqtune.baselines._rainfall import history as lagged_history
from seqtune.report._figures import COLORS, Panel, text
from seqtune.study import Checkpoint, Leaderboard, best_per_architecture
from seqtune.study._leaderboard import BASELINE, TUNED
from seqtune.tasks import Task
from seqtune.tasks.digitsum import N_CLASSES, DigitSumTask
from seqtune.tasks.rainfall import RainfallTask
from seqtune.tasks.seeded import SeededTask
from seqtune.trainer import predict

N_EXAMPLES = 4


@dataclass(frozen=True)
class StudyView:
    """What a study page is drawn from."""

    study: optuna.Study
    board: Leaderboard
    task: Task | None
    checkpoint: Checkpoint | None
    #: why there is no task or checkpoint (shown on the page), else ""
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class CurvePoint:
    """One digitsum study on the memory curve: test accuracy at length L."""

    length: int
    study: str
    tuned: dict[str, float]
    baselines: dict[str, float]


def memory_curve(views: list[StudyView], like: DigitSumTask) -> list[CurvePoint]:
    """The digitsum studies of ``like``'s mode and seed, by length."""
    points = []
    for v in views:
        task = v.task
        if not (isinstance(task, DigitSumTask) and task.mode == like.mode
                and task.seed == like.seed):
            continue
        tuned = {r["name"]: r["test"].get("accuracy") for r in v.board.rows
                 if r["kind"] == TUNED and r["test"].get("accuracy") is not None}
        base = {r["name"]: r["test"].get("accuracy") for r in v.board.rows
                if r["kind"] == BASELINE and r["test"].get("accuracy") is not None}
        points.append(CurvePoint(task.length, v.study.study_name, tuned, base))
    return sorted(points, key=lambda p: p.length)


def _memory_panel(points: list[CurvePoint], here: int) -> Panel:
    fig = go.Figure()
    for arch in sorted({a for p in points for a in p.tuned}):
        xs = [p for p in points if arch in p.tuned]
        fig.add_scatter(x=[p.length for p in xs], y=[p.tuned[arch] for p in xs],
                        mode="lines+markers", name=f"tuned {text(arch)}")
    for name in sorted({b for p in points for b in p.baselines}):
        xs = [p for p in points if name in p.baselines]
        fig.add_scatter(x=[p.length for p in xs], y=[p.baselines[name] for p in xs],
                        mode="lines+markers", name=text(name),
                        line={"dash": "dash", "color": "#555"})
    fig.add_vline(x=here, line={"color": "#aaa", "dash": "dot"},
                  annotation_text=f"this study (L={here})")
    fig.update_layout(xaxis_title="sequence length L", yaxis_title="test accuracy",
                      yaxis_range=[0, 1.05])
    return Panel("fig-task", "Memory curve",
                 "Test accuracy of the best trial (picked on dev) per architecture against "
                 "the sequence length, one point per digitsum study of this mode; dashed: "
                 "the baselines at the same lengths.", fig)


def _confusion_panel(task: DigitSumTask, checkpoint: Checkpoint) -> Panel:
    test = task.splits().test
    labels = predict(checkpoint.model, test.inputs).argmax(axis=1)
    counts = np.zeros((N_CLASSES, N_CLASSES), dtype=int)
    np.add.at(counts, (labels, test.targets), 1)
    fig = go.Figure(go.Heatmap(z=counts, x=list(range(N_CLASSES)), y=list(range(N_CLASSES)),
                               colorscale="Blues", colorbar={"title": "rows"}))
    fig.update_layout(xaxis_title="true sum", yaxis_title="predicted sum")
    return Panel("fig-predicted", "Predicted vs true (best model, test)",
                 f"Counts of predicted against true sums for the {len(test)} test rows; "
                 "a perfect model fills only the diagonal.", fig)


def _seeded_panels(view: StudyView, task: SeededTask) -> list[Panel]:
    trials = {t.number: t for t in view.study.get_trials(deepcopy=False)}
    best = [(r["architecture"], trials[r["trial"]].user_attrs)
            for r in best_per_architecture(view.study)]
    best = [(arch, attrs) for arch, attrs in best if "drift_ratio_per_step" in attrs]
    if not best:
        return []
    drift, attribution = go.Figure(), go.Figure()
    for arch, attrs in best:
        steps = list(range(1, len(attrs["drift_ratio_per_step"]) + 1))
        drift.add_scatter(x=steps, y=attrs["drift_ratio_per_step"], mode="lines+markers",
                          name=text(arch))
        attribution.add_bar(x=[f"seed {j + 1}" for j in range(len(attrs["seed_attribution"]))],
                            y=attrs["seed_attribution"], name=text(arch))
    drift.add_hline(y=1.0, line={"dash": "dash", "color": "#555"},
                    annotation_text="true drift")
    drift.update_layout(xaxis_title="continuation step", yaxis_title="drift ratio",
                        xaxis_dtick=1)
    attribution.update_layout(xaxis_title="shuffled seed", barmode="group",
                              yaxis_title="increase of val MSE")
    return [Panel("fig-task", "Drift ratio per step",
                  "Std of the predicted change from the last seed over the std of the true "
                  "change, per step (val split, best trial per architecture); near 0 is a "
                  "flat continuation.", drift),
            Panel("fig-attribution", "Seed attribution",
                  "Increase of the val MSE when one seed is shuffled across examples; the "
                  f"{task.rule} rule depends on "
                  + ("seeds 4 and 5 only." if task.rule == "drift" else "the last two values.")
                  , attribution)]


def _continuation_panel(task: SeededTask, checkpoint: Checkpoint) -> Panel:
    test = task.splits().test
    pred = predict(checkpoint.model, test.inputs[:N_EXAMPLES])
    fig = go.Figure()
    seeds_x = list(range(1, task.n_seeds + 1))
    cont_x = list(range(task.n_seeds + 1, task.n_seeds + task.horizon + 1))
    for i in range(min(N_EXAMPLES, len(test))):
        line = {"color": COLORS[i % len(COLORS)]}
        fig.add_scatter(x=seeds_x + cont_x, y=[*test.inputs[i], *test.targets[i]],
                        mode="lines+markers", name=f"sequence {i + 1}: true", line=line,
                        legendgroup=str(i))
        fig.add_scatter(x=[task.n_seeds, *cont_x], y=[test.inputs[i, -1], *pred[i]],
                        mode="lines+markers", name=f"sequence {i + 1}: predicted",
                        line={**line, "dash": "dash"}, legendgroup=str(i))
    fig.add_vline(x=task.n_seeds + 0.5, line={"color": "#aaa", "dash": "dot"},
                  annotation_text="seeds | continuation")
    fig.update_layout(xaxis_title="position", yaxis_title="value", xaxis_dtick=1)
    return Panel("fig-predicted", "Predicted vs true (best model, test)",
                 f"The first {N_EXAMPLES} test sequences: the {task.n_seeds} seeds and the "
                 "true continuation (solid) against the model's free-running continuation "
                 "(dashed).", fig)


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


def _rainfall_panels(task: RainfallTask, checkpoint: Checkpoint | None) -> list[Panel]:
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


def task_panels(view: StudyView, views: list[StudyView]) -> list[Panel]:
    """The task's own figures for ``view``, then its best model's predictions."""
    task, checkpoint = view.task, view.checkpoint
    if isinstance(task, SeededTask):
        panels = _seeded_panels(view, task)
        return panels + ([_continuation_panel(task, checkpoint)] if checkpoint else [])
    if isinstance(task, RainfallTask):
        return _rainfall_panels(task, checkpoint)
    if isinstance(task, DigitSumTask):
        panels = [_memory_panel(memory_curve(views, task), task.length)]
        return panels + ([_confusion_panel(task, checkpoint)] if checkpoint else [])
    return []
