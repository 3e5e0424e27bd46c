"""The sequence tasks, by name."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from seqtune.errors import SeqtuneError
from seqtune.tasks._base import Split, Splits, Task
from seqtune.tasks.digitsum import DigitSumTask
from seqtune.tasks.forecast import ForecastTask
from seqtune.tasks.rainfall import RainfallTask
from seqtune.tasks.seeded import SeededTask
from seqtune.tasks.sequences import SequencesTask

#: the Python entry point group a package declares its tasks in, e.g. in its
#: ``pyproject.toml``: ``[project.entry-points."seqtune.tasks"]`` ``mytask =
#: "my_package:MyTask"``
ENTRY_POINT_GROUP = "seqtune.tasks"
BUILTIN_TASKS: tuple[type[Task], ...] = (SeededTask, RainfallTask, DigitSumTask, SequencesTask,
                                         ForecastTask)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__


def discover_tasks() -> tuple[dict[str, type[Task]], dict[str, str]]:
    """The built-in tasks and every task of the entry point group
    :data:`ENTRY_POINT_GROUP`, by name; and the plugins that failed to load, by
    entry point name, with one line saying why (they are refused when a study
    names them, never a traceback). A plugin never replaces a built-in task."""
    tasks: dict[str, type[Task]] = {t.name: t for t in BUILTIN_TASKS}
    broken: dict[str, str] = {}
    try:
        found = list(entry_points(group=ENTRY_POINT_GROUP))
    except Exception as exc:  # noqa: BLE001 - a malformed installed distribution
        return tasks, {"?": f"entry points unreadable ({_first_line(exc)})"}
    for ep in found:
        if ep.name in tasks:
            continue
        where = f"entry point {ep.name} = {ep.value} (group {ENTRY_POINT_GROUP})"
        try:
            cls = ep.load()
        except Exception as exc:  # noqa: BLE001 - any error of a third-party module
            broken[ep.name] = f"{where} cannot be loaded ({_first_line(exc)})"
            continue
        if not (isinstance(cls, type) and issubclass(cls, Task)):
            broken[ep.name] = f"{where} is not a seqtune.tasks.Task subclass"
        elif getattr(cls, "name", None) != ep.name:
            broken[ep.name] = (f"{where}: the class's name is {getattr(cls, 'name', None)!r}, "
                               f"not {ep.name!r}")
        elif getattr(cls, "__abstractmethods__", None):
            broken[ep.name] = (f"{where} does not implement "
                               f"{', '.join(sorted(cls.__abstractmethods__))}")
        else:
            tasks[ep.name] = cls
    return tasks, broken


#: every task by name: the built-in ones and the installed plugins
TASKS: dict[str, type[Task]]
#: plugins of the entry point group that could not be loaded: name -> why
BROKEN_TASKS: dict[str, str]
TASKS, BROKEN_TASKS = discover_tasks()


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
    cls = TASKS.get(name)
    size = cls.split_size(settings) if cls is not None else None
    if size is None:
        return
    rows, width = size
    if rows * width > MAX_SPLIT_VALUES:
        raise SeqtuneError(f"{where}: {rows} rows of {width} values make {rows * width:,} numbers "
                           f"per split; at most {MAX_SPLIT_VALUES:,} fit one process")


def unknown_task(name: Any, where: str = "task.name") -> str:
    """The one line for a task name that is not registered (or whose plugin is broken)."""
    if isinstance(name, str) and name in BROKEN_TASKS:
        return f"{where}: task {name!r} is not usable: {BROKEN_TASKS[name]}"
    return f"{where}: unknown task {name!r}; expected one of {sorted(TASKS)}"


def make_task(config: dict[str, Any]) -> Task:
    """Build a task from its config (``{"name": ..., **settings}``)."""
    settings = dict(config)
    name = settings.pop("name", None)
    if name not in TASKS:
        raise SeqtuneError(unknown_task(name))
    check_settings(name, settings)
    try:
        return TASKS[name](**settings)
    except TypeError as exc:
        raise SeqtuneError(f"task: bad setting for task {name!r}: {exc}") from None


__all__ = ["BROKEN_TASKS", "ENTRY_POINT_GROUP", "TASKS", "Split", "Splits", "Task", "make_task",
           "unknown_task"]
