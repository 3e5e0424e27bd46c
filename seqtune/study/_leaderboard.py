"""The leaderboard of a study: the best trial per architecture against every
stored baseline, val and test side by side, with notes computed from the numbers."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import Any

import optuna

from seqtune.baselines import stored_baselines
from seqtune.study._summary import best_per_architecture

TUNED, BASELINE = "tuned model", "baseline"


@dataclass(frozen=True)
class Leaderboard:
    study: str
    metric: str
    direction: str
    #: the task's metric names, the study's metric first
    metrics: tuple[str, ...]
    #: ``{"kind", "name", "val": {metric: value}, "test": {...}, "note"}``, best val first
    rows: tuple[dict[str, Any], ...]
    notes: tuple[str, ...]

    def records(self) -> list[dict[str, Any]]:
        """Flat rows: rank, kind, name, ``val_<metric>``..., ``test_<metric>``..., notes."""
        return [{"rank": rank, "kind": row["kind"], "name": row["name"],
                 **{f"{part}_{m}": row[part].get(m) for part in ("val", "test")
                    for m in self.metrics},
                 "notes": row["note"]}
                for rank, row in enumerate(self.rows, start=1)]

    def columns(self) -> list[str]:
        return ["rank", "kind", "name", *(f"{part}_{m}" for part in ("val", "test")
                                          for m in self.metrics), "notes"]

    def formatted(self) -> list[list[str]]:
        """:meth:`records` as text, numbers to 6 significant digits."""
        return [[_text(record[c]) for c in self.columns()] for record in self.records()]

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "rows": self.records()}, indent=2)

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns())
        writer.writerows(self.formatted())
        return out.getvalue()

    def to_markdown(self) -> str:
        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        lines = [f"**{self.study}** ({self.metric}, {self.direction}; sorted by val)", "",
                 line(self.columns()), line(["---"] * len(self.columns())),
                 *(line(cells) for cells in self.formatted())]
        if self.notes:
            lines += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(lines) + "\n"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _better(a: float, b: float, maximize: bool) -> bool:
    return a > b if maximize else a < b


def _tuned_rows(study: optuna.Study, metrics: list[str]) -> list[dict[str, Any]]:
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    rows = []
    for best in best_per_architecture(study):
        attrs = trials[best["trial"]].user_attrs
        rows.append({"kind": TUNED, "name": best["architecture"], "trial": best["trial"],
                     "val": {m: attrs.get(f"val_{m}") for m in metrics},
                     "test": {m: attrs.get(f"test_{m}") for m in metrics},
                     "note": f"trial {best['trial']}, {best['epochs']} epochs"})
    return rows


def _metric_names(study: optuna.Study, metric: str, baselines: list[dict[str, Any]]
                  ) -> list[str]:
    names = list(baselines[0]["val"]) if baselines else [
        k.removeprefix("val_") for t in study.get_trials(deepcopy=False)
        for k in t.user_attrs if k.startswith("val_")]
    return list(dict.fromkeys([metric, *names]))


def _losses(rows: list[dict[str, Any]], metric: str, maximize: bool) -> list[str]:
    """Add to each tuned row the baselines that beat it on test; return the verdict."""
    baselines = [r for r in rows if r["kind"] == BASELINE and r["test"].get(metric) is not None]
    tuned = [r for r in rows if r["kind"] == TUNED and r["test"].get(metric) is not None]
    if not tuned:
        return ["no complete trial yet: the table holds baselines only"]
    for row in tuned:
        row["beaten_by"] = [b["name"] for b in baselines
                            if _better(b["test"][metric], row["test"][metric], maximize)]
        row["note"] += ("; on test loses to " + ", ".join(row["beaten_by"]) if row["beaten_by"]
                        else "; on test beats every baseline")
    pick = tuned[0]  # rows are sorted by val: the study's choice
    head = (f"On test ({metric}, {'higher' if maximize else 'lower'} is better) the tuned "
            f"model picked on val, {pick['name']} (trial {pick['trial']}), scores "
            f"{pick['test'][metric]:.4g}")
    if not pick["beaten_by"]:
        return [f"{head} and beats every baseline."]
    losses = ", ".join(f"{b['name']} ({b['test'][metric]:.4g})" for b in baselines
                       if b["name"] in pick["beaten_by"])
    beaten = len(baselines) - len(pick["beaten_by"])
    return [f"{head}: it loses to {losses}; it beats {beaten} of {len(baselines)} baselines."]


def _fit_notes(baselines: list[dict[str, Any]], refit_tuned: bool = False) -> list[str]:
    """Which rows' test numbers were fitted on train+val (val numbers: always train)."""
    refit = [b["name"] for b in baselines if b.get("fit_data", {}).get("test") == "train+val"]
    if not refit:
        return []
    head = (f"fitted on train+val before their test numbers (val numbers: fitted on train): "
            f"{', '.join(refit)}")
    if refit_tuned:
        return [f"{head}, and the tuned models (retrained on train+val for their selected "
                "number of epochs), so every test number uses the same information."]
    return [f"{head}; the tuned models' test numbers come from training on train only "
            "(no repeats stored yet), so these baselines see one block more data on test."]


def leaderboard(study: optuna.Study) -> Leaderboard:
    """Best trial per architecture and every baseline stored with ``study``."""
    metric = study.user_attrs.get("metric", "value")
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    baselines = stored_baselines(study)
    metrics = _metric_names(study, metric, baselines)
    rows = _tuned_rows(study, metrics) + [
        {"kind": BASELINE, "name": b["name"], "val": b["val"], "test": b["test"],
         "note": b["note"] or b["description"]} for b in baselines]

    def by_val(row: dict[str, Any]) -> tuple[bool, float]:
        value = row["val"].get(metric)
        return (value is None, 0.0 if value is None else -value if maximize else value)

    rows.sort(key=by_val)
    notes = _losses(rows, metric, maximize) + _fit_notes(baselines)
    if not baselines:
        notes.append("no baselines stored with this study (studies made by `seqtune "
                     "optimize` store them; rerun it on this study to add them)")
    return Leaderboard(study.study_name, metric, "maximize" if maximize else "minimize",
                       tuple(metrics), tuple(rows), tuple(notes))
