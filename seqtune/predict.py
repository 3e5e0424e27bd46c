"""Predictions of a checkpointed model for raw user input, per task.

- seeded: the free-running continuation after given seeds;
- rainfall: the next values after a given history (in the series' units);
- digitsum: the sum of the first two digits of given digit sequences;
- any other classifier (sequences): the label of given token sequences.

Every function validates its input and raises :class:`SeqtuneError` naming
where the input came from (an option, a file and line) and what was expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from seqtune.errors import SeqtuneError
from seqtune.study._artifacts import Checkpoint
from seqtune.trainer import predict

#: forecasts one ``predict --steps`` may ask for (each is one forward pass)
MAX_STEPS = 10_000

Inputs = list[tuple[str, list[float]]]  # (where it came from, for messages; numbers)


def continue_seeds(checkpoint: Checkpoint, rows: Inputs) -> list[dict[str, Any]]:
    """seeded: each row of ``n_seeds`` values -> its continuation."""
    n_seeds = checkpoint.task["n_seeds"]
    for where, row in rows:
        if len(row) != n_seeds:
            raise SeqtuneError(f"{where}: expected {n_seeds} seed values per sequence, "
                               f"got {len(row)} ({_show(row)})")
    seeds = [row for _, row in rows]
    out = predict(checkpoint.model, np.asarray(seeds, dtype=np.float32))
    return [{"input": row, "prediction": [float(v) for v in pred]}
            for row, pred in zip(seeds, out, strict=True)]


def digit_sums(checkpoint: Checkpoint, rows: Inputs) -> list[dict[str, Any]]:
    """digitsum: each digit sequence -> the predicted sum and its probability."""
    return classify(checkpoint, rows, min_length=2, tokens="digits")


def classify(checkpoint: Checkpoint, rows: Inputs, min_length: int = 1,
             tokens: str = "tokens") -> list[dict[str, Any]]:
    """Any classifier (digitsum, sequences, a plugin's): each token sequence ->
    the predicted label and its probability; tokens 0..vocab_size-1."""
    vocab = checkpoint.data["model"]["spec"].get("vocab_size", 10)
    for where, row in rows:
        if len(row) < min_length or any(d not in range(vocab) for d in row):
            least = "one or more" if min_length == 1 else f"at least {min_length}"
            raise SeqtuneError(f"{where}: expected {least} {tokens} "
                               f"0-{vocab - 1} per sequence, got {_show(row)}")
    digits = [[int(d) for d in row] for _, row in rows]
    out: list[dict[str, Any]] = [{} for _ in digits]
    for length in {len(row) for row in digits}:  # one batch per sequence length
        idx = [i for i, row in enumerate(digits) if len(row) == length]
        scores = torch.from_numpy(predict(checkpoint.model, np.asarray([digits[i] for i in idx])))
        probs, labels = torch.softmax(scores, dim=1).max(dim=1)
        for i, label, prob in zip(idx, labels.tolist(), probs.tolist(), strict=True):
            out[i] = {"input": digits[i], "prediction": label, "probability": prob}
    return out


def forecast(checkpoint: Checkpoint, history: np.ndarray, steps: int = 1,
             where: str = "input") -> list[float]:
    """rainfall: the next ``steps`` values after ``history`` (rows = time, columns =
    the study's columns, in their own units); more than one step feeds each
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


def _show(row: list[float]) -> str:
    text = " ".join(f"{v:g}" for v in row)
    return text if len(text) <= 60 else text[:57] + "..."
