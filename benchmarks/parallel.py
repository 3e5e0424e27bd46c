"""Section ``parallel``: trials per hour of one worker and of the default (one per core).

The same study file runs twice as ``seqtune optimize --workers N --timeout
WINDOW`` on a fresh SQLite storage each: N = 1 (one process, one thread) and
N = auto (the default: one single-thread worker per usable core). Throughput is counted from the
storage with Optuna alone, in steady state: from the moment every worker has
finished its first trial (process start-up, baselines and the first trial's
one-off imports stay out) to the last completion, finished (complete or
pruned) trials completed in that span per hour. Target on 2 cores: the
default finishes at least 1.8x the trials per hour of one worker.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchmarks._common import (
    STUDIES,
    Context,
    Figure,
    finished_trials,
    progress,
    require_ok,
    run_seqtune,
    study_names,
    target_figure,
)

SECTION = "parallel"
TARGET_RATIO = 1.8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("parallel")
    group.add_argument("--parallel-study", type=Path, default=STUDIES / "seeded-ar2.toml",
                       help="study file with short trials (default: studies/seeded-ar2.toml)")
    group.add_argument("--parallel-window", type=float, default=120.0,
                       help="--timeout of each run, seconds (default: 120)")
    group.add_argument("--parallel-max-epochs", type=int, default=10,
                       help="--max-epochs per trial (default: 10)")


def trials_per_hour(args: argparse.Namespace, ctx: Context, workers: str
                    ) -> tuple[float | None, int, float]:
    """(trials per hour, finished trials, command wall seconds) with ``workers``."""
    url = ctx.sqlite_url(f"parallel-{workers}")
    progress(f"parallel: {args.parallel_study.name} with {workers} worker(s) for "
             f"{args.parallel_window:.0f} s")
    done = run_seqtune(["optimize", str(args.parallel_study), "--storage", url,
                        "--workers", workers, "--timeout", str(args.parallel_window),
                        "--n-trials", "100000", "--max-epochs", str(args.parallel_max_epochs)],
                       ctx.workdir / f"parallel-{workers}" / "optimize.log")
    require_ok(done)
    trials = [t for s in finished_trials(url, study_names(args.parallel_study))
              for t in s.trials]
    return steady_rate(trials), len(trials), done.seconds


def steady_rate(trials: list[Any]) -> float | None:
    """Trials per hour completed after every worker's first trial (None: too few)."""
    first: dict[str, Any] = {}
    for trial in trials:  # oldest first
        first.setdefault(trial.user_attrs.get("worker", "?"), trial.datetime_complete)
    if not first:
        return None
    start = max(first.values())
    later = [t.datetime_complete for t in trials if t.datetime_complete > start]
    if not later:
        return None
    span = (max(later) - start).total_seconds()
    return len(later) / span * 3600 if span > 0 else None


def run(args: argparse.Namespace, ctx: Context) -> list[Figure]:
    from seqtune.runtime import usable_cores

    rates = {}
    figures = []
    for workers in ("1", "auto"):
        rate, count, seconds = trials_per_hour(args, ctx, workers)
        rates[workers] = rate
        figures.append(Figure(SECTION, f"--workers {workers} trials/hour", rate,
                              note=f"{count} trials in all; command {seconds:.0f} s",
                              digits=0))
    ratio = rates["auto"] / rates["1"] if rates["1"] and rates["auto"] else None
    figures.append(target_figure(SECTION, "default (auto) / 1 worker trials per hour", ratio,
                                 ">=", TARGET_RATIO, "x",
                                 note=f"--max-epochs {args.parallel_max_epochs}; auto = "
                                      f"{usable_cores()} workers"))
    return figures
