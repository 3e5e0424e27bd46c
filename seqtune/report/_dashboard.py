"""Show the report's conclusions to optuna-dashboard users: the verdict as the
study's note, the key figures as dashboard graph objects and as JSON artifacts
in the study's artifact store. Every run replaces what the previous one put."""

from __future__ import annotations

import html
import io
import tempfile
from pathlib import Path

import optuna
import plotly.graph_objects as go
from optuna.artifacts import FileSystemArtifactStore, get_all_artifact_meta, upload_artifact
from optuna_dashboard import get_note, save_note, save_plotly_graph_object

from seqtune.report._figures import TEMPLATE, Panel, text
from seqtune.stored import stored_metric
from seqtune.study._summary import name_metric

ARTIFACT_SUFFIX = ".plotly.json"


def note_markdown(title: str, verdict: list[str], tables: list[str]) -> str:
    """The note: heading, verdict bullets, then tables (markdown). ``<`` and ``&``
    are escaped, so no user string becomes HTML in the dashboard."""
    body = "\n".join([f"## seqtune report: {title}", "", *(f"- {line}" for line in verdict),
                      "", *tables])
    return html.escape(body, quote=False)


def publish(study: optuna.Study, note: str, panels: list[Panel],
            artifact_dir: Path | None) -> None:
    """Replace the study's note, graph objects (titled: the dashboard shows no
    heading above them) and figure artifacts; name the study's objective."""
    if "metric" in study.user_attrs:
        name_metric(study, stored_metric(study))
    if get_note(study) != note:  # an unchanged note keeps its version
        save_note(study, note)
    for panel in panels:
        figure = go.Figure(panel.figure).update_layout(template=TEMPLATE,
                                                       title={"text": text(panel.title)})
        save_plotly_graph_object(study, figure, graph_object_id=f"seqtune-{panel.id}")
        if artifact_dir is not None:
            _store_figure(study, f"{panel.id}{ARTIFACT_SUFFIX}", figure.to_json().encode(),
                          artifact_dir)


def _store_figure(study: optuna.Study, filename: str, data: bytes, artifact_dir: Path) -> None:
    """Overwrite the artifact named ``filename`` in place, or upload it once."""
    artifact_dir.mkdir(parents=True, exist_ok=True)
    store = FileSystemArtifactStore(artifact_dir)
    existing = [m for m in get_all_artifact_meta(study) if m.filename == filename]
    if existing:
        store.write(existing[0].artifact_id, io.BytesIO(data))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / filename
        path.write_bytes(data)
        upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=study,
                        mimetype="application/json")
