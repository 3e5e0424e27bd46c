"""`seeded`: continue a sequence whose rule is conditioned on its first values.

The package holds all of the task: data and scoring (``_task``), its baselines
(``_baselines``, scikit-learn, imported when the baselines run) and its report
figures and verdict sentence (``_report``, imported by the report).
"""

from seqtune.tasks.seeded._task import (
    RULES,
    SeededTask,
    continue_sequence,
    drift_ratio_per_step,
    drift_slope,
)

__all__ = ["RULES", "SeededTask", "continue_sequence", "drift_ratio_per_step", "drift_slope"]
