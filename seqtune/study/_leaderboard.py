"""The leaderboard of a study: the best trial per architecture against every
stored baseline, val and test side by side, with notes computed from the numbers."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from seqtune import jsontext
from seqtune.stored import stored_baselines, stored_metric, stored_repeats
from seqtune.study._equal_share import trials_per_architecture
from seqtune.study._paired import Comparison, compare, seed_interval, solved_sentence
from seqtune.study._points import baseline_points, study_task
from seqtune.study._refit import repeat_points
from seqtune.study._summary import best_per_architecture, foreign_trials

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
        """Strict JSON (non-finite numbers as null)."""
        return jsontext.dumps({**asdict(self), "rows": self.records()}, indent=2)

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
    """Best trial per architecture: val from the trial; test from its repeats
    (mean over seeds, retrained on train+val) where stored, else from the trial."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    repeats = stored_repeats(study)
    rows = []
    for best in best_per_architecture(study):
        attrs = trials[best["trial"]].user_attrs
        row = {"kind": TUNED, "name": best["architecture"], "trial": best["trial"],
               "val": {m: attrs.get(f"val_{m}") for m in metrics},
               "test": {m: attrs.get(f"test_{m}") for m in metrics},
               "note": f"trial {best['trial']}, {best['epochs']} epochs"}
        record = repeats.get(best["architecture"])
        if record is not None and record.get("trial") == best["trial"] and record["seeds"]:
            spans = {m: seed_interval(record[f"test_{m}"], m) for m in metrics
                     if record.get(f"test_{m}")}
            row["test"] = {m: spans[m][0] if m in spans else None for m in metrics}
            row["repeats"] = {"record": record, "interval": {m: v[1:] for m, v in spans.items()}}
            n = len(record["seeds"])
            low, high = spans[metrics[0]][1:] if metrics[0] in spans else (math.nan,) * 2
            row["note"] += (f"; test: mean of {n} seed{'s' if n > 1 else ''} retrained on "
                            f"{record['protocol']} for {record['epochs']} epochs"
                            + (f", 95 % interval {low:.4g} .. {high:.4g}" if n > 1
                               else " (1 seed: no interval)"))
        else:
            row["note"] += "; test: this trial, trained on train only (no repeats stored)"
        rows.append(row)
    return rows


def _metric_names(study: optuna.Study, metric: str, baselines: list[dict[str, Any]]
                  ) -> list[str]:
    names = list(baselines[0]["val"]) if baselines else [
        k.removeprefix("val_") for t in study.get_trials(deepcopy=False)
        for k in t.user_attrs if k.startswith("val_")]
    return list(dict.fromkeys([metric, *names]))


def _paired(study: optuna.Study, rows: list[dict[str, Any]], baselines: list[dict[str, Any]],
            artifact_dir: Path | None, maximize: bool) -> list[str]:
    """Attach to each tuned row with repeats ``comparisons``: the paired test
    against every baseline that is not exact, on the same test points. Return
    the note on which architecture wins on test (:func:`_architecture_note`)."""
    tuned = [r for r in rows if r["kind"] == TUNED and "repeats" in r]
    points = {r["name"]: repeat_points(r["repeats"]["record"], artifact_dir) for r in tuned}
    points = {name: p for name, p in points.items() if p is not None}
    task = study_task(study) if points else None
    if task is None:
        return []
    theirs = baseline_points(task)
    for row in tuned:
        ours = points.get(row["name"])
        if ours is None:
            continue
        row["comparisons"] = {
            b["name"]: compare(ours, theirs[b["name"]], maximize, task.paired_test)
            for b in baselines if not b.get("exact") and theirs.get(b["name"]) is not None
            and len(theirs[b["name"]]) == ours.shape[1]}
    return _architecture_note(points, maximize, task.paired_test, stored_metric(study))


def _architecture_note(points: dict[str, np.ndarray], maximize: bool, method: str,
                       metric: str) -> list[str]:
    """Which architecture wins on test: the one with the best mean over its repeats
    against each other one, by the paired test on the same test points."""
    if len(points) < 2:
        return []
    means = {name: float(p.mean()) for name, p in points.items()}
    top = (max if maximize else min)(means, key=means.get)
    words = [f"{compare(points[top], p, maximize, method).sentence(name)} ({means[name]:.4g})"
             for name, p in points.items() if name != top]
    return [f"Between architectures on test ({metric}, repeats retrained on train+val): "
            f"{top} ({means[top]:.4g}) " + "; ".join(words) + "."]


def _budget_note(study: optuna.Study) -> list[str]:
    """How many finished trials each architecture had (its share of the budget)."""
    counts = trials_per_architecture(study)
    if len(counts) < 2:
        return []
    text = ", ".join(f"{arch} {n}" for arch, n in sorted(counts.items()))
    equal = "equal shares" if len(set(counts.values())) == 1 else "unequal shares"
    return [f"finished trials per architecture: {text} ({equal})."]


def _words(comparisons: dict[str, Comparison]) -> str:
    by_word: dict[str, list[str]] = {}
    for name, c in comparisons.items():
        by_word.setdefault(c.word, []).append(name)
    return "; ".join(f"{word} {', '.join(names)}" for word, names in by_word.items())


