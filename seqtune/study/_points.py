"""Per-point test results of the baselines, for the paired tests of the verdicts.

Baselines are deterministic, so their test forecasts are recomputed from the
task (once per process and data) rather than stored in the study.
"""

from __future__ import annotations

import inspect

import numpy as np
import optuna

from seqtune.errors import SeqtuneError
from seqtune.stored import stored_fingerprint, stored_task
from seqtune.tasks import TASKS, Task, make_task

_CACHE: dict[str, dict[str, np.ndarray]] = {}


def rebuild_task(config: dict) -> Task:
    """The task from its stored ``config()``, which may also hold derived facts (e.g.
    rainfall's ``series`` name) that its constructor does not take."""
    cls = TASKS.get(config.get("name"))
    if cls is None:
        return make_task(config)  # raises the usual unknown-task error
    accepted = inspect.signature(cls).parameters
    return make_task({k: v for k, v in config.items() if k == "name" or k in accepted})


def study_task(study: optuna.Study) -> Task | None:
    """The study's task rebuilt from its user attrs, if its data are unchanged."""
    config = stored_task(study)
    if config is None:
        return None
    try:
        task = rebuild_task(config)
    except SeqtuneError:
        return None
    return task if task.fingerprint() == stored_fingerprint(study) else None


def baseline_points(task: Task) -> dict[str, np.ndarray]:
    """``{baseline name: main metric per test point}`` (cached per data fingerprint)."""
    key = task.fingerprint()
    if key not in _CACHE:
        from seqtune.baselines import evaluate_baselines

        splits = task.splits(**task.default_data_params())
        points = {}
        for result in evaluate_baselines(task):
            try:
                values = result.test_points(task, splits.test)
            except NotImplementedError:
                values = None
            if values is not None:
                points[result.name] = np.asarray(values, dtype=np.float64)
        _CACHE[key] = points
    return _CACHE[key]
