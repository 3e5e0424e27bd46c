"""``seqtune optimize`` and ``seqtune run``: create or resume studies and run them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtune import jsontext
from seqtune.cli._app import (
    ArtifactDirOpt,
    FormatOpt,
    JsonAliasOpt,
    OutputFormat,
    StorageOpt,
    app,
    console,
    elapsed,
    output_format,
    progress,
    state,
    summary_table,
)
from seqtune.cli._leaderboard import load_study, show_leaderboard
from seqtune.cli._postmortem import postmortem_after_run
from seqtune.cli._report import make_report
from seqtune.cli._settings import (
    SetOpt,
    apply_settings,
    apply_to_accepting,
    parse_assignments,
)
from seqtune.config import StudyConfig, load_config
from seqtune.errors import SeqtuneError
from seqtune.runtime import AUTO, configure_threads, resolve_workers
from seqtune.study import (
    best_per_architecture,
    optimize,
    redact,
    resolve_artifact_dir,
    resolve_storage_url,
)
from seqtune.study._optimize import check_studies
from seqtune.study._refit import DEFAULT_REPEATS, MAX_REPEATS
from seqtune.study._storage import GRACE_FACTOR, HEARTBEAT_INTERVAL, MAX_HEARTBEAT

#: repeats per architecture under ``run --quick``
QUICK_REPEATS = 1


def _check_workers(value: str) -> str:
    try:
        resolve_workers(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


WorkersOpt = Annotated[str, typer.Option(
    metavar="auto|N", callback=_check_workers,
    help="Worker processes on this machine, one torch thread each: 'auto' (one per "
         "usable core) or N; 1 runs the trials in this process. More machines: run "
         "this command on each against one PostgreSQL --storage.")]


RepeatsOpt = Annotated[int | None, typer.Option(
    min=0, max=MAX_REPEATS, metavar="K",
    help="After the trials, retrain each architecture's best configuration on "
                "train+val under this many seeds and score it on test (default "
                f"{DEFAULT_REPEATS}; run --quick: {QUICK_REPEATS}; 0: none).")]


def _run_study(config: StudyConfig, storage: str, **options: Any) -> list[dict[str, Any]]:
    study = optimize(config, storage, show_progress_bar=not state["quiet"], **options)
    return best_per_architecture(study)


@app.command("optimize")
def optimize_cmd(
    study_file: Annotated[Path, typer.Argument(
        metavar="STUDY_FILE", help="Study definition, e.g. studies/seeded-drift.toml.")],
    n_trials: Annotated[int | None, typer.Option(
        metavar="N", help="Finished trials the study should hold (resumes count).")] = None,
    timeout: Annotated[float | None, typer.Option(
        metavar="SECONDS", help="Stop after this many seconds.")] = None,
    storage: StorageOpt = None,
    study_name: Annotated[str | None, typer.Option(
        metavar="NAME",
        help="Study name (default: the name in the study file; sweeps add a suffix).")] = None,
    seed: Annotated[int | None, typer.Option(
        metavar="N", help="Sampler and training seed.")] = None,
    sampler: Annotated[str | None, typer.Option(
        metavar="CLASS", help="Any optuna.samplers class, e.g. TPESampler, RandomSampler.")]
    = None,
    pruner: Annotated[str | None, typer.Option(
        metavar="CLASS",
        help="Any optuna.pruners class, e.g. MedianPruner, HyperbandPruner, or none.")] = None,
    max_epochs: Annotated[int | None, typer.Option(
        metavar="N", help="Upper bound on epochs per trial (early stopping may end sooner).")]
    = None,
    csv: Annotated[Path | None, typer.Option(
        metavar="FILE", help="forecast, rainfall: read this CSV (same as --set csv=FILE).")]
    = None,
    target: Annotated[str | None, typer.Option(
        metavar="COL",
        help="forecast, rainfall: the column to forecast (same as --set target=COL).")]
    = None,
    time_column: Annotated[str | None, typer.Option(
        "--time", metavar="COL",
        help="forecast, rainfall: the CSV's date column (same as --set time=COL).")] = None,
    set_: SetOpt = None,
    workers: WorkersOpt = AUTO,
    heartbeat_interval: Annotated[int, typer.Option(
        min=1, max=MAX_HEARTBEAT, metavar="SECONDS",
        help="Seconds between heartbeats of a running trial.")]
    = HEARTBEAT_INTERVAL,
    grace_period: Annotated[int | None, typer.Option(
        min=1, max=MAX_HEARTBEAT * GRACE_FACTOR, metavar="SECONDS",
        help="Seconds without a heartbeat after which a trial's worker counts as "
             "dead: the trial is failed and queued again "
             f"(default {GRACE_FACTOR} x --heartbeat-interval).")] = None,
    artifact_dir: ArtifactDirOpt = None,
    repeats: RepeatsOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    as_json: JsonAliasOpt = False,
) -> None:
    """Create or resume the study in STUDY_FILE and run its trials.

    Each trial's val metric is the objective; test metrics, epochs, training
    time and any error text are stored as trial user attrs. Read them with
    `optuna trials --storage URL --study-name NAME -f json`. The result is the
    best trial per architecture (-f json: a list of objects).

    Examples:

      seqtune optimize studies/seeded-drift.toml --n-trials 20
      seqtune optimize studies/digitsum.toml --set length=35 --pruner none
      seqtune optimize studies/rainfall.toml --csv rain.csv --target Precipitation
      seqtune optimize examples/forecast.toml --target units --time week
      seqtune -q optimize studies/seeded-ar2.toml --n-trials 5 -f json
    """
    assignments = [(option, key, value) for option, key, value in (
        ("--target", "target", target), ("--time", "time", time_column)) if value is not None]
    assignments += parse_assignments(set_)
    base = apply_settings(load_config(study_file).with_overrides(
        n_trials=n_trials, timeout=timeout, seed=seed, sampler=sampler, pruner=pruner,
        max_epochs=max_epochs, csv=str(csv) if csv else None,
        artifact_dir=str(artifact_dir) if artifact_dir else None), assignments)
    configs = base.expand()
    if study_name:
        configs = [c.with_overrides(name=c.name.replace(base.name, study_name, 1))
                   for c in configs]
    if grace_period is not None and grace_period <= heartbeat_interval:
        raise SeqtuneError(f"--grace-period: must be longer than --heartbeat-interval "
                           f"({heartbeat_interval} s), got {grace_period}")
    processes = resolve_workers(workers)
    url = resolve_storage_url(storage)
    check_studies(configs, url)  # every study of a sweep, before the first is written
    configure_threads()
    rows = [row for c in configs for row in _run_study(
        c, url, workers=processes, heartbeat_interval=heartbeat_interval,
        grace_period=grace_period, repeats=DEFAULT_REPEATS if repeats is None else repeats)]
    if output_format(fmt, as_json) == OutputFormat.json:
        print(jsontext.dumps(rows))
    else:
        console.print(summary_table("best trial per architecture", rows))


class _PartTimer:
    """Wall time per part of a run, for its last line: where the time went."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def lap(self, part: str) -> None:
        """``part`` took the time since the previous lap (or the start)."""
        now = time.perf_counter()
        self.seconds[part] = now - self.last
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{part} {elapsed(s)}" for part, s in self.seconds.items())


