"""The sequence tasks, by name."""

from __future__ import annotations

from typing import Any

from seqtune.errors import SeqtuneError
from seqtune.tasks._base import Split, Splits, Task
from seqtune.tasks.digitsum import DigitSumTask
from seqtune.tasks.rainfall import RainfallTask
from seqtune.tasks.seeded import SeededTask

TASKS: dict[str, type[Task]] = {t.name: t for t in (SeededTask, RainfallTask, DigitSumTask)}


def make_task(config: dict[str, Any]) -> Task:
    """Build a task from its config (``{"name": ..., **settings}``)."""
    settings = dict(config)
    name = settings.pop("name", None)
    if name not in TASKS:
        raise SeqtuneError(f"task.name: unknown task {name!r}; expected one of {sorted(TASKS)}")
    try:
        return TASKS[name](**settings)
    except TypeError as exc:
        raise SeqtuneError(f"task: bad setting for task {name!r}: {exc}") from None


__all__ = ["TASKS", "Split", "Splits", "Task", "make_task"]
