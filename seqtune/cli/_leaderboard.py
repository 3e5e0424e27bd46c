"""``seqtune leaderboard``: the best trial per architecture against every baseline."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import optuna
import sqlalchemy.exc
import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url

from seqtune.cli._app import ArtifactDirOpt, StorageOpt, app, console
from seqtune.errors import SeqtuneError
from seqtune.stored import check_stored
from seqtune.study import (
    Leaderboard,
    leaderboard,
    open_storage,
    redact,
    resolve_artifact_dir,
    resolve_storage_url,
)
from seqtune.study._summary import is_postmortem


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"


def _refuse_missing_sqlite(url: str) -> None:
    """A read-only command must not create an empty SQLite file at a mistyped path."""
    try:
        parsed = make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return  # open_storage reports a malformed URL
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and database not in (None, "", ":memory:") \
            and not Path(database).is_file():
        raise SeqtuneError(f"storage {redact(url)}: {database} does not exist (no studies yet; "
                           "run `seqtune optimize` or pass --storage)")


def load_study(study_name: str, url: str) -> optuna.Study:
    """Load an existing study; an unknown name is one :class:`SeqtuneError` line."""
    _refuse_missing_sqlite(url)
    storage = open_storage(url)
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        known = optuna.get_all_study_names(storage)
        raise SeqtuneError(f"study {study_name!r} not found in {redact(url)}; studies there: "
                           f"{', '.join(known) if known else 'none'}") from None


def seqtune_study(study_name: str, url: str, command: str) -> optuna.Study:
    """:func:`load_study`, refusing (one line) a post-mortem grid or a study that
    holds no seqtune results (made by ``optuna create-study``, ask/tell)."""
    study = load_study(study_name, url)
    if is_postmortem(study):
        raise SeqtuneError(f"study {study_name!r} is a post-mortem grid, not a tuning study: "
                           f"`seqtune {command}` does not apply; `seqtune postmortem` and "
                           "the report's post-mortem page show its verdict")
    if "task" not in study.user_attrs:
        raise SeqtuneError(f"study {study_name!r} holds no seqtune results (no task stored: "
                           "made by `optuna create-study` or ask/tell?); read its trials with "
                           f"`optuna trials --study-name {study_name}`, or let seqtune run it: "
                           f"`seqtune optimize STUDY_FILE --study-name {study_name}`")
    check_stored(study)
    return study


#: metrics per split in the terminal table (csv, json and markdown have them all)
TABLE_METRICS = 2


def _table(board: Leaderboard) -> Table:
    """The first metrics as a rich table; the notes go below it, by rank."""
    table = Table(title=f"{board.study}: {board.metric} ({board.direction}), sorted by val")
    shown = {f"{part}_{m}" for part in ("val", "test") for m in board.metrics[:TABLE_METRICS]}
    keep = [i for i, c in enumerate(board.columns()[:-1])
            if not c.startswith(("val_", "test_")) or c in shown]
    for i in keep:
        column = board.columns()[i]
        numeric = column.startswith(("val_", "test_", "rank"))
        table.add_column(column, justify="right" if numeric else "left",
                         overflow="fold" if numeric else "ellipsis")
    for cells in board.formatted():
        table.add_row(*(Text(cells[i]) for i in keep))  # names are data, not markup
    return table


def show_leaderboard(study: optuna.Study, fmt: Format = Format.table,
                     artifact_dir: Path | None = None) -> None:
    """Print the leaderboard of ``study`` in ``fmt`` on stdout (``artifact_dir``:
    where the repeats' per-point results are, for the paired tests)."""
    board = leaderboard(study, artifact_dir)
    if fmt is Format.table:
        console.print(_table(board))
        for record in board.records():
            console.print(f"{record['rank']}. {record['name']}: {record['notes']}",
                          highlight=False, markup=False)
        for note in board.notes:
            console.print(f"- {note}", highlight=False, markup=False)
        return
    text = {Format.csv: board.to_csv, Format.json: board.to_json,
            Format.markdown: board.to_markdown}[fmt]()
    print(text, end="" if text.endswith("\n") else "\n")


@app.command("leaderboard")
def leaderboard_cmd(
    study_name: Annotated[str, typer.Argument(
        metavar="STUDY", help="Study name in the storage, e.g. seeded-drift.")],
    storage: StorageOpt = None,
    artifact_dir: ArtifactDirOpt = None,
    fmt: Annotated[Format, typer.Option(
        "--format", "-f", metavar="table|csv|json|markdown",
        help=f"Output format; the table shows the first {TABLE_METRICS} metrics, the others "
             "all of them.")]
    = Format.table,
) -> None:
    """Best trial per architecture and every baseline, val and test side by side.

    Rows are sorted by the val metric in the study's direction; the notes say,
    from the numbers, where the tuned models lose. Baselines are read from the
    study blob `baselines` (stored by `seqtune optimize`).

    Examples:

      seqtune leaderboard seeded-drift
      seqtune leaderboard rainfall-csv --storage sqlite:///other.db -f markdown
      seqtune leaderboard digitsum-L35 -f json
    """
    url = resolve_storage_url(storage)
    show_leaderboard(seqtune_study(study_name, url, "leaderboard"), fmt,
                     resolve_artifact_dir(url, artifact_dir))
