"""The digitsum page: the memory curve (best tuned test accuracy against L per
architecture, with the logistic and majority baselines) and the best model's
predicted-vs-true sums."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from seqtune.report._figures import Panel, text
from seqtune.report._view import StudyView
from seqtune.study import Checkpoint
from seqtune.study._leaderboard import BASELINE, TUNED
from seqtune.tasks.digitsum import N_CLASSES, DigitSumTask
from seqtune.trainer import predict


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


def digitsum_panels(view: StudyView, views: list[StudyView]) -> list[Panel]:
    task = view.task
    assert isinstance(task, DigitSumTask)
    panels = [_memory_panel(memory_curve(views, task), task.length)]
    return panels + ([_confusion_panel(task, view.checkpoint)] if view.checkpoint else [])
