"""The seeded page: drift ratio and seed attribution per architecture, the best
model's free-running continuations of test sequences next to the truth, and the
verdict's sentence on the best model's drift and seed attribution."""

from __future__ import annotations

import plotly.graph_objects as go

from seqtune.report._figures import OTHER_COLORS, Panel, series_color, text
from seqtune.report._view import StudyView
from seqtune.study import Checkpoint, best_per_architecture
from seqtune.tasks.seeded._task import SeededTask
from seqtune.trainer import predict

N_EXAMPLES = 4


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
        color = series_color(arch)  # the same in every figure of the page
        drift.add_scatter(x=steps, y=attrs["drift_ratio_per_step"], mode="lines+markers",
                          name=text(arch), legendgroup=arch,
                          line={"color": color}, marker={"color": color})
        attribution.add_bar(x=[f"seed {j + 1}" for j in range(len(attrs["seed_attribution"]))],
                            y=attrs["seed_attribution"], name=text(arch), legendgroup=arch,
                            marker={"color": color})
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
        line = {"color": OTHER_COLORS[i % len(OTHER_COLORS)]}  # never an architecture colour
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


def seeded_panels(task: SeededTask, view: StudyView) -> list[Panel]:
    panels = _seeded_panels(view, task)
    return panels + ([_continuation_panel(task, view.checkpoint)] if view.checkpoint else [])


def seeded_verdict(view: StudyView) -> list[str]:
    """The best model's drift ratio, seed-4 slope and most important seed."""
    rows = best_per_architecture(view.study)
    if not rows:
        return []
    trial = view.study.trials[rows[0]["trial"]]
    attrs = trial.user_attrs
    if "seed_attribution" not in attrs:
        return []
    attribution = attrs["seed_attribution"]
    top = max(range(len(attribution)), key=lambda j: attribution[j])
    slope, true = attrs["seed4_slope"], attrs["seed4_slope_true"]
    drift = attrs.get("val_drift_ratio")
    text = f"The best model ({rows[0]['architecture']}, trial {trial.number}) "
    if drift is not None:
        text += (f"has a mean drift ratio of {drift:.3g} (1: its continuation moves as much as "
                 "the truth; 0: flat), ")
    text += (f"a seed-4 slope of {slope:.3g} against the true {true:.3g} "
             f"({slope / true:.0%} of it), " if true else f"a seed-4 slope of {slope:.3g}, ")
    text += (f"and shuffling seed {top + 1} hurts it most (+{attribution[top]:.3g} val "
             "MSE).")
    return [text]