def _verdicts(rows: list[dict[str, Any]], baselines: list[dict[str, Any]], metric: str,
              maximize: bool) -> list[str]:
    """Per tuned row, what the paired tests say (or the bare numbers, flagged, where
    no per-point results are stored); return the notes on the val-picked model."""
    base = [r for r in rows if r["kind"] == BASELINE and r["test"].get(metric) is not None]
    rivals = [r for r in base if not r.get("exact")]
    tuned = [r for r in rows if r["kind"] == TUNED and r["test"].get(metric) is not None]
    if not tuned:
        return ["no complete trial yet" + (": the table holds baselines only" if base else "")]
    for row in tuned:
        if row.get("comparisons"):
            row["note"] += "; on test (paired tests at 5 %) " + _words(row["comparisons"])
            continue
        row["beaten_by"] = [b["name"] for b in rivals
                            if _better(b["test"][metric], row["test"][metric], maximize)]
        if rivals:
            row["note"] += ("; on test scores worse than " + ", ".join(row["beaten_by"])
                            if row["beaten_by"] else "; on test scores better than every "
                            "baseline") + " (numbers only: no paired test without stored repeats)"
    pick = tuned[0]  # rows are sorted by val: the study's choice
    head = (f"On test ({metric}, {'higher' if maximize else 'lower'} is better) the tuned "
            f"model picked on val, {pick['name']} (trial {pick['trial']}), scores "
            f"{pick['test'][metric]:.4g}")
    if "repeats" in pick:
        n = len(pick["repeats"]["record"]["seeds"])
        head += f" (mean of {n} seed{'s' if n > 1 else ''} retrained on train+val)"
    notes = []
    if rivals and pick.get("comparisons"):
        strongest = (max if maximize else min)(
            (b for b in rivals if b["name"] in pick["comparisons"]),
            key=lambda b: b["test"][metric], default=None)
        if strongest is not None:
            comparison = pick["comparisons"][strongest["name"]]
            notes.append(f"{head}: it {comparison.sentence(strongest['name'])}, the "
                         f"strongest baseline on test ({strongest['test'][metric]:.4g}); "
                         f"against all {len(pick['comparisons'])}: "
                         f"{_words(pick['comparisons'])}.")
    elif rivals:
        notes.append(f"{head}: " + (f"scores worse than {', '.join(pick['beaten_by'])}"
                                    if pick["beaten_by"] else
                                    "scores better than every baseline")
                     + " (numbers only: no paired test without stored repeats).")
    exact = [b for b in base if b.get("exact")]
    record = pick.get("repeats", {}).get("record", {})
    nmse = record.get("test_nmse") or ([pick["test"]["nmse"]]
                                       if pick["test"].get("nmse") is not None else [])
    if exact and nmse:
        notes.append(f"The tuned {pick['name']} "
                     f"{solved_sentence(nmse, [b['name'] for b in exact])}.")
    return notes or [f"{head}."]


def _fit_notes(baselines: list[dict[str, Any]], refit_tuned: bool = False) -> list[str]:
    """Which rows' test numbers were fitted on train+val (val numbers: always train)."""
    refit = [b["name"] for b in baselines if b.get("fit_data", {}).get("test") == "train+val"]
    train = [b["name"] for b in baselines if b.get("fit_data", {}).get("test") == "train"]
    if refit_tuned and train:
        return [f"the tuned models' test numbers come from a refit on train+val (their "
                f"selected number of epochs), while {', '.join(train)} are fitted on train "
                "only before test: the tuned models see one block more data on test."]
    if not refit:
        return []
    head = (f"fitted on train+val before their test numbers (val numbers: fitted on train): "
            f"{', '.join(refit)}")
    if refit_tuned:
        return [f"{head}, and the tuned models (retrained on train+val for their selected "
                "number of epochs), so every test number uses the same information."]
    return [f"{head}; the tuned models' test numbers come from training on train only "
            "(no repeats stored yet), so these baselines see one block more data on test."]


def leaderboard(study: optuna.Study, artifact_dir: str | Path | None = None) -> Leaderboard:
    """Best trial per architecture and every baseline stored with ``study``; the
    tuned rows' test numbers from their repeats, and the comparison words from
    paired tests on the per-point results in ``artifact_dir`` (None: numbers only)."""
    metric = stored_metric(study)
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    baselines = stored_baselines(study)
    metrics = _metric_names(study, metric, baselines)
    rows = _tuned_rows(study, metrics) + [
        {"kind": BASELINE, "name": b["name"], "val": b["val"], "test": b["test"],
         "note": b.get("note") or b.get("description", ""), "exact": bool(b.get("exact"))}
        for b in baselines]

    def by_val(row: dict[str, Any]) -> tuple[bool, float]:
        value = row["val"].get(metric)
        return (value is None, 0.0 if value is None else -value if maximize else value)

    rows.sort(key=by_val)
    between = _paired(study, rows, baselines, Path(artifact_dir) if artifact_dir else None,
                      maximize)
    refit = any("repeats" in r for r in rows)
    notes = (_verdicts(rows, baselines, metric, maximize) + between + _budget_note(study)
             + _fit_notes(baselines, refit))
    if foreign := foreign_trials(study):
        notes.append(f"{foreign} complete trial{'s' if foreign > 1 else ''} without seqtune's "
                     "metrics (told through `optuna tell` or run by other code) left out")
    if not baselines:
        notes.append("no baselines stored with this study (studies made by `seqtune "
                     "optimize` store them; rerun it on this study to add them)")
    return Leaderboard(study.study_name, metric, "maximize" if maximize else "minimize",
                       tuple(metrics), tuple(rows), tuple(notes))
