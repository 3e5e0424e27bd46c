"""Reading a series from a CSV: the value columns as numbers, the rows sorted by
a date column whose step must be regular, and the season length that step
implies. Every problem is one :class:`SeqtuneError` line naming the file, the
column and the row."""

from __future__ import annotations

import csv
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from seqtune.errors import SeqtuneError

#: limits of a ``--csv`` file: bytes, data rows, and the magnitude of a value
MAX_CSV_BYTES = 16 * 2**20
MAX_ROWS = 100_000
MAX_ABS_VALUE = 1e100


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


def read_csv_series(path: str | Path, target: str,
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
