"""Each task's own figures and the best model's predicted-vs-true plots: the
task's :meth:`~seqtune.tasks.Task.report_panels` (each built-in task's figures
live in its package, ``seqtune/tasks/<name>/_report.py``).

The best model is the study's stored checkpoint; it only predicts here.
"""

from __future__ import annotations

from seqtune.report._figures import Panel
from seqtune.report._view import StudyView


def task_panels(view: StudyView, views: list[StudyView]) -> list[Panel]:
    """The task's own figures for ``view``, then its best model's predictions."""
    return view.task.report_panels(view, views) if view.task is not None else []
