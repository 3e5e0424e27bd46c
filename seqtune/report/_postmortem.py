"""The post-mortem page: per rule, the verdict table, the explanation rendered
from it, question-style plots and the ablation figures, all read from the
post-mortem studies through :mod:`seqtune.postmortem`'s public API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna
import plotly.graph_objects as go

from seqtune.blobs import get_blob
from seqtune.errors import SeqtuneError
from seqtune.postmortem import (
    DEFECTS,
    Row,
    Verdict,
    answer,
    configurations,
    explain,
    judge,
    results,
)
from seqtune.report._figures import OTHER_COLORS, Panel, series_color, text

#: the configurations drawn like the question's plot
QUESTION_STYLE = ("original", "all-fixes", "tuned")
_STATE_COLORS = {"solved": "#2ca02c", "restored": "#98df8a", "partial": "#ff7f0e",
                 "ignores seed 4": "#d62728", "seed-independent change": "#7f0000"}


@dataclass(frozen=True)
class PostmortemSection:
    name: str
    study: optuna.Study
    rule: str
    rows: list[dict[str, Any]]
    #: the short answer (the question's rule: above the fold), then the explanation
    answer: str
    explanation: list[str]
    panels: list[Panel]


def _range(r: Row, key: str, fmt: str) -> str:
    low, high = r.spread(key)
    value = format(r.med(key), fmt)
    return value if r.n <= 1 or low == high else (
        f"{value} ({format(low, fmt)} to {format(high, fmt)})")


def _table(verdict: Verdict) -> list[dict[str, Any]]:
    """One row per configuration, then the baselines: test numbers, median (range)
    over seeds, and the most common state with its share of seeds."""
    order = [c.name for c in configurations()]
    out = []
    rows = sorted(verdict.rows, key=lambda r: order.index(r.name) if r.name in order
                  else len(order))
    for r in rows + verdict.baselines:
        s = r.setup
        out.append({
            "configuration": r.name, "role": r.role,
            "defects on": (", ".join(r.defects_on) or "none") if s else "-",
            "teacher forcing": f"{s['teacher_forcing']:g}" if s else "",
            "budget": (f"{s['epochs']} ep, width {s['width']}/{s['head']}, "
                       f"lr {s['learning_rate']:g}") if s else r.role,
            "seeds": r.n,
            "reported error": _range(r, "error_reported", ".4g"),
            "test MSE": _range(r, "mse", ".4g"),
            "normalized MSE": _range(r, "nmse", ".3g"),
            "drift ratio": _range(r, "drift_ratio", ".3f"),
            "seed-4 slope (true)": f"{_range(r, 'slope', '.3f')} ({r.slope_true:.3f})",
            "mean bias (sd)": _range(r, "bias", "+.2f"),
            "state (share of seeds)": r.state})
    return out


def _question_panel(prefix: str, name: str, attrs: dict[str, Any]) -> Panel:
    fig = go.Figure()
    samples = attrs["samples"]
    n_seeds = len(samples[0]["seeds"])
    for i, s in enumerate(samples):
        color = {"color": OTHER_COLORS[i % len(OTHER_COLORS)]}  # not an architecture colour
        cont = list(range(n_seeds + 1, n_seeds + len(s["true"]) + 1))
        fig.add_scatter(x=list(range(1, n_seeds + 1)) + cont, y=s["seeds"] + s["true"],
                        mode="lines+markers", name=f"sequence {s['index'] + 1}: true",
                        line=color, legendgroup=str(i))
        fig.add_scatter(x=[n_seeds, *cont], y=[s["seeds"][-1], *s["predicted"]],
                        mode="lines+markers", name=f"sequence {s['index'] + 1}: predicted",
                        line={**color, "dash": "dash"}, legendgroup=str(i))
    fig.add_vline(x=n_seeds + 0.5, line={"color": "#aaa", "dash": "dot"})
    fig.update_layout(xaxis_title="position (seeds, then continuation)", yaxis_title="value",
                      xaxis_dtick=1)
    return Panel(f"{prefix}-question-{name}", f"Like the question's plot: {name}",
                 f"The first {len(samples)} val sequences of configuration {name}: seeds "
                 "and true continuation (solid), the predicted continuation (dashed).", fig)


def _ablation_panels(prefix: str, verdict: Verdict) -> list[Panel]:
    names = [r.name for r in verdict.rows]
    colors = [_STATE_COLORS.get(r.state.rsplit(" ", 1)[0], "#7f7f7f") for r in verdict.rows]
    hover = [f"state: {r.state}" for r in verdict.rows]
    conditioning = go.Figure()
    conditioning.add_bar(x=names, y=[r.drift_ratio for r in verdict.rows], name="drift ratio",
                         marker_color=colors, hovertext=hover)
    conditioning.add_scatter(x=names, y=[r.slope_ratio for r in verdict.rows],
                             mode="markers", name="seed-4 slope / true slope",
                             marker={"symbol": "diamond", "size": 11, "color": "#222"})
    conditioning.add_hline(y=1.0, line={"dash": "dash", "color": "#555"})
    conditioning.update_layout(yaxis_title="ratio to the truth (1 = as the rule)",
                               xaxis_tickangle=-30, margin_b=110)
    error = go.Figure(go.Bar(x=names, y=[r.nmse for r in verdict.rows], marker_color=colors,
                             hovertext=hover))
    for b in verdict.baselines:
        error.add_hline(y=b.nmse, line={"dash": "dot", "color": "#555"},
                        annotation_text=f"{b.name} {b.nmse:.3g}")
    error.update_layout(yaxis_type="log", yaxis_title="normalized MSE (test, median, log)",
                        xaxis_tickangle=-30, margin_b=110)
    return [Panel(f"{prefix}-conditioning", "Ablation: does the continuation move and follow "
                  "seed 4?",
                  "Bars: median drift ratio per configuration, coloured by its most common state "
                  "(dark red seed-independent change, red "
                  "ignores seed 4, orange partial, green restored or solved); diamonds: the "
                  "fitted seed-4 slope over the true slope.", conditioning),
            Panel(f"{prefix}-nmse", "Ablation: normalized MSE per configuration",
                  "Test MSE over the variance of the targets (1 = the per-step mean), median over "
                  "seeds; dotted lines: the baselines; "
                  f"single defects are {', '.join(DEFECTS)}.", error)]


def _history_panel(prefix: str, found: dict[str, dict[str, Any]]) -> Panel:
    fig = go.Figure()
    for name, attrs in found.items():
        history = attrs.get("history") or []
        fig.add_scatter(x=[h["epoch"] for h in history], y=[h["val_mse"] for h in history],
                        mode="lines+markers", name=text(name),
                        line={"color": series_color(name)}, marker={"color": series_color(name)})
    fig.update_layout(xaxis_title="epoch", yaxis_title="val MSE (log)", yaxis_type="log")
    return Panel(f"{prefix}-history", "Training histories",
                 "Val MSE of the free-running continuation after every epoch, one line per "
                 "configuration.", fig)


def postmortem_section(index: int, study: optuna.Study) -> PostmortemSection:
    """Everything the page shows for one post-mortem study."""
    found = results(study)
    task = get_blob(study, "settings").get("task")
    rule = task.get("rule") if isinstance(task, dict) else None
    if not isinstance(rule, str):
        raise SeqtuneError(f"study {study.study_name!r}: stored blob 'settings' names no task "
                           "rule; expected the settings `seqtune postmortem` stores")
    verdict = judge(rule, found, get_blob(study, "baselines"))
    prefix = f"pm{index}"
    panels = [_question_panel(prefix, name, found[name]) for name in QUESTION_STYLE
              if found.get(name, {}).get("samples")]
    if verdict.rows:
        panels += _ablation_panels(prefix, verdict)
    panels.append(_history_panel(prefix, found))
    return PostmortemSection(study.study_name, study, rule, _table(verdict), answer(verdict),
                             explain(verdict).splitlines(), panels)
