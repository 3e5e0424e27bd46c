"""Baselines stored with a study (a blob, see :mod:`seqtune.blobs`): computed once
per task config and data."""

from __future__ import annotations

from typing import Any

import optuna

from seqtune.baselines._evaluate import evaluate_baselines
from seqtune.blobs import get_blob, put_blob
from seqtune.tasks import Task

#: the study blob holding ``{"key": ..., "results": [...]}``
ATTR = "baselines"
#: bump when a baseline's definition changes, so stored results are recomputed
VERSION = 3


def baselines_key(task: Task) -> dict[str, Any]:
    """What the stored results depend on: the task config and its data."""
    return {"task": task.config(), "data_fingerprint": task.fingerprint(), "version": VERSION}


def stored_baselines(study: optuna.Study) -> list[dict[str, Any]]:
    """The baseline results stored with ``study`` (empty if none)."""
    return (get_blob(study, ATTR) or {}).get("results", [])


def ensure_baselines(study: optuna.Study, task: Task) -> list[dict[str, Any]]:
    """The stored results if their key matches ``task``; else compute and store them."""
    key = baselines_key(task)
    stored = get_blob(study, ATTR)
    if stored is not None and stored.get("key") == key:
        return stored["results"]
    results = [r.to_dict() for r in evaluate_baselines(task)]
    put_blob(study, ATTR, {"key": key, "results": results})
    return results
