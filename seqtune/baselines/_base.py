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
    #: exact to round-off (a yardstick for "solved", not a rival to beat)
    exact: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "note": self.note,
                "fit_data": self.fit_data, "val": self.val, "test": self.test,
                **({"exact": True} if self.exact else {})}

    def test_points(self, task: Task, split: Split) -> np.ndarray | None:
        """The main metric per test point (``Task.metric_points``), from the stored
        test forecasts or the test-fitted estimator; None if neither is kept."""
        if "test" in self.forecasts:
            return task.metric_points_values(split, self.forecasts["test"])
        estimator = self.fitted.get("test")
        if estimator is None or not hasattr(estimator, "predict"):
            return None
        return task.metric_points(split, np.asarray(estimator.predict(split.inputs)))


def score_on(task: Task, estimator: Any, split: Split) -> dict[str, float]:
    """The task's metrics for ``estimator.predict(split.inputs)`` (model space)."""
    return task.score(split, np.asarray(estimator.predict(split.inputs)))
