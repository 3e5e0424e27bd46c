"""Section ``quality``: how long the default digitsum study takes to reach a dev
accuracy at one length, and where the NNDL reference configuration ends.

The study runs as ``seqtune optimize`` on a copy of its study file whose sweep
holds the one length, on a temporary SQLite storage, with ``--timeout`` set to
the budget and no trial limit. This process polls the storage and stops the
study (SIGTERM) once a trial's value reaches the target; the figure is the
time from launching the command to that trial's completion, so it includes
start-up, the baselines and every trial before it. The reference trains the
post's loop for its 500 epochs with all usable cores, as one seqtune worker does.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmarks._common import (
    STUDIES,
    Context,
    Figure,
    progress,
    require_ok,
    run_seqtune,
    sqlite_study_exists,
    study_file_with,
    study_names,
    target_figure,
)

SECTION = "quality"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("quality")
    group.add_argument("--quality-study", type=Path, default=STUDIES / "digitsum.toml",
                       help="digitsum study file (default: studies/digitsum.toml)")
    group.add_argument("--quality-length", type=int, default=35,
                       help="the sweep length to run alone (default: 35)")
    group.add_argument("--quality-target", type=float, default=0.99,
                       help="dev accuracy to reach (default: 0.99)")
    group.add_argument("--quality-budget", type=float, default=300.0,
                       help="seconds the study may take (default: 300)")
    group.add_argument("--reference-epochs", type=int, default=500,
                       help="epochs of the NNDL reference run (default: 500, as the post)")
    group.add_argument("--skip-reference", action="store_true",
                       help="leave out the reference run (minutes at 500 epochs)")


class _FirstHit:
    """Polls the study for the first complete trial whose value reaches the target."""

    def __init__(self, url: str, name: str, target: float, launched: dt.datetime,
                 budget: float) -> None:
        self.url, self.name, self.target = url, name, target
        self.launched, self.budget = launched, budget
        self.seconds: float | None = None
        self.trial_number: int | None = None
        self.trials_before = 0
        self.best: float | None = None
        self.finished = 0
        self.bar = tqdm(total=int(budget), desc="quality study", unit="s", leave=False)
        self._storage: Any = None

    def scan(self) -> None:
        import optuna
        from optuna.trial import TrialState

        if self._storage is None:
            if not sqlite_study_exists(self.url, self.name):
                return  # opening it earlier would race seqtune creating the schema
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            self._storage = optuna.storages.RDBStorage(self.url)
        study = optuna.load_study(study_name=self.name, storage=self._storage)
        done = [t for t in study.get_trials(deepcopy=False)
                if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        done.sort(key=lambda t: t.datetime_complete or dt.datetime.max)
        self.finished = len(done)
        values = [t.value for t in done if t.state == TrialState.COMPLETE]
        self.best = max(values) if values else None
        for i, trial in enumerate(done):
            if trial.state == TrialState.COMPLETE and trial.value >= self.target:
                assert trial.datetime_complete is not None
                self.seconds = (trial.datetime_complete - self.launched).total_seconds()
                self.trial_number, self.trials_before = trial.number, i + 1
                return

    def __call__(self, elapsed: float) -> bool:
        self.scan()
        self.bar.n = min(int(elapsed), self.bar.total)
        self.bar.set_postfix_str(f"{self.finished} trials, best {_shown(self.best)}")
        return self.seconds is not None or elapsed > self.budget


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _study(args: argparse.Namespace, ctx: Context) -> list[Figure]:
    study_file = study_file_with(args.quality_study, ctx.workdir / "quality" / "study.toml",
                                 sweep={"length": [args.quality_length]})
    (name,) = study_names(study_file)
    url = ctx.sqlite_url("quality")
    progress(f"quality: {name} until dev accuracy >= {args.quality_target}, "
             f"at most {args.quality_budget:.0f} s")
    launched = dt.datetime.now()
    hit = _FirstHit(url, name, args.quality_target, launched, args.quality_budget)
    try:
        done = run_seqtune(["optimize", str(study_file), "--storage", url, "--timeout",
                            str(args.quality_budget), "--n-trials", "100000"],
                           ctx.workdir / "quality" / "optimize.log", poll=hit, poll_every=2.0)
    finally:
        hit.bar.close()
    require_ok(done, allowed=(0, 143))
    hit.scan()  # a trial may have finished after the last poll
    where = f"L={args.quality_length}"
    note = (f"trial #{hit.trial_number}, {hit.trials_before} finished trials"
            if hit.seconds is not None else
            f"not reached in {done.seconds:.0f} s; best {_shown(hit.best)}")
    return [
        target_figure(SECTION, f"{where} time to dev accuracy >= {args.quality_target:g}",
                      hit.seconds, "<=", args.quality_budget, "s", note=note, digits=0),
        Figure(SECTION, f"{where} study best dev accuracy", hit.best,
               note=f"{hit.finished} finished trials", digits=3),
    ]


def _reference(args: argparse.Namespace, time_to_target: float | None) -> list[Figure]:
    import torch

    from benchmarks._reference import examples, train_reference
    from seqtune.runtime import configure_threads
    from seqtune.tasks import make_task

    before = torch.get_num_threads()
    threads = configure_threads()
    splits = make_task({"name": "digitsum", "length": args.quality_length}).splits()
    progress(f"quality: reference loop, {args.reference_epochs} epochs at "
             f"L={args.quality_length}, {threads} torch thread(s)")
    train, dev, test = (examples(s.inputs, s.targets) for s in (splits.train, splits.val,
                                                                 splits.test))
    train_reference(train[:8], dev[:8], test[:8], 1)  # untimed: one-off imports on first use
    bar = tqdm(total=args.reference_epochs, desc="reference", unit="epoch", leave=False)

    def on_epoch(_epoch: int, best: float) -> None:
        bar.update()
        bar.set_postfix_str(f"best dev {best:.3f}")

    try:
        result = train_reference(train, dev, test, args.reference_epochs, on_epoch=on_epoch)
    finally:
        bar.close()
        torch.set_num_threads(before)
    where, epochs = f"L={args.quality_length}", f"{args.reference_epochs} epochs"
    figures = [
        Figure(SECTION, f"{where} reference best dev accuracy", result.best_dev_accuracy,
               note=epochs, digits=3),
        Figure(SECTION, f"{where} reference test accuracy", result.test_accuracy,
               note="best dev model", digits=3),
        Figure(SECTION, f"{where} reference wall", result.seconds, "s", note=epochs, digits=0),
    ]
    if time_to_target:
        figures.append(Figure(SECTION, f"{where} reference wall / seqtune time to target",
                              result.seconds / time_to_target, "x", digits=1))
    return figures


def run(args: argparse.Namespace, ctx: Context) -> list[Figure]:
    figures = _study(args, ctx)
    if not args.skip_reference:
        figures += _reference(args, figures[0].value)
    return figures
