"""`rainfall`: one-step-ahead forecasting of a series (the "RNN loop" post).

The default series is statsmodels' bundled ``elnino`` (61 years x 12 months of
sea-surface temperature, read row by row into one chronological series), so
it runs offline. ``csv`` reads any CSV: the ``target`` column (default the
post's ``Precipitation``), optional ``exogenous`` columns, and with ``time``
a date column: rows are sorted by it (a newest-first file trains in time
order), its frequency must be regular (a gap, a duplicate or an unparseable
date is a one-line error) and gives the season length (monthly 12, quarterly
4, weekly 52, daily 7, hourly 24) unless ``season`` is given. Without
``time`` the rows are taken in file order and the season is 12 (monthly).

Splits are chronological: the last ``test_size`` points are test, the
``val_size`` before them val, the rest train. Scaling is fitted on train only.
A val/test target's input window is the true history before it (walk-forward),
which may reach back into the previous split: past observations, not leakage.
"""

from __future__ import annotations

import csv
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from seqtune.errors import SeqtuneError
from seqtune.tasks._base import Split, Splits, Task

TARGET = "Precipitation"
EXOGENOUS = ("Specific Humidity", "Relative Humidity", "Temperature")
MIN_TRAIN_WINDOWS = 12
#: observations per seasonal cycle without a date column or ``season`` (monthly)
DEFAULT_SEASON = 12
MAX_SEASON = 1000
#: limits of a ``--csv`` file: bytes, data rows, and the magnitude of a value
MAX_CSV_BYTES = 16 * 2**20
MAX_ROWS = 100_000
MAX_ABS_VALUE = 1e100


def elnino_series() -> np.ndarray:
    """The 732 monthly values of statsmodels' ``elnino``, oldest first."""
    from statsmodels.datasets import elnino

    wide = elnino.load_pandas().data.sort_values("YEAR")
    return wide.drop(columns="YEAR").to_numpy(dtype=np.float64).ravel()


