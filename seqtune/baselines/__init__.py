"""Classical baselines on the same splits and metrics as the tuned models.

Each task's baselines live in its package (:meth:`~seqtune.tasks.Task.baselines`,
e.g. ``seqtune/tasks/forecast/_baselines.py``), fitted on its training split
(a forecast's test numbers on train+val, then one step ahead without refit)
and scored by the task's own ``score``; this package holds what they share:
the result record, :func:`evaluate_baselines`, and :func:`ensure_baselines`,
which stores them once per study as the blob ``baselines``.
"""

from seqtune.baselines._base import BaselineResult
from seqtune.baselines._evaluate import evaluate_baselines
from seqtune.baselines._store import ATTR, baselines_key, ensure_baselines, stored_baselines

__all__ = [
    "ATTR",
    "BaselineResult",
    "baselines_key",
    "ensure_baselines",
    "evaluate_baselines",
    "stored_baselines",
]
