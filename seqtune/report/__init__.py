"""HTML reports: ``index.html``, one page per study and the post-mortem page.

Pages are rendered from the storage only (a best model is used only through
its stored checkpoint), work offline (``plotly.min.js`` sits beside them) and
are all rendered before the first one is written, each atomically, so a run
stopped early leaves the previous report as it was. The verdicts and key
figures also go to the studies for optuna-dashboard users.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import optuna

from seqtune.errors import SeqtuneError
from seqtune.report._dashboard import note_markdown, publish
from seqtune.report._pages import (
    POSTMORTEM_PAGE,
    StudyPage,
    index_context,
    load_view,
    study_page,
)
from seqtune.report._postmortem import PostmortemSection, postmortem_section
from seqtune.report._write import ensure_plotly_js, remove_stale_temps, render, write_atomic
from seqtune.study import open_storage, redact, resolve_artifact_dir
from seqtune.study._summary import is_postmortem

INDEX = "index.html"
T = TypeVar("T")


def write_report(storage_url: str, out_dir: str | Path = "reports",
                 artifact_dir: str | Path | None = None, publish_to_dashboard: bool = True
                 ) -> Path:
    """Write the report for every study in ``storage_url``; the path of ``index.html``.

    A study that cannot be read (several objectives, stored attrs of the wrong
    shape) is skipped: named on stderr and on the index page, the rest written."""
    storage = open_storage(storage_url, heartbeat_interval=None)
    artifacts = resolve_artifact_dir(storage_url, artifact_dir)
    studies = sorted(storage.get_all_studies(), key=lambda s: _natural(s.study_name))
    skipped: list[str] = []
    views = [view for s in studies if not is_postmortem(s)
             if (view := _readable(skipped, load_view, storage, s.study_name, artifacts))]
    pages = [study_page(view, views) for view in views]
    grids = [optuna.load_study(study_name=s.study_name, storage=storage) for s in studies
             if is_postmortem(s)]
    sections = [section for i, study in enumerate(grids)
                if (section := _readable(skipped, postmortem_section, i, study))]
    for reason in skipped:
        print(f"seqtune: warning: left out of the report: {reason}", file=sys.stderr)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    shown = redact(storage_url)
    files = {page.file: render("study.html", {**page.context(), "generated": stamp})
             for page in pages}
    if sections:
        files[POSTMORTEM_PAGE] = render("postmortem.html", {
            "title": "Flux post-mortem", "sections": sections, "generated": stamp})
    files[INDEX] = render("index.html", {**index_context(pages, sections, shown),
                                         "skipped": skipped, "generated": stamp})

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)
    ensure_plotly_js(out)
    for name, text in files.items():
        write_atomic(out / name, text.encode())
    for old in out.glob("study-*.html"):
        if old.name not in files:
            old.unlink()
    if publish_to_dashboard:
        _publish(pages, sections, artifacts)
    return out / INDEX


def _publish(pages: list[StudyPage], sections: list[PostmortemSection], artifacts: Path
             ) -> None:
    for page in pages:
        publish(page.view.study, note_markdown(page.view.study.study_name, page.verdict,
                                               [page.view.board.to_markdown()]),
                page.key_panels, artifacts)
    for section in sections:
        publish(section.study, note_markdown(section.name, section.explanation, []),
                section.panels, artifacts)


__all__ = ["INDEX", "write_report"]


def _readable(skipped: list[str], read: Callable[..., T], *args: Any) -> T | None:
    """``read(*args)``, or None with the reason added to ``skipped``."""
    try:
        return read(*args)
    except SeqtuneError as exc:
        skipped.append(str(exc))
        return None


def _natural(name: str) -> list[Any]:
    """Sort key that puts digitsum-L5 before digitsum-L10 (numbers as numbers)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