def _read_frame(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """The CSV as a frame with ``columns`` present; size, header and row checks."""
    target = columns[0]
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
    for column in columns:
        if column not in frame.columns:
            raise SeqtuneError(f"{path}: missing column {column!r} "
                               f"(found: {', '.join(map(str, frame.columns))})")
    if frame.empty:
        raise SeqtuneError(f"{path}: no data rows")
    return frame


def _values(path: Path, frame: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
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


def format_date(stamp: pd.Timestamp) -> str:
    """``2001-03-01``, or with the time of day where it is not midnight."""
    return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else str(stamp)


def _dates(path: Path, frame: pd.DataFrame, time: str) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """The order that sorts the rows by ``time`` (oldest first, stable) and the
    sorted dates; unparseable, missing and duplicate dates are one-line errors."""
    column = frame[time]
    raw = column.astype(str) if pd.api.types.is_integer_dtype(column) else column  # years
    where = f"{path}: column {time!r}"
    try:
        with warnings.catch_warnings():  # "could not infer format" chatter
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(raw, errors="coerce")
    except (ValueError, TypeError, OverflowError) as exc:
        raise SeqtuneError(f"{where}: not dates ({str(exc).splitlines()[0]}); expected "
                           "dates such as 2001-01-31") from None
    if (missing := parsed.isna()).any():
        row = int(np.flatnonzero(missing.to_numpy())[0])
        if column.isna().iloc[row]:
            raise SeqtuneError(f"{where}, data row {row + 1}: missing date")
        raise SeqtuneError(f"{where}, data row {row + 1}: {column.iloc[row]!r} is not a date "
                           "(expected dates such as 2001-01-31, in one format)")
    order = np.argsort(parsed.to_numpy(), kind="stable")
    dates = pd.DatetimeIndex(parsed.to_numpy()[order])
    if (repeated := dates.duplicated()).any():
        i = int(np.flatnonzero(repeated)[0])
        rows = sorted(int(order[j]) + 1 for j in (i - 1, i))
        raise SeqtuneError(f"{where}: duplicate date {format_date(dates[i])} (data rows "
                           f"{rows[0]} and {rows[1]}); expected one row per time step")
    return order, dates


def _infer(dates: pd.DatetimeIndex) -> str | None:
    with warnings.catch_warnings():  # pandas 3 announces an offset return type
        warnings.simplefilter("ignore")
        try:
            return pd.infer_freq(dates)
        except (ValueError, TypeError):
            return None


def infer_frequency(dates: pd.DatetimeIndex, where: str) -> pd.DateOffset:
    """The regular frequency of sorted, unique ``dates``; a gap or an irregular
    step is a one-line error naming the first one."""
    if len(dates) < 3:
        raise SeqtuneError(f"{where}: {len(dates)} dates; at least 3 are needed to tell the "
                           "frequency")
    freq = _infer(dates)
    if freq is None:
        # the step most 3-date windows agree on, to name the first date off it
        starts = np.unique(np.linspace(0, len(dates) - 3, min(len(dates) - 2, 200)).astype(int))
        votes = Counter(f for i in starts if (f := _infer(dates[i:i + 3])) is not None)
        if votes:
            step = to_offset(votes.most_common(1)[0][0])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                off = np.flatnonzero(dates[:-1] + step != dates[1:])
            if off.size:
                i = int(off[0])
                raise SeqtuneError(
                    f"{where}: a gap or uneven step after {format_date(dates[i])} (next "
                    f"{format_date(dates[i + 1])}); expected one row every {step_words(step)} "
                    "(fill or drop the missing dates)")
        raise SeqtuneError(f"{where}: the dates are not evenly spaced; expected a regular "
                           "frequency (one row per hour, day, week, month, quarter, ...)")
    return to_offset(freq)


#: observations per cycle of each frequency with a natural season (offset
#: classes; a multiple, e.g. every 3 months, divides the count)
_SEASONS: tuple[tuple[tuple[type, ...], int], ...] = (
    ((pd.offsets.MonthBegin, pd.offsets.MonthEnd, pd.offsets.BusinessMonthBegin,
      pd.offsets.BusinessMonthEnd), 12),
    ((pd.offsets.QuarterBegin, pd.offsets.QuarterEnd, pd.offsets.BQuarterBegin,
      pd.offsets.BQuarterEnd), 4),
    ((pd.offsets.SemiMonthBegin, pd.offsets.SemiMonthEnd), 24),
    ((pd.offsets.Week,), 52),
    ((pd.offsets.Day,), 7),
    ((pd.offsets.BusinessDay,), 5),
    ((pd.offsets.Hour,), 24),
    ((pd.offsets.Minute,), 60),
)


_STEP_WORDS: tuple[tuple[tuple[type, ...], str], ...] = (
    ((pd.offsets.MonthBegin, pd.offsets.MonthEnd, pd.offsets.BusinessMonthBegin,
      pd.offsets.BusinessMonthEnd), "month"),
    ((pd.offsets.QuarterBegin, pd.offsets.QuarterEnd, pd.offsets.BQuarterBegin,
      pd.offsets.BQuarterEnd), "quarter"),
    ((pd.offsets.YearBegin, pd.offsets.YearEnd), "year"),
    ((pd.offsets.Week,), "week"), ((pd.offsets.Day,), "day"),
    ((pd.offsets.BusinessDay,), "business day"), ((pd.offsets.Hour,), "hour"),
    ((pd.offsets.Minute,), "minute"), ((pd.offsets.Second,), "second"),
)


def step_words(freq: pd.DateOffset) -> str:
    """``month (MS)``, ``3 months (3MS)``: the step between two rows, in words."""
    for classes, word in _STEP_WORDS:
        if isinstance(freq, classes):
            n = abs(freq.n)
            return f"{word} ({freq.freqstr})" if n == 1 else f"{n} {word}s ({freq.freqstr})"
    return freq.freqstr


def season_of(freq: pd.DateOffset) -> int | None:
    """Observations per seasonal cycle of ``freq`` (monthly 12, quarterly 4,
    weekly 52, daily 7, hourly 24, ...); None where there is no natural one
    (yearly data, or a step that does not divide the cycle)."""
    for classes, per_cycle in _SEASONS:
        if isinstance(freq, classes):
            n = abs(freq.n)
            return per_cycle // n if per_cycle % n == 0 and per_cycle // n >= 2 else None
    return None


def read_csv_series(path: str | Path, target: str = TARGET,
                    exogenous: tuple[str, ...] = (), time: str | None = None) -> np.ndarray:
    """Columns ``(target, *exogenous)`` of a CSV as a float array (n, 1 + k),
    in time order when ``time`` names a date column (see :func:`read_csv_dated`).

    Every problem is a :class:`SeqtuneError` naming the file and the column.
    """
    if time is None:
        path = Path(path)
        columns = (target, *exogenous)
        return _values(path, _read_frame(path, columns), columns)
    return read_csv_dated(path, target, exogenous, time)[0]


def read_csv_dated(path: str | Path, target: str, exogenous: tuple[str, ...], time: str
                   ) -> tuple[np.ndarray, pd.DatetimeIndex, pd.DateOffset]:
    """The values of :func:`read_csv_series` sorted by the dates in column
    ``time`` (oldest first, whatever the file's order), the dates and their
    regular frequency. Unparseable, missing or duplicate dates and gaps are
    one-line errors."""
    path = Path(path)
    columns = (target, *exogenous)
    if time in columns:
        raise SeqtuneError(f"{path}: task.time {time!r} is also a value column; expected the "
                           "date column")
    frame = _read_frame(path, (*columns, time))
    order, dates = _dates(path, frame, time)
    frequency = infer_frequency(dates, f"{path}: column {time!r}")
    return _values(path, frame, columns)[order], dates, frequency


class RainfallTask(Task):
    name: ClassVar[str] = "rainfall"
    metric: ClassVar[str] = "mse"
    direction: ClassVar[Literal["minimize", "maximize"]] = "minimize"
    model_kind = "forecaster"
    paired_test: ClassVar[str] = "diebold-mariano"
    data_params = ("window",)
    extra_parameters: ClassVar[dict[str, str | None]] = {"window": "max_window"}
    path_settings: ClassVar[tuple[str, ...]] = ("csv",)

    def baselines(self, splits: Splits) -> list[Any]:
        from seqtune.baselines._rainfall import rainfall_baselines  # statsmodels: slow import
        return rainfall_baselines(self, splits)

    def report_panels(self, view: Any, views: list[Any]) -> list[Any]:
        from seqtune.report._rainfall import rainfall_panels
        return rainfall_panels(self, view.checkpoint)

    def prediction_context(self) -> dict[str, Any]:
        return {"columns": [self.target, *self.exogenous], "mean": self.mean.tolist(),
                "std": self.std.tolist()}

    def __init__(self, csv: str | None = None, target: str = TARGET,
                 exogenous: list[str] | None = None, test_size: int = 50,
                 val_size: int = 50, max_window: int = 36, time: str | None = None,
                 season: int | None = None) -> None:
        self.csv, self.target, self.time = csv, target, time
        self.exogenous = tuple(exogenous or ())
        if self.exogenous and csv is None:
            raise SeqtuneError("task.exogenous: needs task.csv (the bundled series has none)")
        if time is not None and (csv is None or not isinstance(time, str) or not time):
            raise SeqtuneError("task.time: the name of the CSV's date column; needs task.csv "
                               f"(the bundled series is monthly), got {time!r}")
        for key, value in (("test_size", test_size), ("val_size", val_size),
                           ("max_window", max_window)):
            if not isinstance(value, int) or value < 1:
                raise SeqtuneError(f"task.{key}: must be a positive integer, got {value!r}")
        if season is not None and (not isinstance(season, int) or isinstance(season, bool)
                                   or not 2 <= season <= MAX_SEASON):
            raise SeqtuneError(f"task.season: observations per seasonal cycle, an integer "
                               f"2..{MAX_SEASON}, got {season!r}")
        self.test_size, self.val_size, self.max_window = test_size, val_size, max_window
        #: the dates of the rows (oldest first) and their frequency, with ``time``
        self.dates: pd.DatetimeIndex | None = None
        self.frequency: pd.DateOffset | None = None
        if time is not None:
            self.data, self.dates, self.frequency = read_csv_dated(csv, target, self.exogenous,
                                                                   time)
        else:
            self.data = (read_csv_series(csv, target, self.exogenous) if csv
                         else elnino_series()[:, None])
        self._season = season or self._inferred_season()
        self.n_train = len(self.data) - val_size - test_size
        if self.n_train - max_window < MIN_TRAIN_WINDOWS:
            raise SeqtuneError(
                f"{csv or 'elnino'}: series too short: {len(self.data)} points leave "
                f"{self.n_train} for training after val {val_size} + test {test_size}; "
                f"need at least {max_window + MIN_TRAIN_WINDOWS} for windows up to {max_window}")
        if self._season > self.n_train:
            raise SeqtuneError(f"task.season: a season of {self._season} steps is longer than "
                               f"the {self.n_train} training points")
        train = self.data[: self.n_train]
        self.mean, self.std = train.mean(axis=0), train.std(axis=0)
        self.std[self.std == 0] = 1.0

    def _inferred_season(self) -> int:
        if self.frequency is None:
            return DEFAULT_SEASON
        if (season := season_of(self.frequency)) is None:
            raise SeqtuneError(f"{self.csv}: column {self.time!r}: no natural season for a step "
                               f"of one {step_words(self.frequency)}; set task.season "
                               "(observations per cycle, e.g. 12 for monthly data)")
        return season

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "csv": str(self.csv) if self.csv else None,
                "target": self.target, "exogenous": list(self.exogenous),
                "test_size": self.test_size, "val_size": self.val_size,
                "max_window": self.max_window,
                # only where set, so the config of a study made before them is unchanged
                **({"time": self.time} if self.time is not None else {}),
                **({"season": self._season}
                   if self.time is not None or self._season != DEFAULT_SEASON else {})}

    def described(self) -> dict[str, Any]:
        """The config without the CSV columns when the series is the bundled
        elnino (whose config carries the unused default column name)."""
        if self.csv:
            return self.config()
        return {"series": "elnino (statsmodels)",
                **{k: v for k, v in self.config().items()
                   if k not in ("csv", "target", "exogenous")}}

    @property
    def series_name(self) -> str:
        """What the series is, for titles: the CSV's file name or ``elnino``."""
        return Path(self.csv).name if self.csv else "elnino"

    @property
    def series_label(self) -> str:
        """What the values are, for axes and legends: the CSV's target column, or
        ``elnino`` for the bundled series (whose config still carries the
        unused default column name ``Precipitation``)."""
        return self.target if self.csv else "elnino"

    @property
    def season_length(self) -> int:
        """Observations per seasonal cycle: ``task.season`` if given, else inferred
        from the date column's frequency (monthly 12, quarterly 4, weekly 52,
        daily 7, hourly 24), else 12 (the bundled series and the post's CSV are
        monthly)."""
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
