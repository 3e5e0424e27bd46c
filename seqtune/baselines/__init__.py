"""Classical baselines on the same splits and metrics as the tuned models.

Each task's baselines are fitted on its training split (``rainfall``: on
train+val for the test number, then one step ahead without refit) and
scored by the task's own ``score``; :func:`ensure_baselines` stores them
once per study as the user attr ``baselines`` (readable with ``optuna
studies -f json``).
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
