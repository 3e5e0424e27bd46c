"""A study's verdict: short sentences, each computed from the study's numbers."""

from __future__ import annotations

from collections import Counter
from typing import Any

import optuna
from optuna.trial import TrialState

from seqtune.report._view import StudyView
from seqtune.study import best_per_architecture
from seqtune.study._equal_share import trials_per_architecture
from seqtune.study._leaderboard import BASELINE, TUNED


def _n(x: float) -> str:
    return f"{x:.4g}"


def _change(value: float, reference: float) -> str:
    """How ``value`` differs from ``reference``: '0.01 lower (-25%)', or a ratio
    when one is many times the other."""
    diff = value - reference
    if diff == 0:
        return "equal"
    word = "higher" if diff > 0 else "lower"
    if reference and value and (value > 0) == (reference > 0):
        ratio = value / reference
        if ratio >= 3 or ratio <= 1 / 3:
            return f"{_n(abs(diff))} {word} ({_n(ratio)}x)"
        return f"{_n(abs(diff))} {word} ({diff / abs(reference):+.0%})"
    return f"{_n(abs(diff))} {word}"


def _trials(study: optuna.Study) -> str:
    counts = Counter(t.state for t in study.get_trials(deepcopy=False))
    parts = [f"{counts[s]} {s.name.lower()}" for s in (TrialState.COMPLETE, TrialState.PRUNED,
                                                        TrialState.FAIL, TrialState.RUNNING,
                                                        TrialState.WAITING) if counts[s]]
    total = sum(counts.values())
    text = f"The study holds {total} trial{'' if total == 1 else 's'}: {', '.join(parts) or 'none'}"
    shares = trials_per_architecture(study)
    if len(shares) > 1:
        text += ("; finished per architecture: "
                 + ", ".join(f"{arch} {n}" for arch, n in sorted(shares.items())))
    return text + "."


def _between(view: StudyView) -> list[str]:
    """The leaderboard's paired test between architectures on test, if any."""
    return [n for n in view.board.notes if n.startswith("Between architectures")]


def _winner(study: optuna.Study, metric: str, maximize: bool) -> list[str]:
    rows = best_per_architecture(study)
    if not rows:
        return ["No trial trained by seqtune has completed, so no architecture can be judged."]
    head, rest = rows[0], rows[1:]
    text = (f"On val ({metric}, {'higher' if maximize else 'lower'} is better; the best "
            f"trial of each architecture, one seed each) {head['architecture']} leads with "
            f"{_n(head['val'])} (trial {head['trial']})")
    if not rest:
        return [text + "; it is the only architecture with a complete trial."]
    others = "; ".join(f"{r['architecture']} {_n(r['val'])}, {_change(r['val'], head['val'])}"
                       for r in rest)
    return [f"{text}; {others}."]


def _against_baselines(view: StudyView, maximize: bool) -> list[str]:
    """The model picked on val against the strongest baseline on test, in the words
    of the paired test (the leaderboard's), and the exact yardstick if any."""
    metric = view.board.metric
    tuned = [r for r in view.board.rows if r["kind"] == TUNED
             and r["test"].get(metric) is not None]
    base = [r for r in view.board.rows if r["kind"] == BASELINE
            and r["test"].get(metric) is not None and not r.get("exact")]
    if not tuned or not base:
        return []
    pick = tuned[0]  # the board is sorted by val: the study's choice
    comparisons = pick.get("comparisons") or {}
    rivals = [b for b in base if b["name"] in comparisons] or base
    best = (max if maximize else min)(rivals, key=lambda r: r["test"][metric])
    ours, theirs = pick["test"][metric], best["test"][metric]
    if best["name"] in comparisons:
        n = len(pick["repeats"]["record"]["seeds"])
        return [f"On test the model picked on val ({pick['name']}, {_n(ours)}, mean of {n} "
                f"seed{'s' if n > 1 else ''} retrained on train+val) "
                f"{comparisons[best['name']].sentence(best['name'])}, the strongest "
                f"baseline ({_n(theirs)})."]
    word = "scores better than" if (ours > theirs if maximize else ours < theirs) else \
        "scores worse than"
    return [f"On test the model picked on val ({pick['name']}, {_n(ours)}) {word} the best "
            f"baseline, {best['name']} ({_n(theirs)}): {_change(ours, theirs)} (one run, no "
            "paired test: no repeats stored)."]


def _yardstick(view: StudyView) -> list[str]:
    """The leaderboard's solved / not solved sentence against an exact baseline."""
    return [n for n in view.board.notes if " solve" in n and "the threshold for solved" in n]


def _importances(scores: dict[str, float], n_complete: int) -> list[str]:
    if not scores:
        return [f"Importances need at least two complete trials with varied parameters "
                f"(this study has {n_complete} complete)."]
    ranked = list(scores.items())
    top, value = ranked[0]
    text = f"The importances put {top} first ({value:.0%} of the explained variation)"
    if len(ranked) > 1:
        text += ", then " + ", ".join(f"{k} ({v:.0%})" for k, v in ranked[1:3])
    if top == "architecture":
        text += "; the choice of recurrent cell matters more than its tuning"
    return [text + f" (PED-ANOVA over {n_complete} complete trials, a rough guide with "
                   "few trials)." if n_complete < 20 else text + "."]


def headline(view: StudyView) -> str:
    """The one sentence for the index: the test result against the baselines, else
    the winner on val."""
    maximize = view.study.direction == optuna.study.StudyDirection.MAXIMIZE
    lines = (_yardstick(view) + _against_baselines(view, maximize)
             or _winner(view.study, view.board.metric, maximize))
    return " ".join(lines[:2])


def study_verdict(view: StudyView, scores: dict[str, float],
                  views: list[StudyView] | None = None) -> list[str]:
    """The verdict sentences of one study page."""
    study = view.study
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    n_complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    lines = [_trials(study), *_winner(study, view.board.metric, maximize), *_between(view),
             *_yardstick(view), *_against_baselines(view, maximize),
             *_importances(scores, n_complete)]
    if view.task is not None:  # the task's own sentences
        lines += view.task.report_verdict(view, views if views is not None else [view])
    return lines


def failed_trials(study: optuna.Study) -> list[dict[str, Any]]:
    """Failed trials with the error text the objective stored."""
    return [{"number": t.number, "params": ", ".join(f"{k}={v}" for k, v in t.params.items()),
             "error": t.user_attrs.get("error", "(no error text stored)")}
            for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))]
