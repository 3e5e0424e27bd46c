"""Plotly figures of a study (Optuna's own plots where they fit) and how a page
embeds them: one ``<div>`` each, drawn by the page's shared ``plotly.min.js``."""

from __future__ import annotations

import hashlib
import html
import logging
import re
import warnings
from dataclasses import dataclass
from typing import Any

import optuna
import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import Markup
from optuna.trial import TrialState

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf",
          "#7f7f7f")
#: fixed colours of the architectures, on every page and figure
ARCHITECTURE_COLORS = {"gru": "#1f77b4", "lstm": "#d62728", "rnn": "#2ca02c"}
#: fixed colours of the known baselines and other named series (lower case; a
#: parameter in parentheses is dropped first unless the full name is listed)
NAMED_COLORS = {
    "actual": "#222222", "true": "#222222", "perfect": "#aaaaaa", "best model": "#6a3d9a",
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

    def html(self) -> Markup:
        """The figure's ``<div>`` and script; user strings in its JSON are escaped
        by plotly (``<`` becomes ``\\u003c``)."""
        return Markup(pio.to_html(styled(self.figure), validate=False, full_html=False,
                                  include_plotlyjs=False, div_id=self.id,
                                  config={"displaylogo": False, "responsive": True}))


def styled(figure: go.Figure) -> dict[str, Any]:
    """The figure as plain JSON data in the report's look (no re-validation: plotly
    validates every property of a copied figure, which is slow)."""
    spec = figure.to_plotly_json()
    return {"data": spec["data"], "layout": {**spec["layout"], "template": _TEMPLATE_JSON,
                                             "height": 420}}


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


def study_panels(study: optuna.Study, metric: str) -> list[Panel]:
    """Optimization history, intermediate values, importances, parallel
    coordinates and slices: the plots that have data to show."""
    vis = optuna.visualization
    name = f"val {metric}"
    panels = [Panel("fig-history", "Optimization history",
                    f"Each complete trial's {name} (the objective) and the best so far.",
                    _quiet(vis.plot_optimization_history, study, target_name=name))]
    if any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        panels.append(Panel("fig-intermediate", "Intermediate values (pruning)",
                            f"{name} after every epoch, one line per trial; lines that stop "
                            "early were pruned or stopped early.",
                            _quiet(vis.plot_intermediate_values, study)))
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
        panels.append(Panel("fig-slice", "Slice plots",
                            f"{name} against each parameter, one dot per complete trial.",
                            _quiet(vis.plot_slice, study, params=params, target_name=name)))
    return panels
