"""`rainfall`: one-step-ahead forecasting of a monthly series (the "RNN loop" post).

The default series is statsmodels' bundled ``elnino`` (61 years x 12 months of
sea-surface temperature, read row by row into one chronological series), so
it runs offline. ``csv`` reads the post's ``Rainfall_data.csv`` format.

Splits are chronological: the last ``test_size`` points are test, the
``val_size`` before them val, the rest train. Scaling is fitted on train only.
A val/test target's input window is the true history before it (walk-forward),
which may reach back into the previous split: past observations, not leakage.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from seqtune.errors import SeqtuneError
from seqtune.tasks._base import Split, Splits, Task

TARGET = "Precipitation"
EXOGENOUS = ("Specific Humidity", "Relative Humidity", "Temperature")
MIN_TRAIN_WINDOWS = 12
#: limits of a ``--csv`` file: bytes, data rows, and the magnitude of a value
MAX_CSV_BYTES = 16 * 2**20
MAX_ROWS = 100_000
MAX_ABS_VALUE = 1e100


def elnino_series() -> np.ndarray:
    """The 732 monthly values of statsmodels' ``elnino``, oldest first."""
    from statsmodels.datasets import elnino

    wide = elnino.load_pandas().data.sort_values("YEAR")
    return wide.drop(columns="YEAR").to_numpy(dtype=np.float64).ravel()


def read_csv_series(path: str | Path, target: str = TARGET,
                    exogenous: tuple[str, ...] = ()) -> np.ndarray:
    """Columns ``(target, *exogenous)`` of a CSV as a float array (n, 1 + k).

    Every problem is a :class:`SeqtuneError` naming the file and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise SeqtuneError(f"{path}: file not found (expected a CSV with a {target!r} column)")
    try:
        size = path.stat().st_size
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            header = next(csv.reader([fh.readline()]), [])
    except OSError as exc:
        raise SeqtuneError(f"{path}: cannot read ({exc.strerror})") from None
    if size > MAX_CSV_BYTES:
        raise SeqtuneError(f"{path}: {size / 2**20:.0f} MiB; at most {MAX_CSV_BYTES // 2**20} "
                           "MiB (a monthly series of a few thousand rows is a few hundred KiB)")
    if duplicates := sorted({c for c in header if header.count(c) > 1}):
        raise SeqtuneError(f"{path}: duplicate column name(s) {duplicates}; expected unique "
                           "names")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SeqtuneError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    if len(frame) > MAX_ROWS:
        raise SeqtuneError(f"{path}: {len(frame)} data rows; at most {MAX_ROWS}")
    columns = (target, *exogenous)
    for column in columns:
        if column not in frame.columns:
            raise SeqtuneError(f"{path}: missing column {column!r} "
                               f"(found: {', '.join(map(str, frame.columns))})")
    if frame.empty:
        raise SeqtuneError(f"{path}: no data rows")
    out = np.empty((len(frame), len(columns)))
    for j, column in enumerate(columns):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise SeqtuneError(f"{path}: column {column!r}, data row {row + 1}: "
                               f"{frame[column].iloc[row]!r} is not a number")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise SeqtuneError(f"{path}: column {column!r}, data row {row + 1}: "
                               "missing value (NaN); expected a number")
        out[:, j] = values.to_numpy(dtype=np.float64)
    if not np.isfinite(out).all():
        raise SeqtuneError(f"{path}: infinite values; expected finite numbers")
    if (largest := float(np.abs(out).max())) > MAX_ABS_VALUE:
        raise SeqtuneError(f"{path}: a value of magnitude {largest:.3g}; expected numbers "
                           f"within +-{MAX_ABS_VALUE:g} (larger ones overflow the scaling)")
    return out


class RainfallTask(Task):
    name: ClassVar[str] = "rainfall"
    metric: ClassVar[str] = "mse"
    direction: ClassVar[Literal["minimize", "maximize"]] = "minimize"
    model_kind = "forecaster"
    paired_test: ClassVar[str] = "diebold-mariano"
    data_params = ("window",)

    def __init__(self, csv: str | None = None, target: str = TARGET,
                 exogenous: list[str] | None = None, test_size: int = 50,
                 val_size: int = 50, max_window: int = 36) -> None:
        self.csv, self.target = csv, target
        self.exogenous = tuple(exogenous or ())
        if self.exogenous and csv is None:
            raise SeqtuneError("task.exogenous: needs task.csv (the bundled series has none)")
        for key, value in (("test_size", test_size), ("val_size", val_size),
                           ("max_window", max_window)):
            if not isinstance(value, int) or value < 1:
                raise SeqtuneError(f"task.{key}: must be a positive integer, got {value!r}")
        self.test_size, self.val_size, self.max_window = test_size, val_size, max_window
        self.data = (read_csv_series(csv, target, self.exogenous) if csv
                     else elnino_series()[:, None])
        self.n_train = len(self.data) - val_size - test_size
        if self.n_train - max_window < MIN_TRAIN_WINDOWS:
            raise SeqtuneError(
                f"{csv or 'elnino'}: series too short: {len(self.data)} points leave "
                f"{self.n_train} for training after val {val_size} + test {test_size}; "
                f"need at least {max_window + MIN_TRAIN_WINDOWS} for windows up to {max_window}")
        train = self.data[: self.n_train]
        self.mean, self.std = train.mean(axis=0), train.std(axis=0)
        self.std[self.std == 0] = 1.0

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "csv": str(self.csv) if self.csv else None,
                "target": self.target, "exogenous": list(self.exogenous),
                "test_size": self.test_size, "val_size": self.val_size,
                "max_window": self.max_window}

    @property
    def series_name(self) -> str:
        """What the series is, for titles: the CSV's file name or ``elnino``."""
        return Path(self.csv).name if self.csv else "elnino"

    @property
    def season_length(self) -> int:
        """Observations per seasonal cycle: both series are monthly, so 12."""
        return 12

    @property
    def series(self) -> np.ndarray:
        """The target series in its own units."""
        return self.data[:, 0]

    def split_bounds(self) -> dict[str, tuple[int, int]]:
        """Index ranges [start, stop) of each split's targets."""
        n, n_val = self.n_train, self.val_size
        return {"train": (0, n), "val": (n, n + n_val), "test": (n + n_val, len(self.data))}

    def default_data_params(self) -> dict[str, Any]:
        return {"window": 12}

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
