"""Large study results kept out of the study user attrs.

``optuna studies`` prints every study's user attrs in one table cell, so a
few kilobytes of baselines or verdict text make each row thousands of
characters wide. Such blobs go to the study *system* attrs under
``seqtune:<key>`` instead (where optuna-dashboard keeps its notes and graphs):
the same storage, the same transaction, readable with Optuna alone
(``storage.get_study_system_attrs(study_id)``). Readers fall back to a user
attr of the same key, which is where studies written before kept them.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.study._frozen import FrozenStudy

PREFIX = "seqtune:"

StudyLike = optuna.Study | FrozenStudy


def system_attrs(study: StudyLike) -> dict[str, Any]:
    """The study's system attrs (read from the storage for a live study)."""
    if isinstance(study, FrozenStudy):
        return study.system_attrs
    return study._storage.get_study_system_attrs(study._study_id)


def put_blob(study: optuna.Study, key: str, value: Any) -> None:
    """Store ``value`` (JSON-serializable) as the blob ``key`` of ``study``."""
    study._storage.set_study_system_attr(study._study_id, PREFIX + key, value)


def get_blob(study: StudyLike, key: str, default: Any = None) -> Any:
    """The blob ``key`` of ``study``, else its user attr ``key``, else ``default``."""
    stored = system_attrs(study)
    if PREFIX + key in stored:
        return stored[PREFIX + key]
    return study.user_attrs.get(key, default)
