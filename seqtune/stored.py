"""What a study holds in its attrs, read back and checked in one place.

Studies live in a storage anyone can edit (``optuna`` CLI, the dashboard, SQL by
hand), so every attr seqtune reads back is checked here, once, for its shape and
type before any command uses it: ``task``, ``metric``, ``data_fingerprint``,
``best_checkpoint``, the ``baselines`` blob and the ``repeats_<architecture>``
blobs. A value of the wrong shape is one :class:`SeqtuneError` line naming the
study, the attr and what was expected; an absent one reads as absent.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import optuna

from seqtune.blobs import PREFIX as BLOB
from seqtune.blobs import StudyLike, get_blob, system_attrs
from seqtune.errors import SeqtuneError

BEST_CHECKPOINT_ATTR = "best_checkpoint"
BASELINES_ATTR = "baselines"
REPEATS_PREFIX = "repeats_"
#: an artifact id is a plain file name in the artifact folder (Optuna makes UUIDs)
_ARTIFACT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
#: a metric or task name: an identifier
_NAME = re.compile(r"[A-Za-z_][\w.-]{0,63}\Z")
#: the most epochs and repeat seeds a record may name (a trial's limits are lower)
MAX_EPOCHS, MAX_SEEDS = 1_000_000, 1_000


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _refuse(study: StudyLike, key: str, value: Any, expected: str) -> SeqtuneError:
    return SeqtuneError(f"study {study.study_name!r}: stored attr {key!r} is {_shown(value)}; "
                        f"expected {expected} (edited by hand, or written by other code)")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def artifact_id_ok(value: Any) -> bool:
    """Whether ``value`` can name an artifact: a plain file name, never a path."""
    return isinstance(value, str) and bool(_ARTIFACT_ID.match(value))


def check_single_objective(study: StudyLike) -> None:
    """seqtune's tables and verdicts rank one objective."""
    if len(study.directions) != 1:
        raise SeqtuneError(f"study {study.study_name!r} has {len(study.directions)} "
                           "objectives; seqtune reads single-objective studies only")


def stored_task(study: StudyLike) -> dict[str, Any] | None:
    """The task config (``{"name": ..., settings}``), None if none is stored."""
    value = study.user_attrs.get("task")
    if value is None:
        return None
    if not (isinstance(value, dict) and isinstance(value.get("name"), str)
            and _NAME.match(value["name"]) and all(isinstance(k, str) for k in value)):
        raise _refuse(study, "task", value, "a table with a task 'name' and its settings")
    return value


def stored_metric(study: StudyLike) -> str:
    """The objective's metric name (``"value"`` where none is stored)."""
    value = study.user_attrs.get("metric", "value")
    if not isinstance(value, str) or not _NAME.match(value):
        raise _refuse(study, "metric", value, "a metric name such as 'mse'")
    return value


def stored_fingerprint(study: StudyLike) -> str | None:
    """The fingerprint of the data the study was trained on."""
    value = study.user_attrs.get("data_fingerprint")
    if value is not None and not isinstance(value, str):
        raise _refuse(study, "data_fingerprint", value, "a text fingerprint")
    return value


@dataclass(frozen=True)
class CheckpointRecord:
    """Which artifact holds the study's best model (``best_checkpoint``)."""

    trial: int
    value: float
    artifact_id: str


def stored_checkpoint(study: StudyLike) -> CheckpointRecord | None:
    """The ``best_checkpoint`` record; its stored file name is never used as a path."""
    value = study.user_attrs.get(BEST_CHECKPOINT_ATTR)
    if value is None:
        return None
    if not (isinstance(value, dict) and _is_int(value.get("trial"), 0, 10**9)
            and _is_number(value.get("value")) and math.isfinite(value["value"])
            and artifact_id_ok(value.get("artifact_id"))):
        raise _refuse(study, BEST_CHECKPOINT_ATTR, value,
                      "a table with a trial number, a finite value and a plain artifact id")
    return CheckpointRecord(value["trial"], float(value["value"]), value["artifact_id"])


def _metrics_ok(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and (v is None or _is_number(v)) for k, v in value.items())


def _baseline_ok(row: Any) -> bool:
    return (isinstance(row, dict) and isinstance(row.get("name"), str) and bool(row["name"])
            and isinstance(row.get("description", ""), str)
            and isinstance(row.get("note", ""), str | None)
            and _metrics_ok(row.get("val")) and _metrics_ok(row.get("test"))
            and isinstance(row.get("fit_data", {}), dict)
            and isinstance(row.get("exact", False), bool))


def stored_baselines(study: StudyLike) -> list[dict[str, Any]]:
    """The baseline rows stored with a tuning study (empty if none)."""
    value = get_blob(study, BASELINES_ATTR)
    if value is None:
        return []
    rows = value.get("results") if isinstance(value, dict) else None
    if not isinstance(rows, list) or not all(_baseline_ok(r) for r in rows):
        raise _refuse(study, BASELINES_ATTR, value, "{'key': ..., 'results': [rows]}, each "
                      "row with a 'name' and 'val' and 'test' tables of numbers")
    return rows


def _repeats_ok(record: Any) -> bool:
    if not (isinstance(record, dict) and _is_int(record.get("trial"), 0, 10**9)
            and isinstance(record.get("protocol"), str)
            and _is_int(record.get("epochs"), 0, MAX_EPOCHS)
            and isinstance(record.get("seeds"), list) and len(record["seeds"]) <= MAX_SEEDS
            and all(_is_int(s, 0, 2**63) for s in record["seeds"])
            and (record.get("points") is None or artifact_id_ok(record["points"]))):
        return False
    values = {k: v for k, v in record.items() if k.startswith("test_")}
    return all(isinstance(v, list) and len(v) == len(record["seeds"])
               and all(_is_number(x) for x in v) for v in values.values())


def stored_repeats(study: StudyLike) -> dict[str, dict[str, Any]]:
    """``{architecture: record}`` of the repeats stored with ``study`` (blobs,
    or user attrs where older studies kept them)."""
    stored = {**study.user_attrs, **{key.removeprefix(BLOB): value
                                     for key, value in system_attrs(study).items()
                                     if key.startswith(BLOB)}}
    records = {}
    for key, record in stored.items():
        if not key.startswith(REPEATS_PREFIX):
            continue
        if not _repeats_ok(record):
            raise _refuse(study, key, record, "a repeats record: trial, protocol, epochs, "
                          "seeds and one number per seed for each test_<metric>")
        records[key.removeprefix(REPEATS_PREFIX)] = record
    return records


def check_stored(study: optuna.Study) -> None:
    """Read every attr above once: a study that passes is safe for every reader."""
    check_single_objective(study)
    stored_task(study)
    stored_metric(study)
    stored_fingerprint(study)
    stored_checkpoint(study)
    stored_baselines(study)
    stored_repeats(study)
