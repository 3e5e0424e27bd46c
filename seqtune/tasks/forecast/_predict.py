"""``seqtune predict`` for a forecast checkpoint: the next values after a given
history (rows of ``--seq`` / ``--file``, or the last rows of a ``--csv``) in
the series' own units, with the scaler and window the checkpoint stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seqtune.errors import SeqtuneError
from seqtune.predict import Inputs
from seqtune.study import Checkpoint
from seqtune.tasks.forecast._data import read_csv_series
from seqtune.trainer import predict

#: forecasts one ``predict --steps`` may ask for (each is one forward pass)
MAX_STEPS = 10_000


def forecast(checkpoint: Checkpoint, history: np.ndarray, steps: int = 1,
             where: str = "input") -> list[float]:
    """The next ``steps`` values after ``history`` (rows = time, columns = the
    study's columns, in their own units); more than one step feeds each
    forecast back, so it needs a model of the target alone."""
    ctx = checkpoint.context
    window, columns = ctx["window"], ctx["columns"]
    history = np.asarray(history, dtype=np.float64).reshape(len(history), -1)
    if history.shape[1] != len(columns):
        raise SeqtuneError(f"{where}: the model reads {len(columns)} column(s) "
                           f"({', '.join(columns)}), got {history.shape[1]}")
    if len(history) < window:
        raise SeqtuneError(f"{where}: the model reads a window of {window} values, "
                           f"got {len(history)}")
    if not np.isfinite(history).all():
        raise SeqtuneError(f"{where}: expected finite numbers")
    if not 1 <= steps <= MAX_STEPS:
        raise SeqtuneError(f"--steps: must be an integer 1..{MAX_STEPS}, got {steps}")
    if steps > 1 and len(columns) > 1:
        raise SeqtuneError(f"--steps: the model also reads {', '.join(columns[1:])}, whose "
                           f"future values are unknown; it forecasts 1 step, not {steps}")
    mean, std = np.asarray(ctx["mean"]), np.asarray(ctx["std"])
    scaled = list((history[-window:] - mean) / std)
    values = []
    for _ in range(steps):
        x = np.asarray(scaled[-window:], dtype=np.float32)[None]
        next_scaled = float(predict(checkpoint.model, x)[0])
        values.append(next_scaled * std[0] + mean[0])
        scaled.append(np.array([next_scaled]))
    return values


def forecast_histories(checkpoint: Checkpoint, rows: Inputs, options: dict[str, Any]
                       ) -> list[dict[str, Any]]:
    """Per history (each row, then the ``csv`` option's file read with the
    study's columns, in time order where the study has a date column): its
    target values and the next ``steps`` values."""
    task, steps = checkpoint.task, options.get("steps", 1)
    histories = [(where, np.asarray(row)) for where, row in rows]
    if (csv := options.get("csv")) is not None:
        histories.append((f"--csv {csv}", read_csv_series(
            Path(csv), task["target"], tuple(task["exogenous"]), task.get("time"))))
    return [{"input": h.reshape(len(h), -1)[:, 0].tolist(),
             "prediction": forecast(checkpoint, h, steps, where)}
            for where, h in histories]
