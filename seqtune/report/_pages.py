"""Read each study from the storage and turn it into a page context."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from seqtune.errors import SeqtuneError
from seqtune.report._figures import Panel, importances, study_panels
from seqtune.report._postmortem import PostmortemSection
from seqtune.report._tasks import task_panels
from seqtune.report._verdict import failed_trials, headline, study_verdict
from seqtune.report._view import StudyView
from seqtune.stored import check_stored, stored_checkpoint, stored_fingerprint, stored_task
from seqtune.study import leaderboard, load_best_checkpoint
from seqtune.study._leaderboard import TUNED
from seqtune.study._points import rebuild_task

POSTMORTEM_PAGE = "postmortem.html"
#: what a page says for a study that seqtune did not make (``optuna create-study``)
NO_TASK = "none stored (not made by seqtune)"


def page_name(study_name: str) -> str:
    """A safe file name for a study page; a name that needed changes gets a hash
    suffix, so two studies never share a page."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", study_name).strip("-.")
    if slug != study_name or not slug:
        slug = f"{slug or 'study'}-{hashlib.sha256(study_name.encode()).hexdigest()[:8]}"
    return f"study-{slug}.html"


def load_view(storage: optuna.storages.BaseStorage, name: str,
              artifact_dir: Path) -> StudyView:
    """A study with its leaderboard, its task rebuilt from the stored config and
    its best checkpoint; what cannot be had is named in ``problems``. A study
    whose stored attrs cannot be read (:func:`~seqtune.stored.check_stored`) is
    one :class:`SeqtuneError`."""
    study = optuna.load_study(study_name=name, storage=storage)
    check_stored(study)
    problems, task, checkpoint = [], None, None
    config = stored_task(study)
    if config is None:
        problems.append("no task stored with this study (not made by seqtune): only the "
                        "generic plots are shown")
    else:
        try:
            task = rebuild_task(config)
        except SeqtuneError as exc:
            problems.append(f"the task could not be rebuilt ({exc}): task figures omitted")
        if task is not None and task.fingerprint() != stored_fingerprint(study):
            problems.append("the task's data differ from the data this study was trained on "
                            "(fingerprint mismatch): task figures omitted")
            task = None
    if task is not None and stored_checkpoint(study) is not None:
        try:
            checkpoint = load_best_checkpoint(study, artifact_dir)
        except (SeqtuneError, RuntimeError) as exc:
            problems.append(f"best model not loaded: {exc}")
    elif task is not None:
        problems.append("no best-model checkpoint stored: predicted-vs-true plots omitted")
    return StudyView(study, leaderboard(study, artifact_dir), task, checkpoint,
                     tuple(problems), artifact_dir)


@dataclass(frozen=True)
class StudyPage:
    view: StudyView
    file: str
    verdict: list[str]
    panels: list[Panel]
    #: the figures pushed to the dashboard (the ones it cannot draw itself)
    key_panels: list[Panel] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        study, board = self.view.study, self.view.board
        return {"title": study.study_name, "study": study.study_name,
                "task": json.dumps(self.view.task.described() if self.view.task else
                                   stored_task(study), sort_keys=True)
                if stored_task(study) is not None else NO_TASK,
                "metric": board.metric, "direction": board.direction,
                "columns": board.columns(), "rows": board.formatted(), "notes": board.notes,
                "verdict": self.verdict, "panels": self.panels,
                "failed": failed_trials(study), "problems": self.view.problems}


def study_page(view: StudyView, views: list[StudyView]) -> StudyPage:
    study = view.study
    scores = importances(study)
    own = task_panels(view, views)
    return StudyPage(view, page_name(study.study_name), study_verdict(view, scores, views),
                     own + study_panels(study, view.board.metric), own)


def index_context(pages: list[StudyPage], sections: list[PostmortemSection],
                  storage: str) -> dict[str, Any]:
    rows = []
    for page in pages:
        study = page.view.study
        states = [t.state for t in study.get_trials(deepcopy=False)]
        tuned = next((r for r in page.view.board.rows if r["kind"] == TUNED), None)
        metric = page.view.board.metric
        rows.append({"file": page.file, "study": study.study_name,
                     "task": (stored_task(study) or {}).get("name", NO_TASK),
                     "metric": f"{metric} ({page.view.board.direction})",
                     "trials": f"{states.count(TrialState.COMPLETE)} / {len(states)}",
                     "best": "" if tuned is None else
                     f"{tuned['name']}: val {tuned['val'][metric]:.4g}, test "
                     + ("-" if tuned["test"].get(metric) is None
                        else f"{tuned['test'][metric]:.4g}"),
                     "verdict": headline(page.view)})
    return {"title": "seqtune report", "storage": storage, "studies": rows,
            "postmortem": POSTMORTEM_PAGE if sections else None,
            "postmortem_studies": [s.name for s in sections]}
