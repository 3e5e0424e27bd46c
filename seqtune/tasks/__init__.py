"""The sequence tasks, by name."""

from __future__ import annotations

from typing import Any

from seqtune.errors import SeqtuneError
from seqtune.tasks._base import Split, Splits, Task
from seqtune.tasks.digitsum import DigitSumTask
from seqtune.tasks.rainfall import RainfallTask
from seqtune.tasks.seeded import SeededTask

TASKS: dict[str, type[Task]] = {t.name: t for t in (SeededTask, RainfallTask, DigitSumTask)}


#: integer task settings and their bounds: what one process can generate and
#: train on (a digitsum ``length`` of 10**9 would never finish generating)
SETTING_LIMITS: dict[str, tuple[int, int]] = {
    "n_seeds": (4, 1000), "horizon": (1, 1000), "length": (3, 1000),
    "n_train": (1, 100_000), "n_val": (1, 100_000), "n_test": (1, 100_000),
    "test_size": (1, 100_000), "val_size": (1, 100_000), "max_window": (1, 1000),
    "seed": (0, 2**31 - 1),
}
#: numbers one split may hold (rows x values per row)
MAX_SPLIT_VALUES = 20_000_000


def check_settings(name: str, settings: dict[str, Any], where: str = "task") -> None:
    """Integer settings within :data:`SETTING_LIMITS`, splits within
    :data:`MAX_SPLIT_VALUES`: one line before any data is generated."""
    for key, (low, high) in SETTING_LIMITS.items():
        if key not in settings:
            continue
        value = settings[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise SeqtuneError(f"{where}.{key}: expected an integer {low}..{high}, "
                               f"got {value!r}")
    if name == "seeded":
        rows = max(settings.get(k, 1000) for k in ("n_train", "n_val", "n_test"))
        width = settings.get("n_seeds", 5) + settings.get("horizon", 5)
    elif name == "digitsum":
        rows = settings.get("n_train", 3000) if settings.get("mode") == "dense" else 300
        width = settings.get("length", 10)
    else:
        return
    if rows * width > MAX_SPLIT_VALUES:
        raise SeqtuneError(f"{where}: {rows} rows of {width} values make {rows * width:,} numbers "
                           f"per split; at most {MAX_SPLIT_VALUES:,} fit one process")


def make_task(config: dict[str, Any]) -> Task:
    """Build a task from its config (``{"name": ..., **settings}``)."""
    settings = dict(config)
    name = settings.pop("name", None)
    if name not in TASKS:
        raise SeqtuneError(f"task.name: unknown task {name!r}; expected one of {sorted(TASKS)}")
    check_settings(name, settings)
    try:
        return TASKS[name](**settings)
    except TypeError as exc:
        raise SeqtuneError(f"task: bad setting for task {name!r}: {exc}") from None


__all__ = ["TASKS", "Split", "Splits", "Task", "make_task"]
