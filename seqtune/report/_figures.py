"""Plotly figures of a study (Optuna's own plots where they fit) and how a page
embeds them: one ``<div>`` each, drawn by the page's shared ``plotly.min.js``."""

from __future__ import annotations

import hashlib
import html
import logging
import math
import re
import warnings
from dataclasses import dataclass
from typing import Any

import optuna
import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import Markup
from optuna.distributions import CategoricalDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from plotly.subplots import make_subplots

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf",
          "#7f7f7f")
#: fixed colours of the architectures, on every page and figure
ARCHITECTURE_COLORS = {"gru": "#1f77b4", "lstm": "#d62728", "rnn": "#2ca02c"}
#: fixed colours of the known baselines and other named series (lower case; a
#: parameter in parentheses is dropped first unless the full name is listed)
NAMED_COLORS = {
    "actual": "#222222", "true": "#222222", "perfect": "#aaaaaa", "best model": "#6a3d9a",
    "best so far": "#222222",
    # seeded
    "per-step mean": "#ff7f0e", "persistence": "#8c564b", "least squares": "#7f7f7f",
    "pooled ar": "#9467bd",
    # rainfall
    "autoreg": "#ff7f0e", "autoreg(bic)": "#ffbb78", "seasonal naive": "#9467bd",
    "seasonal mean": "#e377c2", "ets": "#bcbd22", "ets (holt-winters)": "#bcbd22",
    "sarima": "#17becf", "ridge": "#7f7f7f",
    # digitsum
    "majority class": "#7f7f7f", "logistic regression, all positions": "#ff7f0e",
    "logistic regression, selected positions": "#9467bd",
}
#: colours of any other series, picked by a stable hash of its name (none of the
#: architectures' colours, so a baseline never looks like a tuned model)
OTHER_COLORS = ("#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
                "#ffbb78", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d")


def series_color(name: str) -> str:
    """One colour per series name, the same in every figure and on every page.

    A name with exactly one architecture as a word (``gru``, ``tuned lstm``,
    ``best model (rnn)``) takes that architecture's fixed colour; a known
    baseline (``persistence``, ``AutoReg(12)``, ``pooled AR(3)``, ``majority
    class``...) its fixed colour; any other name a colour from a stable hash of
    its lower-cased name (the same in every process, unlike ``hash``).
    """
    key = " ".join(name.lower().split())
    archs = {word for word in re.split(r"[^a-z0-9]+", key) if word in ARCHITECTURE_COLORS}
    if len(archs) == 1:
        return ARCHITECTURE_COLORS[archs.pop()]
    bare = re.sub(r"\s*\([^)]*\)", "", key).strip()
    for candidate in (key, bare):
        if candidate in NAMED_COLORS:
            return NAMED_COLORS[candidate]
    digest = hashlib.sha256(key.encode()).digest()
    return OTHER_COLORS[int.from_bytes(digest[:4], "big") % len(OTHER_COLORS)]


#: a small shared look (Plotly's default template would add ~7 kB to every figure)
TEMPLATE = go.layout.Template(layout={
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "colorway": list(COLORS),
    "paper_bgcolor": "white", "plot_bgcolor": "#f7f8fa",
    "xaxis": {"gridcolor": "#e3e6ea", "zerolinecolor": "#c9ced6", "automargin": True},
    "yaxis": {"gridcolor": "#e3e6ea", "zerolinecolor": "#c9ced6", "automargin": True},
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50}})


_TEMPLATE_JSON = TEMPLATE.to_plotly_json()


@dataclass(frozen=True)
class Panel:
    """A figure on a page: an HTML id, a heading, a caption and the figure."""

    id: str
    title: str
    caption: str
    figure: go.Figure
    #: pixels; the width always follows the page
    height: int = 420

    def html(self) -> Markup:
        """The figure's ``<div>`` and script; user strings in its JSON are escaped
        by plotly (``<`` becomes ``\\u003c``)."""
        return Markup(pio.to_html(styled(self.figure, self.height), validate=False,
                                  full_html=False, include_plotlyjs=False, div_id=self.id,
                                  config={"displaylogo": False, "responsive": True}))


