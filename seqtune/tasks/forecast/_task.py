"""The forecast task: one-step-ahead forecasting of a column of any CSV.

``csv`` names the file and ``target`` the column to forecast; ``exogenous``
columns, if any, are model inputs beside the target's past values (read
from the same rows of the same window). With ``time`` a date column: rows are
sorted by it (a newest-first file trains in time order), its step must be
regular (a gap, a duplicate or an unparseable date is a one-line error) and
gives the season length (monthly 12, quarterly 4, weekly 52, daily 7, hourly
24) unless ``season`` is given. Without ``time`` the rows are taken in file
order and ``season`` must be given.

Splits are chronological: the last ``test_size`` points are test, the
``val_size`` before them val, the rest train. Scaling is fitted on train only.
A val/test target's input window is the true history before it (walk-forward),
which may reach back into the previous split: past observations, not leakage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from seqtune.errors import SeqtuneError
from seqtune.tasks._base import Split, Splits, Task
from seqtune.tasks.forecast._data import read_csv_dated, read_csv_series, season_of, step_words

MIN_TRAIN_WINDOWS = 12
MAX_SEASON = 1000

#: the data a forecast task reads: values (time, columns), their dates and step
Series = tuple[np.ndarray, pd.DatetimeIndex | None, pd.DateOffset | None]


class ForecastTask(Task):
    name: ClassVar[str] = "forecast"
    metric: ClassVar[str] = "mse"
    direction: ClassVar[Literal["minimize", "maximize"]] = "minimize"
    model_kind = "forecaster"
    paired_test: ClassVar[str] = "diebold-mariano"
    data_params = ("window",)
    extra_parameters: ClassVar[dict[str, str | None]] = {"window": "max_window"}
    path_settings: ClassVar[tuple[str, ...]] = ("csv",)
    predict_options: ClassVar[tuple[str, ...]] = ("csv", "steps")
    #: observations per seasonal cycle of a series without dates or ``season``
    #: (None: such a series needs ``season``)
    default_season: ClassVar[int | None] = None

    def __init__(self, csv: str | None = None, target: str | None = None,
                 exogenous: list[str] | None = None, test_size: int = 50,
                 val_size: int = 50, max_window: int = 36, time: str | None = None,
                 season: int | None = None) -> None:
        self.csv, self.target, self.time = csv, target, time
        if exogenous is not None and not (isinstance(exogenous, list | tuple)
                                          and all(isinstance(c, str) and c for c in exogenous)):
            raise SeqtuneError(f"task.exogenous: expected a list of column names, "
                               f"got {exogenous!r}")
        self.exogenous = tuple(exogenous or ())
        if target in self.exogenous:
            raise SeqtuneError(f"task.exogenous: {target!r} is the target; list only the "
                               "other input columns")
        for key, value in (("test_size", test_size), ("val_size", val_size),
                           ("max_window", max_window)):
            if not isinstance(value, int) or value < 1:
                raise SeqtuneError(f"task.{key}: must be a positive integer, got {value!r}")
        if season is not None and (not isinstance(season, int) or isinstance(season, bool)
                                   or not 2 <= season <= MAX_SEASON):
            raise SeqtuneError(f"task.season: observations per seasonal cycle, an integer "
                               f"2..{MAX_SEASON}, got {season!r}")
        self.test_size, self.val_size, self.max_window = test_size, val_size, max_window
        #: the values (time, target then exogenous columns), oldest first; with
        #: ``time`` their dates and regular step, else None
        self.data, self.dates, self.frequency = self._read()
        self._season = season or self._inferred_season()
        self.n_train = len(self.data) - val_size - test_size
        if self.n_train - max_window < MIN_TRAIN_WINDOWS:
            raise SeqtuneError(
                f"{self.source}: series too short: {len(self.data)} points leave "
                f"{self.n_train} for training after val {val_size} + test {test_size}; "
                f"need at least {max_window + MIN_TRAIN_WINDOWS} for windows up to {max_window}")
        if self._season > self.n_train:
            raise SeqtuneError(f"task.season: a season of {self._season} steps is longer than "
                               f"the {self.n_train} training points")
        train = self.data[: self.n_train]
        self.mean, self.std = train.mean(axis=0), train.std(axis=0)
        self.std[self.std == 0] = 1.0

    def _read(self) -> Series:
        """The series of ``csv``: columns ``target`` and ``exogenous``, sorted by
        ``time`` where given."""
        if not isinstance(self.csv, str) or not self.csv:
            raise SeqtuneError("task.csv: the CSV file of your series; required (or --csv FILE)")
        if not isinstance(self.target, str) or not self.target:
            raise SeqtuneError(f"task.target: the name of the column to forecast; required "
                               f"(or --target COL), got {self.target!r}")
        if self.time is None:
            return read_csv_series(self.csv, self.target, self.exogenous), None, None
        if not isinstance(self.time, str) or not self.time:
            raise SeqtuneError(f"task.time: the name of the CSV's date column, got {self.time!r}")
        return read_csv_dated(self.csv, self.target, self.exogenous, self.time)

    def _inferred_season(self) -> int:
        if self.frequency is None:
            if self.default_season is None:
                raise SeqtuneError("task.season: unknown without dates; set task.time (the "
                                   "date column) or task.season (observations per cycle, "
                                   "e.g. 12 for monthly data)")
            return self.default_season
        if (season := season_of(self.frequency)) is None:
            raise SeqtuneError(f"{self.csv}: column {self.time!r}: no natural season for a step "
                               f"of one {step_words(self.frequency)}; set task.season "
                               "(observations per cycle, e.g. 12 for monthly data)")
        return season

    # -- hooks -----------------------------------------------------------------

    def baselines(self, splits: Splits) -> list[Any]:
        from seqtune.tasks.forecast._baselines import forecast_baselines  # statsmodels: slow
        return forecast_baselines(self, splits)

    def report_panels(self, view: Any, views: list[Any]) -> list[Any]:
        from seqtune.tasks.forecast._report import forecast_panels
        return forecast_panels(self, view.checkpoint)

    def prediction_context(self) -> dict[str, Any]:
        return {"columns": [self.target, *self.exogenous], "mean": self.mean.tolist(),
                "std": self.std.tolist()}

    @classmethod
    def check_checkpoint(cls, settings: dict[str, Any], context: dict[str, Any]) -> str | None:
        columns = context.get("columns")
        if not (isinstance(context.get("window"), int) and 1 <= context["window"] <= 1000
                and isinstance(columns, list) and columns
                and all(isinstance(context.get(k), list) and len(context[k]) == len(columns)
                        for k in ("mean", "std"))):
            return "context needs window, columns, mean and std"
        return None

    @classmethod
    def predict_input(cls, checkpoint: Any, rows: list[tuple[str, list[float]]],
                      options: dict[str, Any]) -> list[dict[str, Any]]:
        """The next ``steps`` values after each history (``--seq``, ``--file``
        rows; ``--csv``: the last rows of a CSV with the study's columns)."""
        from seqtune.tasks.forecast._predict import forecast_histories
        return forecast_histories(checkpoint, rows, options)

    # -- the task --------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "csv": str(self.csv) if self.csv else None,
                "target": self.target, "exogenous": list(self.exogenous),
                "test_size": self.test_size, "val_size": self.val_size,
                "max_window": self.max_window,
                # only where set, so the config of a study made before them is unchanged
                **({"time": self.time} if self.time is not None else {}),
                **({"season": self._season}
                   if self.time is not None or self._season != self.default_season else {})}

    @property
    def source(self) -> str:
        """Where the series comes from, for messages."""
        return str(self.csv)

    @property
    def series_name(self) -> str:
        """What the series is, for titles: the CSV's file name."""
        return Path(self.csv).name

    @property
    def series_label(self) -> str:
        """What the values are, for axes and legends: the target column."""
        return self.target

    @property
    def series_words(self) -> str:
        """The series in words, for captions."""
        return f"column {self.target!r} of {self.series_name}"

    @property
    def index_label(self) -> str:
        """What the row index of a series without dates counts, for axes."""
        return "index"

    @property
    def season_length(self) -> int:
        """Observations per seasonal cycle: ``task.season`` if given, else inferred
        from the date column's frequency (monthly 12, quarterly 4, weekly 52,
        daily 7, hourly 24), else :attr:`default_season`."""
        return self._season

    @property
    def series(self) -> np.ndarray:
        """The target series in its own units."""
        return self.data[:, 0]

    def split_bounds(self) -> dict[str, tuple[int, int]]:
        """Index ranges [start, stop) of each split's targets."""
        n, n_val = self.n_train, self.val_size
        return {"train": (0, n), "val": (n, n + n_val), "test": (n + n_val, len(self.data))}

    def default_data_params(self) -> dict[str, Any]:
        return {"window": min(12, self.max_window)}

    def splits(self, window: int = 12, **_: Any) -> Splits:
        if not 1 <= window <= self.max_window:
            raise SeqtuneError(f"window: must be within 1..{self.max_window}, got {window}")
        scaled = ((self.data - self.mean) / self.std).astype(np.float32)
        parts = []
        for start, stop in self.split_bounds().values():
            first = max(start, window)  # train starts once a full window exists
            idx = np.arange(first, stop)
            inputs = np.stack([scaled[t - window:t] for t in idx])
            parts.append(Split(inputs, scaled[idx, 0],
                               {"index": idx, "y_mean": float(self.mean[0]),
                                "y_std": float(self.std[0])}))
        return Splits(*parts)

    def model_spec(self) -> dict[str, Any]:
        return {"n_features": self.data.shape[1]}

    def unscale(self, split: Split, values: np.ndarray) -> np.ndarray:
        return values.astype(np.float64) * split.meta["y_std"] + split.meta["y_mean"]

    def score(self, split: Split, predictions: np.ndarray) -> dict[str, float]:
        """MSE and MAE in the series' own units; ``predictions`` are scaled like
        the split's targets (what the model outputs)."""
        return self.score_values(split, self.unscale(split, predictions.reshape(-1)))

    def metric_points(self, split: Split, predictions: np.ndarray) -> np.ndarray:
        """Squared error of each one-step forecast, in the series' units."""
        return self.metric_points_values(split, self.unscale(split, predictions.reshape(-1)))

    def metric_points_values(self, split: Split, values: np.ndarray) -> np.ndarray:
        y = self.unscale(split, split.targets)
        return (np.asarray(values, dtype=np.float64).reshape(-1) - y) ** 2

    def refit_splits(self, **data_params: Any) -> Splits:
        """Train+val windows (each from the true history before its target, scaled
        with the train statistics), with their time index."""
        s = self.splits(**data_params)
        train = Split(np.concatenate([s.train.inputs, s.val.inputs]),
                      np.concatenate([s.train.targets, s.val.targets]),
                      {**s.train.meta,
                       "index": np.concatenate([s.train.meta["index"], s.val.meta["index"]])})
        return Splits(train, s.val, s.test)

    def score_values(self, split: Split, values: np.ndarray) -> dict[str, float]:
        """MSE and MAE of forecasts already in the series' own units."""
        y = self.unscale(split, split.targets)
        p = np.asarray(values, dtype=np.float64).reshape(-1)
        return {"mse": float(np.mean((p - y) ** 2)), "mae": float(np.mean(np.abs(p - y)))}
