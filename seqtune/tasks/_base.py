"""The interface every task implements, and the split container they share."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

ModelKind = Literal["generator", "forecaster", "classifier"]


@dataclass(frozen=True)
class Split:
    """One data split as model-ready arrays.

    ``inputs`` and ``targets`` are what the model sees (scaled where the task
    scales); ``meta`` carries what the task needs to score predictions in the
    user's units (e.g. the target scaler) or to plot them (e.g. time index).
    """

    inputs: np.ndarray
    targets: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.targets)


@dataclass(frozen=True)
class Splits:
    train: Split
    val: Split
    test: Split

    def __getitem__(self, name: str) -> Split:
        return getattr(self, name)


Predictor = Callable[[np.ndarray], np.ndarray]


class Task(ABC):
    """A sequence task: deterministic data from a seed, splits, metric and knobs.

    Tasks know nothing about models: they hand out arrays and score arrays.
    """

    name: ClassVar[str]
    metric: ClassVar[str]
    direction: ClassVar[Literal["minimize", "maximize"]]
    model_kind: ClassVar[ModelKind]
    #: trial parameter names that change the data (the task's sequence-length knob)
    data_params: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The task's settings, JSON-serialisable (stored in the study)."""

    @abstractmethod
    def splits(self, **data_params: Any) -> Splits:
        """Train/val/test splits; ``data_params`` are the task's knobs."""

    @abstractmethod
    def score(self, split: Split, predictions: np.ndarray) -> dict[str, float]:
        """Metrics of ``predictions`` on ``split``; the first key is ``self.metric``."""

    def diagnostics(self, split: Split, predict: Predictor) -> dict[str, Any]:
        """Extra evidence that needs the model itself (e.g. permutation importance)."""
        return {}

    def model_spec(self) -> dict[str, Any]:
        """Shapes the model builder needs (input features, outputs, ...)."""
        return {}

    def raw_data(self) -> list[np.ndarray]:
        """The arrays the fingerprint is computed from."""
        s = self.splits(**self.default_data_params())
        return [s.train.inputs, s.train.targets, s.val.inputs, s.val.targets,
                s.test.inputs, s.test.targets]

    def default_data_params(self) -> dict[str, Any]:
        return {}

    def fingerprint(self) -> str:
        """A short hash of the config and the data: two studies with the same
        fingerprint were trained and scored on identical numbers."""
        h = hashlib.sha256(json.dumps(self.config(), sort_keys=True).encode())
        for array in self.raw_data():
            h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()[:16]
