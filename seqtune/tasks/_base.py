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
    #: how verdicts compare two models on the test points: ``"bootstrap"`` (paired,
    #: over points and seeds) or ``"diebold-mariano"`` (one-step-ahead forecasts)
    paired_test: ClassVar[str] = "bootstrap"
    #: search-space parameters only this task (and not every task) accepts:
    #: parameter -> the task setting that bounds it from above, or None (e.g.
    #: ``{"window": "max_window"}``); a study of another task that searches one
    #: is refused before any trial runs
    extra_parameters: ClassVar[dict[str, str | None]] = {}
    #: settings that name a data file: a relative path in a study file is
    #: resolved against the study file's folder
    path_settings: ClassVar[tuple[str, ...]] = ()
    #: ``seqtune predict`` options the task reads besides ``--seq`` and ``--file``
    #: (``"csv"``, ``"steps"``); a study of another task refuses them
    predict_options: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The task's settings, JSON-serialisable (stored in the study)."""

    def described(self) -> dict[str, Any]:
        """The settings as a page shows them (the stored config by default)."""
        return self.config()

    @abstractmethod
    def splits(self, **data_params: Any) -> Splits:
        """Train/val/test splits; ``data_params`` are the task's knobs."""

    @abstractmethod
    def score(self, split: Split, predictions: np.ndarray) -> dict[str, float]:
        """Metrics of ``predictions`` on ``split``; the first key is ``self.metric``."""

    def tie_break(self, split: Split, predictions: np.ndarray) -> float | None:
        """Which of two epochs with the same metric on ``split`` the trainer keeps:
        the lower value (e.g. a classifier's log-loss, which still tells a confident
        model from a lucky one when the accuracy of a small split is the same).
        None (the default): the earlier epoch stays."""
        return None

    def metric_points(self, split: Split, predictions: np.ndarray) -> np.ndarray:
        """The main metric per test point (one value per example, e.g. its squared
        error or whether it is right): their mean is ``score(...)[self.metric]``.
        The paired tests of the verdicts compare two models point by point."""
        raise NotImplementedError(f"task {self.name!r} gives no per-point metric")

    def metric_points_values(self, split: Split, values: np.ndarray) -> np.ndarray:
        """:meth:`metric_points` of forecasts in the data's own units (the same as
        model space for a task that does not scale)."""
        return self.metric_points(split, values)

    def refit_splits(self, **data_params: Any) -> Splits:
        """The splits of the final fit before test: train is train+val (inputs and
        targets concatenated, the train split's ``meta``), val and test as in
        :meth:`splits`. Override where concatenating is not enough."""
        s = self.splits(**data_params)
        train = Split(np.concatenate([s.train.inputs, s.val.inputs]),
                      np.concatenate([s.train.targets, s.val.targets]), dict(s.train.meta))
        return Splits(train, s.val, s.test)

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

    # -- hooks the core calls, so that it never branches on a task --------------

    @classmethod
    def split_size(cls, settings: dict[str, Any]) -> tuple[int, int] | None:
        """(rows, values per row) of the largest split ``settings`` would generate,
        checked against a process's limit before any data is made; None where
        the task reads its data (its own reader checks the size)."""
        return None

    @classmethod
    def check_checkpoint(cls, settings: dict[str, Any], context: dict[str, Any]) -> str | None:
        """What makes a stored checkpoint unusable for this task (its task settings
        and :meth:`prediction_context`, read from a file), in a few words, or None;
        checked before its model is built. Checks nothing by default."""
        return None

    @classmethod
    def predict_input(cls, checkpoint: Any, rows: list[tuple[str, list[float]]],
                      options: dict[str, Any]) -> list[dict[str, Any]]:
        """``seqtune predict``: the predictions of ``checkpoint``'s model (a
        ``seqtune.study.Checkpoint``) for raw user input, one dict per input
        (``input``, ``prediction``, ...). ``rows`` are (where it came from, numbers),
        ``options`` those of :attr:`predict_options` that were given. Bad input is
        a ``SeqtuneError`` naming where it came from. By default a classifier
        predicts the label of token sequences 0..vocab_size-1."""
        from seqtune.errors import SeqtuneError
        from seqtune.predict import classify

        if cls.model_kind != "classifier":
            raise SeqtuneError(f"predict: task {cls.name!r} does not read raw input "
                               "(it defines no predict_input)")
        return classify(checkpoint, rows)

    def prediction_context(self) -> dict[str, Any]:
        """What a checkpoint stores, besides the data knobs, to turn raw user input
        into model input (e.g. a scaler's mean and std), JSON-serialisable."""
        return {}

    def baselines(self, splits: Splits) -> list[Any]:
        """The classical baselines (``seqtune.baselines.BaselineResult``) fitted
        and scored on ``splits``; none by default."""
        return []

    def report_panels(self, view: Any, views: list[Any]) -> list[Any]:
        """The task's own figures (``seqtune.report._figures.Panel``) on the page
        of ``view`` (a ``seqtune.report._view.StudyView``; ``views`` are every
        study of the report); none by default."""
        return []

    def report_verdict(self, view: Any, views: list[Any]) -> list[str]:
        """The task's own verdict sentences on the page of ``view``; none by default."""
        return []
