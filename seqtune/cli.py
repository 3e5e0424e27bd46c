"""The ``seqtune`` command line.

Exit status: 0 success, 1 failure, 2 bad usage or bad input (one line on
stderr, nothing written to the storage).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import optuna
import typer
from rich.console import Console
from rich.table import Table

import seqtune
from seqtune.config import StudyConfig, load_config
from seqtune.errors import SeqtuneError
from seqtune.study import best_per_architecture, optimize, resolve_storage_url
from seqtune.trainer import configure_threads

app = typer.Typer(
    help="Tune recurrent sequence models (tanh RNN, LSTM, GRU) with Optuna, compare them "
         "with classical baselines, and explain the results.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
console = Console(stderr=False)
_state = {"debug": False, "quiet": False}

StorageOpt = Annotated[str | None, typer.Option(
    "--storage", envvar=None, show_default=False,
    help="Optuna storage URL. Default: $OPTUNA_STORAGE, else sqlite:///storage/seqtune.db.")]


def _version(value: bool) -> None:
    if value:
        print(f"seqtune {seqtune.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Log every trial (Optuna INFO).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No progress bars, only results.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    _state.update(debug=debug, quiet=quiet)
    optuna.logging.set_verbosity(logging.INFO if verbose else logging.WARNING)


def _summary_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in ("study", "architecture", "trial", "metric", "val", "test", "epochs"):
        table.add_column(column, justify="right" if column in ("val", "test", "epochs",
                                                                "trial") else "left")
    for r in rows:
        table.add_row(r["study"], r["architecture"], str(r["trial"]), r["metric"],
                      f"{r['val']:.6g}", "" if r["test"] is None else f"{r['test']:.6g}",
                      str(r["epochs"]))
    return table


def _run_study(config: StudyConfig, storage: str) -> list[dict[str, Any]]:
    study = optimize(config, storage, show_progress_bar=not _state["quiet"])
    return best_per_architecture(study)


@app.command("optimize")
def optimize_cmd(
    study_file: Annotated[Path, typer.Argument(help="Study definition, e.g. "
                                                    "studies/seeded-drift.toml.")],
    n_trials: Annotated[int | None, typer.Option(
        help="Finished trials the study should hold (resumes count).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    storage: StorageOpt = None,
    study_name: Annotated[str | None, typer.Option(
        help="Study name (default: the name in the study file; sweeps add a suffix).")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampler and training seed.")] = None,
    sampler: Annotated[str | None, typer.Option(
        help="Any optuna.samplers class, e.g. TPESampler, RandomSampler.")] = None,
    pruner: Annotated[str | None, typer.Option(
        help="Any optuna.pruners class, e.g. MedianPruner, HyperbandPruner, or none.")] = None,
    max_epochs: Annotated[int | None, typer.Option(
        help="Upper bound on epochs per trial (early stopping may end sooner).")] = None,
    csv: Annotated[Path | None, typer.Option(
        help="rainfall: read this CSV (target column Precipitation).")] = None,
) -> None:
    """Create or resume the study in STUDY_FILE and run its trials.

    Each trial's val metric is the objective; test metrics, epochs, training
    time and any error text are stored as trial user attrs. Read them with
    `optuna trials --storage URL --study-name NAME -f json`.
    """
    base = load_config(study_file).with_overrides(
        n_trials=n_trials, timeout=timeout, seed=seed, sampler=sampler, pruner=pruner,
        max_epochs=max_epochs, csv=str(csv) if csv else None)
    configs = base.expand()
    if study_name:
        configs = [c.with_overrides(name=c.name.replace(base.name, study_name, 1))
                   for c in configs]
    url = resolve_storage_url(storage)
    configure_threads()
    rows = [row for c in configs for row in _run_study(c, url)]
    console.print(_summary_table("best trial per architecture", rows))


@app.command("run")
def run_cmd(
    quick: Annotated[bool, typer.Option(help="Smaller budgets: the whole job in about "
                                             "2 minutes.")] = False,
    studies: Annotated[Path, typer.Option(help="Folder of study files to run.")]
    = Path("studies"),
    storage: StorageOpt = None,
) -> None:
    """The main job: run every study in studies/ and print the best trial per
    task and architecture."""
    files = sorted(studies.glob("*.toml"))
    if not files:
        raise SeqtuneError(f"{studies}: no study files (*.toml)")
    configs = [load_config(f) for f in files]
    if quick:
        configs = [c.quick_variant() for c in configs]
    url = resolve_storage_url(storage)
    configure_threads()
    started = time.perf_counter()
    rows = [row for c in configs for e in c.expand() for row in _run_study(e, url)]
    console.print(_summary_table("best trial per task and architecture", rows))
    console.print(f"done in {time.perf_counter() - started:.0f} s; storage {url}")


def main() -> None:
    """Console entry point: map user errors to exit status 2."""
    try:
        app()
    except SeqtuneError as exc:
        if _state["debug"]:
            raise
        print(f"seqtune: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("seqtune: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
