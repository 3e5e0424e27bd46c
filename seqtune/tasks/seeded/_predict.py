"""``seqtune predict`` for a seeded checkpoint: the free-running continuation
after given seeds."""

from __future__ import annotations

from typing import Any

import numpy as np

from seqtune.errors import SeqtuneError
from seqtune.predict import Inputs, show
from seqtune.study import Checkpoint
from seqtune.trainer import predict


def continue_seeds(checkpoint: Checkpoint, rows: Inputs) -> list[dict[str, Any]]:
    """Each row of ``n_seeds`` values -> its continuation."""
    n_seeds = checkpoint.task["n_seeds"]
    for where, row in rows:
        if len(row) != n_seeds:
            raise SeqtuneError(f"{where}: expected {n_seeds} seed values per sequence, "
                               f"got {len(row)} ({show(row)})")
    seeds = [row for _, row in rows]
    out = predict(checkpoint.model, np.asarray(seeds, dtype=np.float32))
    return [{"input": row, "prediction": [float(v) for v in pred]}
            for row, pred in zip(seeds, out, strict=True)]
