"""What every baseline reports, and the scoring step they share with the trials."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqtune.tasks import Split, Task

#: what a baseline was fitted on for each number (``"nothing"``: it has no parameters)
FitData = dict[str, str]


@dataclass
class BaselineResult:
    """One baseline's val and test metrics, computed by the task's own ``score``.

    ``fitted`` holds the fitted estimator behind each number and ``forecasts``
    (where a task fills it) the predictions each number scored, in the
    data's own units (both kept in memory only, so that tests can inspect
    what a fit saw); ``to_dict`` is what the study stores.
    """

    name: str
    description: str
    val: dict[str, float]
    test: dict[str, float]
    fit_data: FitData
    note: str = ""
    fitted: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    forecasts: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "note": self.note,
                "fit_data": self.fit_data, "val": self.val, "test": self.test}


def score_on(task: Task, estimator: Any, split: Split) -> dict[str, float]:
    """The task's metrics for ``estimator.predict(split.inputs)`` (model space)."""
    return task.score(split, np.asarray(estimator.predict(split.inputs)))
