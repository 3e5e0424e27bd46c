"""Baselines stored with a study (a blob, see :mod:`seqtune.blobs`): computed once
per task config and data."""

from __future__ import annotations

from typing import Any

import optuna

from seqtune.baselines._evaluate import evaluate_baselines
from seqtune.blobs import get_blob, put_blob
from seqtune.stored import BASELINES_ATTR as ATTR
from seqtune.stored import stored_baselines
from seqtune.tasks import Task

#: bump when a baseline's definition changes, so stored results are recomputed
VERSION = 3


def baselines_key(task: Task) -> dict[str, Any]:
    """What the stored results depend on: the task config and its data."""
    return {"task": task.config(), "data_fingerprint": task.fingerprint(), "version": VERSION}


def ensure_baselines(study: optuna.Study, task: Task) -> list[dict[str, Any]]:
    """The stored results if their key matches ``task``; else compute and store them."""
    key = baselines_key(task)
    stored = get_blob(study, ATTR)
    if isinstance(stored, dict) and stored.get("key") == key:
        return stored_baselines(study)
    results = [r.to_dict() for r in evaluate_baselines(task)]
    put_blob(study, ATTR, {"key": key, "results": results})
    return results