def styled(figure: go.Figure, height: int = 420) -> dict[str, Any]:
    """The figure as plain JSON data in the report's look (no re-validation: plotly
    validates every property of a copied figure, which is slow). A fixed width
    (Optuna's slice plot sets 300 px per parameter) is dropped: every figure
    fits the page."""
    spec = figure.to_plotly_json()
    layout = {k: v for k, v in spec["layout"].items() if k != "width"}
    return {"data": spec["data"], "layout": {**layout, "template": _TEMPLATE_JSON,
                                             "height": height, "autosize": True}}


def text(value: str) -> str:
    """A user string for plotly text (titles, legends), which renders some HTML."""
    return html.escape(value, quote=False)


def _quiet(plot, study: optuna.Study, **kwargs) -> go.Figure:
    """Run an Optuna plot without its warnings about empty or small studies."""
    logger = optuna.logging.get_logger("optuna")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return plot(study, **kwargs).update_layout(title=None)  # the page has headings
    finally:
        logger.setLevel(level)


def completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def tunable_params(study: optuna.Study) -> list[str]:
    """Parameters that took more than one value among the complete trials."""
    values: dict[str, set[str]] = {}
    for trial in completed(study):
        for name, value in trial.params.items():
            values.setdefault(name, set()).add(repr(value))
    return sorted(name for name, seen in values.items() if len(seen) > 1)


def importances(study: optuna.Study) -> dict[str, float]:
    """Optuna's default importances (PED-ANOVA) over the varied parameters;
    empty with fewer than two complete trials or nothing varied."""
    params = tunable_params(study)
    if len(completed(study)) < 2 or not params:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optuna.importance.get_param_importances(study, params=params)


#: slice plots per row of the slice figure (each row as wide as the page)
SLICE_COLUMNS = 3


def architecture(trial: FrozenTrial) -> str:
    """The series a trial belongs to in the study figures: its architecture."""
    return str(trial.params.get("architecture", "trials"))


def _by_architecture(trials: list[FrozenTrial]) -> dict[str, list[FrozenTrial]]:
    groups: dict[str, list[FrozenTrial]] = {}
    for trial in trials:
        groups.setdefault(architecture(trial), []).append(trial)
    return dict(sorted(groups.items()))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def log_scale(study: optuna.Study, metric: str) -> bool:
    """A minimized MSE-like metric (positive, spanning decades) is drawn on a
    log axis: the spread of bad trials would flatten the good ones."""
    if study.direction != StudyDirection.MINIMIZE or "mse" not in metric.lower():
        return False
    values = [v for t in study.get_trials(deepcopy=False)
              for v in [t.value, *t.intermediate_values.values()] if _finite(v)]
    return bool(values) and min(values) > 0


