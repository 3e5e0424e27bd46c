"""Section ``load``: the same trials on an idle machine and beside a busy process.

``seqtune optimize --workers 1`` runs the same study (same seed, so the same
trials) three times on fresh SQLite storages: with nothing else running,
with a background process that keeps one core busy (a Python spin loop), and
busy again under the old default thread policy (``OMP_NUM_THREADS`` = usable
cores, as the trainer used to set). Throughput is finished trials per hour
of trial time (each trial's start to completion, read from the storage with
Optuna alone). Target: the default keeps >= 0.8x of its idle throughput when
a core is busy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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

SECTION = "load"
TARGET_RATIO = 0.8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("load")
    group.add_argument("--load-study", type=Path, default=STUDIES / "seeded-drift.toml",
                       help="study file (default: studies/seeded-drift.toml)")
    group.add_argument("--load-trials", type=int, default=4,
                       help="--n-trials of each run (default: 4)")
    group.add_argument("--load-max-epochs", type=int, default=15,
                       help="--max-epochs of each run (default: 15)")


@contextmanager
def busy_core() -> Iterator[None]:
    """A background process spinning on one core for the duration."""
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                            stdin=subprocess.DEVNULL)
    try:
        yield
    finally:
        spin.kill()
        spin.wait()


def trials_per_hour(args: argparse.Namespace, ctx: Context, label: str,
                    threads: int | None = None) -> tuple[float | None, float]:
    """(finished trials per hour of trial time, command wall seconds)."""
    url = ctx.sqlite_url(f"load-{label}")
    saved = os.environ.get("OMP_NUM_THREADS")
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        done = run_seqtune(["optimize", str(args.load_study), "--storage", url, "--workers", "1",
                            "--n-trials", str(args.load_trials), "--max-epochs",
                            str(args.load_max_epochs), "--seed", "0"],
                           ctx.workdir / f"load-{label}" / "optimize.log")
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved
    require_ok(done)
    trials = [t for s in finished_trials(url, study_names(args.load_study)) for t in s.trials]
    spent = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials)
    return (len(trials) / spent * 3600 if spent > 0 else None), done.seconds


def run(args: argparse.Namespace, ctx: Context) -> list[Figure]:
    from seqtune.runtime import usable_cores

    old_policy = usable_cores()
    progress(f"load: {args.load_study.name}, {args.load_trials} trials, idle")
    idle, idle_wall = trials_per_hour(args, ctx, "idle")
    progress("load: the same with one core kept busy")
    with busy_core():
        busy, busy_wall = trials_per_hour(args, ctx, "busy")
        progress(f"load: busy again with {old_policy} torch threads (the old default)")
        old, old_wall = trials_per_hour(args, ctx, "busy-old-policy", threads=old_policy)
    note = f"--max-epochs {args.load_max_epochs}, {args.load_trials} trials"
    return [
        Figure(SECTION, "idle trials/hour (default threads)", idle, digits=0,
               note=f"{note}; command {idle_wall:.0f} s"),
        Figure(SECTION, "one core busy, trials/hour (default threads)", busy, digits=0,
               note=f"command {busy_wall:.0f} s"),
        target_figure(SECTION, "busy / idle trials per hour (default threads)",
                      busy / idle if busy and idle else None, ">=", TARGET_RATIO, "x"),
        Figure(SECTION, f"one core busy, trials/hour ({old_policy} threads, the old default)",
               old, digits=0, note=f"command {old_wall:.0f} s"),
        Figure(SECTION, f"busy / idle trials per hour ({old_policy} threads)",
               old / idle if old and idle else None, "x"),
    ]