@app.command("run")
def run_cmd(
    quick: Annotated[bool, typer.Option(help="Smaller budgets: the whole job in about "
                                             "2 minutes.")] = False,
    full: Annotated[bool, typer.Option(help="Also the study files in DIR/full: the memory "
                                            "curve at L = 50..500 and the dense variant "
                                            "(hours on 2 cores; see the README).")] = False,
    studies: Annotated[Path, typer.Option(metavar="DIR", help="Folder of study files to run.")]
    = Path("studies"),
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE",
        help="Task setting (repeatable) for every study whose task has it, e.g. --set "
             "n_train=200; a setting no study has is refused.")] = None,
    storage: StorageOpt = None,
    artifact_dir: ArtifactDirOpt = None,
    workers: WorkersOpt = AUTO,
    repeats: RepeatsOpt = None,
) -> None:
    """The main job: every study, leaderboards, the post-mortem and the HTML report.

    Runs every study file in --studies (one after another, each one's trials in
    --workers processes), prints the best trial per task and architecture, then
    each study's leaderboard against its baselines, runs the post-mortem and
    writes the HTML report (reports/index.html). Progress goes to stderr (-q:
    none); stdout holds the results.

    Examples:

      seqtune run --quick
      seqtune run --full --repeats 3
      seqtune run --workers 2 --repeats 3
      seqtune run --studies my-studies --set n_train=200
    """
    processes = resolve_workers(workers)
    files = sorted(studies.glob("*.toml")) + (sorted((studies / "full").glob("*.toml"))
                                              if full else [])
    if not files:
        raise SeqtuneError(f"{studies}: no study files (*.toml)")
    configs = [load_config(f).with_overrides(artifact_dir=str(artifact_dir) if artifact_dir
                                             else None) for f in files]
    if quick:
        configs = [c.quick_variant() for c in configs]
    configs = apply_to_accepting(configs, parse_assignments(set_))
    url = resolve_storage_url(storage)
    configure_threads()
    started = time.perf_counter()
    groups = [c.expand() for c in configs]
    expanded = [e for group in groups for e in group]
    check_studies(expanded, url)
    if repeats is None:
        repeats = QUICK_REPEATS if quick else DEFAULT_REPEATS
    rows = []
    parts = _PartTimer()
    n = 0
    for config, group in zip(configs, groups, strict=True):
        for e in group:
            n += 1
            left = len(expanded) - n
            progress(f"run: study {n}/{len(expanded)} {e.name} ({e.n_trials} "
                     f"trial{'' if e.n_trials == 1 else 's'}; "
                     f"{left} stud{'y' if left == 1 else 'ies'} left; "
                     f"{elapsed(time.perf_counter() - started)} elapsed)")
            rows += _run_study(e, url, workers=processes, repeats=repeats)
        parts.lap(config.name)
    console.print(summary_table("best trial per task and architecture", rows))
    for e in expanded:
        show_leaderboard(load_study(e.name, url),
                         artifact_dir=resolve_artifact_dir(url, e.artifact_dir))
    parts.lap("leaderboards")
    progress(f"run: post-mortem ({elapsed(time.perf_counter() - started)} elapsed)")
    postmortem_after_run(url, studies, quick)
    parts.lap("post-mortem")
    progress(f"run: report ({elapsed(time.perf_counter() - started)} elapsed)")
    make_report(url, Path("reports"), artifact_dir)
    parts.lap("report")
    # one unwrapped line, for scripts and logs to read
    console.print(f"done in {time.perf_counter() - started:.0f} s ({parts}); "
                  f"storage {redact(url)}", soft_wrap=True)
