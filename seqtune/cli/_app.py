"""Shared pieces of the ``seqtune`` command line: the app, global options, output."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import optuna
import typer
from rich.console import Console
from rich.table import Table

import seqtune

app = typer.Typer(
    help="Tune recurrent sequence models (tanh RNN, LSTM, GRU) with Optuna, compare them "
         "with classical baselines, and explain the results.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]})
console = Console(stderr=False)
state = {"debug": False, "quiet": False}

def check_folder(value: Path | None) -> Path | None:
    """A folder option: refuse a path that is (or lies under) an existing file."""
    if value is not None:
        existing = next((p for p in (value, *value.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise typer.BadParameter(f"{value}: {existing} is a file, not a folder")
    return value


StorageOpt = Annotated[str | None, typer.Option(
    "--storage", envvar=None, show_default=False,
    help="Optuna storage URL. Default: $OPTUNA_STORAGE, else sqlite:///storage/seqtune.db.")]
ArtifactDirOpt = Annotated[Path | None, typer.Option(
    show_default=False, callback=check_folder,
    help="Artifact store folder (best-model checkpoints). Default: artifacts/ beside an "
         "SQLite storage file (storage/artifacts for the default storage), else "
         "storage/artifacts.")]


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
    state.update(debug=debug, quiet=quiet)
    optuna.logging.set_verbosity(logging.INFO if verbose else logging.WARNING)


def summary_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in ("study", "architecture", "trial", "metric", "val", "test", "epochs"):
        table.add_column(column, justify="right" if column in ("val", "test", "epochs",
                                                                "trial") else "left")
    for r in rows:
        table.add_row(r["study"], r["architecture"], str(r["trial"]), r["metric"],
                      f"{r['val']:.6g}", "" if r["test"] is None else f"{r['test']:.6g}",
                      str(r["epochs"]))
    return table
