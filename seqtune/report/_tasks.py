"""Each task's own figures and the best model's predicted-vs-true plots
(one module per task: ``_seeded``, ``_rainfall``, ``_digitsum``).

The best model is the study's stored checkpoint; it only predicts here.
"""

from __future__ import annotations

from seqtune.report._digitsum import digitsum_panels
from seqtune.report._figures import Panel
from seqtune.report._rainfall import rainfall_panels
from seqtune.report._seeded import seeded_panels
from seqtune.report._view import StudyView
from seqtune.tasks.digitsum import DigitSumTask
from seqtune.tasks.rainfall import RainfallTask
from seqtune.tasks.seeded import SeededTask


def task_panels(view: StudyView, views: list[StudyView]) -> list[Panel]:
    """The task's own figures for ``view``, then its best model's predictions."""
    task = view.task
    if isinstance(task, SeededTask):
        return seeded_panels(view)
    if isinstance(task, RainfallTask):
        return rainfall_panels(task, view.checkpoint)
    if isinstance(task, DigitSumTask):
        return digitsum_panels(view, views)
    return []