def history_figure(study: optuna.Study, name: str, log_y: bool) -> go.Figure:
    """Each complete trial's objective, coloured by architecture, and the best so far."""
    trials = sorted((t for t in completed(study) if _finite(t.value)), key=lambda t: t.number)
    fig = go.Figure()
    for arch, group in _by_architecture(trials).items():
        fig.add_scatter(x=[t.number for t in group], y=[t.value for t in group],
                        mode="markers", name=text(arch), legendgroup=arch,
                        marker={"color": series_color(arch), "size": 8})
    best, pick = [], min if study.direction == StudyDirection.MINIMIZE else max
    for trial in trials:
        best.append(trial.value if not best else pick(best[-1], trial.value))
    if trials:
        fig.add_scatter(x=[t.number for t in trials], y=best, mode="lines",
                        name="best so far", line={"color": series_color("best so far"),
                                                  "shape": "hv"})
    fig.update_layout(xaxis_title="trial", yaxis_title=name + (" (log)" if log_y else ""))
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def intermediate_figure(study: optuna.Study, name: str, log_y: bool) -> go.Figure:
    """The val metric after every epoch, one line per trial, coloured by architecture."""
    fig, shown = go.Figure(), set()
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.FAIL)
    for trial in study.get_trials(deepcopy=False, states=states):
        steps = sorted(s for s, v in trial.intermediate_values.items() if _finite(v))
        if not steps:
            continue
        arch = architecture(trial)
        fig.add_scatter(x=steps, y=[trial.intermediate_values[s] for s in steps],
                        mode="lines", name=text(arch), legendgroup=arch,
                        showlegend=arch not in shown, opacity=0.75,
                        line={"color": series_color(arch), "width": 1.5},
                        hovertemplate=f"trial {trial.number} ({text(arch)})<br>"
                                      "epoch %{x}: %{y:.4g}<extra></extra>")
        shown.add(arch)
    fig.update_layout(xaxis_title="epoch", yaxis_title=name + (" (log)" if log_y else ""))
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def slice_figure(study: optuna.Study, params: list[str], name: str,
                 log_y: bool) -> tuple[go.Figure, int]:
    """The objective against each parameter, :data:`SLICE_COLUMNS` plots a row (so
    the figure fits the page), dots coloured by architecture; and its height."""
    trials = [t for t in completed(study) if _finite(t.value)]
    columns = min(SLICE_COLUMNS, len(params))
    rows = math.ceil(len(params) / columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[text(p) for p in params],
                        horizontal_spacing=0.06, vertical_spacing=0.5 / rows)
    shown: set[str] = set()
    for i, param in enumerate(params):
        row, col = divmod(i, columns)
        having = [t for t in trials if param in t.params]
        for arch, group in _by_architecture(having).items():
            fig.add_scatter(x=[t.params[param] for t in group], y=[t.value for t in group],
                            mode="markers", name=text(arch), legendgroup=arch,
                            showlegend=arch not in shown,
                            marker={"color": series_color(arch), "size": 7, "opacity": 0.8},
                            row=row + 1, col=col + 1)
            shown.add(arch)
        dist = having[0].distributions.get(param) if having else None
        if isinstance(dist, CategoricalDistribution):
            fig.update_xaxes(type="category", row=row + 1, col=col + 1)
        elif getattr(dist, "log", False):
            fig.update_xaxes(type="log", row=row + 1, col=col + 1)
    if log_y:
        fig.update_yaxes(type="log")
    fig.update_yaxes(title_text=name + (" (log)" if log_y else ""), col=1)
    return fig, 120 + 260 * rows


def study_panels(study: optuna.Study, metric: str) -> list[Panel]:
    """Optimization history, intermediate values, importances, parallel
    coordinates and slices: the plots that have data to show. Trials are
    coloured by architecture (:func:`series_color`) in every figure, and a
    minimized MSE is drawn on log axes."""
    vis = optuna.visualization
    name = f"val {metric}"
    log_y = log_scale(study, metric)
    panels = [Panel("fig-history", "Optimization history",
                    f"Each complete trial's {name} (the objective), coloured by architecture, "
                    "and the best so far" + (" (log scale)." if log_y else "."),
                    history_figure(study, name, log_y))]
    if any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        panels.append(Panel("fig-intermediate", "Intermediate values (pruning)",
                            f"{name} after every epoch, one line per trial, coloured by "
                            "architecture; lines that stop early were pruned or stopped early"
                            + (" (log scale)." if log_y else "."),
                            intermediate_figure(study, name, log_y)))
    params = tunable_params(study)
    if len(completed(study)) >= 2 and params:
        scores = importances(study)
        panels.append(Panel(
            "fig-importances", "Parameter importances",
            "How much of the variation of the objective each parameter explains "
            "(Optuna's default evaluator, PED-ANOVA).",
            go.Figure(go.Bar(x=list(scores.values())[::-1], y=list(scores)[::-1],
                             orientation="h")).update_layout(xaxis_title="importance")))
        panels.append(Panel("fig-parallel", "Parallel coordinates",
                            "Every complete trial across its parameters, coloured by "
                            f"{name}.",
                            _quiet(vis.plot_parallel_coordinate, study, params=params,
                                   target_name=name)))
        figure, height = slice_figure(study, params, name, log_y)
        panels.append(Panel("fig-slice", "Slice plots",
                            f"{name} against each parameter, one dot per complete trial, "
                            "coloured by architecture.", figure, height))
    return panels
