"""Predictions of a checkpointed model for raw user input: what every task's
:meth:`~seqtune.tasks.Task.predict_input` shares, and the classifiers' default
(the label of given token sequences). Each task's own parsing lives in its
package (e.g. ``seqtune/tasks/forecast/_predict.py``).

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

Inputs = list[tuple[str, list[float]]]  # (where it came from, for messages; numbers)


def classify(checkpoint: Checkpoint, rows: Inputs, min_length: int = 1,
             tokens: str = "tokens") -> list[dict[str, Any]]:
    """Any classifier (digitsum, sequences, a plugin's): each token sequence ->
    the predicted label and its probability; tokens 0..vocab_size-1."""
    vocab = checkpoint.data["model"]["spec"].get("vocab_size", 10)
    for where, row in rows:
        if len(row) < min_length or any(d not in range(vocab) for d in row):
            least = "one or more" if min_length == 1 else f"at least {min_length}"
            raise SeqtuneError(f"{where}: expected {least} {tokens} "
                               f"0-{vocab - 1} per sequence, got {show(row)}")
    digits = [[int(d) for d in row] for _, row in rows]
    out: list[dict[str, Any]] = [{} for _ in digits]
    for length in {len(row) for row in digits}:  # one batch per sequence length
        idx = [i for i, row in enumerate(digits) if len(row) == length]
        scores = torch.from_numpy(predict(checkpoint.model, np.asarray([digits[i] for i in idx])))
        probs, labels = torch.softmax(scores, dim=1).max(dim=1)
        for i, label, prob in zip(idx, labels.tolist(), probs.tolist(), strict=True):
            out[i] = {"input": digits[i], "prediction": label, "probability": prob}
    return out


def show(row: list[float]) -> str:
    """An input row as a message shows it (cut after 60 characters)."""
    text = " ".join(f"{v:g}" for v in row)
    return text if len(text) <= 60 else text[:57] + "..."
