"""Every baseline of a task, on the task's own splits, scored by the task."""

from __future__ import annotations

from threadpoolctl import threadpool_limits

from seqtune.baselines._base import BaselineResult
from seqtune.tasks import Splits, Task

#: results at the default splits, by data fingerprint: a run stores them, then
#: its leaderboards and report reuse them for the paired tests
_CACHE: dict[str, list[BaselineResult]] = {}


def evaluate_baselines(task: Task, splits: Splits | None = None) -> list[BaselineResult]:
    """Fit every baseline of ``task`` and score it on val and test: each val
    number is fitted on train; each test number on train or, where the task
    says so (a forecast's fitted rows, then one step ahead from the true
    history), on train+val. ``BaselineResult.fit_data`` says which.

    ``splits`` default to the task's splits at its default data knobs (e.g.
    a forecast's window of 12), the same objects the trials are scored on;
    those results are cached for the process (baselines are deterministic).
    The baselines are the task's own (:meth:`Task.baselines`, which imports
    scikit-learn or statsmodels only when called). The fits are small, so they
    run on one BLAS thread (several threads make them many times slower on a
    busy machine).
    """
    if splits is None:  # the default splits: computed once per process and data
        key = task.fingerprint()
        if key not in _CACHE:
            with threadpool_limits(limits=1):
                _CACHE[key] = task.baselines(task.splits(**task.default_data_params()))
        return list(_CACHE[key])
    with threadpool_limits(limits=1):
        return task.baselines(splits)
