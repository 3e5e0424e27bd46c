"""Section ``pruning``: what the pruner saves and what it costs.

The same study file runs the same number of trials twice, with a pruner and
with ``--pruner none``, same seed, no timeout. Epochs trained are the sum of
the trial user attr ``epochs`` over finished trials. Targets: at least 40%
fewer epochs with the pruner, and its best value at most 2% worse than
without (relative to the unpruned best; a better value always passes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks._common import (
    STUDIES,
    Context,
    Figure,
    StudyTrials,
    finished_trials,
    progress,
    require_ok,
    run_seqtune,
    study_names,
    target_figure,
)

SECTION = "pruning"
TARGET_SAVED = 40.0
TARGET_WORSE = 2.0
NO_TIMEOUT = "1000000"  # seconds: the study files' own timeouts would cut trial counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pruning")
    group.add_argument("--pruning-study", type=Path, default=STUDIES / "seeded-ar2.toml",
                       help="study file (default: studies/seeded-ar2.toml)")
    group.add_argument("--pruning-trials", type=int, default=12,
                       help="trials each run (default: 12, the file's budget)")
    group.add_argument("--pruning-max-epochs", type=int, default=None,
                       help="--max-epochs per trial (default: the file's)")
    group.add_argument("--pruner", default="MedianPruner",
                       help="the pruner compared with none (default: MedianPruner)")


def _run_with(args: argparse.Namespace, ctx: Context, pruner: str) -> list[StudyTrials]:
    url = ctx.sqlite_url(f"pruning-{pruner}")
    progress(f"pruning: {args.pruning_study.name}, {args.pruning_trials} trials, "
             f"--pruner {pruner}")
    extra = ["--max-epochs", str(args.pruning_max_epochs)] if args.pruning_max_epochs else []
    done = run_seqtune(["optimize", str(args.pruning_study), "--storage", url, "--pruner",
                        pruner, "--n-trials", str(args.pruning_trials), "--timeout",
                        NO_TIMEOUT, *extra], ctx.workdir / f"pruning-{pruner}" / "optimize.log")
    require_ok(done)
    return finished_trials(url, study_names(args.pruning_study))


def _epochs(studies: list[StudyTrials]) -> int:
    return sum(int(t.user_attrs.get("epochs", 0)) for s in studies for t in s.trials)


def _worse_percent(pruned: StudyTrials, unpruned: StudyTrials) -> float | None:
    """How much worse the pruned study's best is, in % of the unpruned best."""
    if pruned.best is None or unpruned.best is None or unpruned.best == 0:
        return None
    gap = pruned.best - unpruned.best
    if pruned.direction == "maximize":
        gap = -gap
    return 100.0 * gap / abs(unpruned.best)


def run(args: argparse.Namespace, ctx: Context) -> list[Figure]:
    pruned = _run_with(args, ctx, args.pruner)
    unpruned = _run_with(args, ctx, "none")
    with_pruner, without = _epochs(pruned), _epochs(unpruned)
    saved = 100.0 * (1 - with_pruner / without) if without else None
    count = sum(len(s.trials) for s in pruned)
    n_pruned = sum(t.state.name == "PRUNED" for s in pruned for t in s.trials)
    figures = [
        Figure(SECTION, f"epochs trained, {args.pruner}", with_pruner,
               note=f"{count} trials, {n_pruned} pruned", digits=0),
        Figure(SECTION, "epochs trained, no pruner", without,
               note=f"{sum(len(s.trials) for s in unpruned)} trials", digits=0),
        target_figure(SECTION, "fewer epochs with the pruner", saved, ">=", TARGET_SAVED, "%",
                      digits=1),
    ]
    for p, u in zip(pruned, unpruned, strict=True):
        figures += [
            Figure(SECTION, f"{p.name} best value, {args.pruner}", p.best, digits=None),
            Figure(SECTION, f"{p.name} best value, no pruner", u.best, digits=None),
            target_figure(SECTION, f"{p.name} best value worse with the pruner",
                          _worse_percent(p, u), "<=", TARGET_WORSE, "%",
                          note=f"{p.direction}; negative = better", digits=1),
        ]
    return figures
