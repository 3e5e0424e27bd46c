"""``seqtune report``: the HTML report of every study in the storage."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from seqtune.cli._app import ArtifactDirOpt, StorageOpt, app, check_folder, console
from seqtune.cli._leaderboard import _refuse_missing_sqlite
from seqtune.study import resolve_storage_url


def make_report(url: str, out: Path, artifact_dir: Path | None) -> Path:
    """Write the report and say where it is."""
    from seqtune.report import write_report  # plotly and jinja2 load only when needed

    started = time.perf_counter()
    index = write_report(url, out, artifact_dir)
    console.print(f"report: {index} ({time.perf_counter() - started:.1f} s)", highlight=False)
    return index


@app.command("report")
def report_cmd(
    storage: StorageOpt = None,
    out: Annotated[Path, typer.Option(callback=check_folder, metavar="DIR",
                                      help="Folder of the HTML pages.")] = Path("reports"),
    artifact_dir: ArtifactDirOpt = None,
) -> None:
    """Write OUT/index.html, one page per study and the post-mortem page.

    The pages work offline (plotly.min.js is written beside them) and each is
    replaced atomically, so an interrupted run leaves the previous report. The
    verdicts and key figures are also saved on the studies as optuna-dashboard
    notes, graphs and artifacts.

    Examples:

      seqtune report
      seqtune report --storage sqlite:///other.db --out /tmp/reports
    """
    url = resolve_storage_url(storage)
    _refuse_missing_sqlite(url)
    make_report(url, out, artifact_dir)
