"""Section ``memory``: peak memory of one worker and the wall time of ``seqtune run``.

Peak RSS comes from ``os.wait4`` on the seqtune process (its own rusage, not
this process's). ``seqtune run`` runs in a temporary folder (its
``reports/`` lands there) with ``--studies`` pointing at the repository's
study files and a temporary ``--storage``, so nothing in the repository is
touched. ``run --quick`` runs idle and beside a process that keeps one core
busy (as in the ``load`` section), the full ``run`` beside it only (users'
machines and CI are never idle). Targets: one worker (``--workers 1``)
<= 600 MB; ``run --quick`` <= 2 min; ``run`` <= 10 min.
"""

from __future__ import annotations

import argparse
import re
from contextlib import nullcontext
from pathlib import Path

from benchmarks._common import (
    STUDIES,
    Completed,
    Context,
    Figure,
    progress,
    require_ok,
    run_seqtune,
    target_figure,
)
from benchmarks.load import busy_core

SECTION = "memory"
TARGET_RSS_MB = 600.0
TARGET_QUICK_S = 120.0
TARGET_FULL_S = 600.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("memory")
    group.add_argument("--memory-study", type=Path, default=STUDIES / "digitsum.toml",
                       help="study file for the one-worker RSS (default: studies/digitsum.toml)")
    group.add_argument("--memory-trials", type=int, default=3,
                       help="--n-trials of that run (default: 3)")
    group.add_argument("--memory-max-epochs", type=int, default=20,
                       help="--max-epochs of that run (default: 20)")
    group.add_argument("--skip-quick-run", action="store_true",
                       help="leave out `seqtune run --quick` (about 2 minutes)")
    group.add_argument("--skip-full-run", action="store_true",
                       help="leave out the full `seqtune run` (up to 10 minutes)")


def _run_job(ctx: Context, label: str, quick: bool, busy: bool) -> Completed:
    folder = ctx.workdir / label
    folder.mkdir(parents=True, exist_ok=True)
    args = ["run", "--studies", str(STUDIES), "--storage", ctx.sqlite_url(label)]
    progress(f"memory: seqtune run{' --quick' if quick else ''}"
             f"{' beside a busy core' if busy else ''} in {folder}")
    with busy_core() if busy else nullcontext():
        done = run_seqtune([*args, *(["--quick"] if quick else [])], folder / "run.log",
                           cwd=folder)
    require_ok(done)
    return done


def time_by_part(done: Completed) -> str:
    """Where a ``seqtune run`` spent its time: the parts its last line names
    (each study file, leaderboards, post-mortem, report), or "" if absent."""
    found = re.search(r"^done in \d+ s \((.*)\); storage ", done.log.read_text(),
                      re.MULTILINE)
    return found.group(1) if found else ""


def run(args: argparse.Namespace, ctx: Context) -> list[Figure]:
    url = ctx.sqlite_url("memory")
    progress(f"memory: one worker, {args.memory_study.name}, {args.memory_trials} trials")
    done = run_seqtune(["optimize", str(args.memory_study), "--storage", url, "--n-trials",
                        str(args.memory_trials), "--max-epochs", str(args.memory_max_epochs),
                        "--workers", "1"],
                       ctx.workdir / "memory" / "optimize.log")
    require_ok(done)
    figures = [target_figure(SECTION, "peak RSS, one worker (seqtune optimize)",
                             done.max_rss_mb, "<=", TARGET_RSS_MB, "MB",
                             note=f"{args.memory_study.name}, {args.memory_trials} trials",
                             digits=0)]
    if not args.skip_quick_run:
        quick = _run_job(ctx, "run-quick", quick=True, busy=False)
        loaded = _run_job(ctx, "run-quick-busy", quick=True, busy=True)
        figures += [
            target_figure(SECTION, "seqtune run --quick wall", quick.seconds, "<=",
                          TARGET_QUICK_S, "s", digits=0),
            target_figure(SECTION, "seqtune run --quick wall, one core busy", loaded.seconds,
                          "<=", TARGET_QUICK_S, "s", digits=0, note=time_by_part(loaded)),
            Figure(SECTION, "peak RSS, seqtune run --quick", quick.max_rss_mb, "MB", digits=0),
        ]
    if not args.skip_full_run:
        full = _run_job(ctx, "run-full-busy", quick=False, busy=True)
        figures += [
            target_figure(SECTION, "seqtune run wall, one core busy", full.seconds, "<=",
                          TARGET_FULL_S, "s", digits=0, note=time_by_part(full)),
            Figure(SECTION, "peak RSS, seqtune run", full.max_rss_mb, "MB", digits=0),
        ]
    return figures
