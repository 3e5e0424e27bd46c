"""Shared pieces of the ``seqtune`` command line: the app, global options, output."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import optuna
import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import seqtune


def examples(*lines: str) -> str:
    """An ``Examples:`` block for a command's help, one command a line.

    Rich markup mode keeps the line breaks of every paragraph after the first;
    the commands are escaped so that ``[--quick]`` is not read as markup."""
    return "Examples:\n\n" + "\n".join(f"  {escape(line)}" for line in lines)


app = typer.Typer(
    help="Tune recurrent sequence models (tanh RNN, LSTM, GRU) with Optuna, compare them "
         "with classical baselines, and explain the results.\n\n"
         "`seqtune COMMAND --help` shows a command's options and examples.\n\n" + examples(
             "seqtune run --quick", "seqtune optimize studies/seeded-drift.toml --n-trials 20",
             "seqtune leaderboard seeded-drift -f json", "seqtune report"),
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]})
console = Console(stderr=False)
state = {"debug": False, "quiet": False}


# Metavars in help: typer shows every value's Python type (``<bool>`` after a
# flag, ``<list[str]>``, ``<int range>``, an argument's ``<path>``) and wraps a
# required argument in braces in the usage line. seqtune shows what the
# ``optuna`` CLI and click show: nothing after a flag, the option's ``metavar=``
# (N, URL, FILE, table|json...) else an upper-case type name, and an argument by
# its name alone (``STUDY_FILE``; ``[NAME]`` when optional).
_TYPE_METAVARS = {"int": "N", "float": "NUMBER", "str": "TEXT", "bool": "BOOLEAN"}


def _plain_metavar(param: typer.core.TyperOption | typer.core.TyperArgument,
                   ctx: Any) -> str | None:
    if isinstance(param, typer.core.TyperArgument):
        return None  # the argument's name (its metavar) says it
    if param.metavar is not None:
        return param.metavar or None
    if param.is_flag or param.count:
        return None
    descriptor = param.type_descriptor
    if descriptor.is_choice:
        return "|".join(str(getattr(c, "value", c)) for c in descriptor.choices or ())
    if descriptor.is_path:
        return "PATH"
    annotation = descriptor.annotation
    inner = getattr(annotation, "__args__", None)
    name = getattr(inner[0] if descriptor.is_list and inner else annotation, "__name__", "")
    return _TYPE_METAVARS.get(name, "VALUE")


def _usage_name(param: typer.core.TyperArgument) -> str:
    name = param.display_name_raw.upper()
    return (name if param.required else f"[{name}]") + ("..." if param.nargs != 1 else "")


typer.core.TyperOption.display_type_rich = _plain_metavar  # type: ignore[method-assign]
typer.core.TyperArgument.display_type_rich = _plain_metavar  # type: ignore[method-assign]
typer.core.TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]


class OutputFormat(StrEnum):
    """``-f/--format`` of the commands that print one result (like ``optuna``'s)."""

    table = "table"
    json = "json"


FormatOpt = Annotated[OutputFormat, typer.Option(
    "--format", "-f", metavar="table|json",
    help="Output format: a table for people, JSON for scripts.")]
#: ``--json``: the older spelling of ``-f json``, kept working but not shown
JsonAliasOpt = Annotated[bool, typer.Option(
    "--json", hidden=True, help="Same as --format json.")]


def output_format(fmt: StrEnum, as_json: bool) -> StrEnum:
    """``--format``, with the hidden ``--json`` alias winning when given."""
    return type(fmt)("json") if as_json else fmt


def elapsed(seconds: float) -> str:
    """A duration for progress lines: ``42 s``, ``3:07``, ``1:02:07``."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    hours, rest = divmod(seconds, 3600)
    return (f"{hours}:" if hours else "") + (f"{rest // 60:02d}" if hours else
                                            f"{rest // 60}") + f":{rest % 60:02d}"


def progress(text: str) -> None:
    """One progress line on stderr (``-q`` silences it; stdout holds results only)."""
    if not state["quiet"]:
        print(text, file=sys.stderr, flush=True)

def check_folder(value: Path | None) -> Path | None:
    """A folder option: refuse a path that is (or lies under) an existing file."""
    if value is not None:
        existing = next((p for p in (value, *value.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise typer.BadParameter(f"{value}: {existing} is a file, not a folder")
    return value


StorageOpt = Annotated[str | None, typer.Option(
    "--storage", envvar=None, show_default=False, metavar="URL",
    help="Optuna storage URL. Default: $OPTUNA_STORAGE, else sqlite:///storage/seqtune.db.")]
ArtifactDirOpt = Annotated[Path | None, typer.Option(
    show_default=False, callback=check_folder, metavar="DIR",
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
