"""``--set KEY=VALUE`` (and its shorthands ``--target``, ``--time``): task settings
from the command line, checked in full before anything is written."""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from typing import Annotated, Any

import typer

from seqtune.config import StudyConfig, check_against_task
from seqtune.errors import SeqtuneError
from seqtune.tasks import TASKS, check_settings

SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", metavar="KEY=VALUE",
    help="Task setting for the study file's \\[task] (repeatable), e.g. --set n_train=200; "
         "a swept setting picks one value: --set length=35 for digitsum.")]

#: one task setting from the command line: (option that gave it, key, value)
Assignment = tuple[str, str, Any]


def parse_assignments(items: list[str] | None, where: str = "--set") -> list[Assignment]:
    """``KEY=VALUE`` strings as (option, key, value); a value is JSON if it parses
    as JSON (``200``, ``true``, ``["a"]``), else the text itself."""
    out = []
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise SeqtuneError(f"{where}: expected KEY=VALUE (a task setting such as "
                               f"length=35), got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.append((where, key.strip(), value))
    return out


def task_keys(task_name: str) -> list[str]:
    """The settings a task accepts (its constructor's parameters)."""
    return list(inspect.signature(TASKS[task_name]).parameters)


def apply_settings(config: StudyConfig, assignments: list[Assignment]) -> StudyConfig:
    """``config`` with the settings applied to ``[task]``; a swept key is narrowed
    to the one value (the study keeps the sweep's name, e.g. ``digitsum-L35``).

    Every resulting study is checked as a study file is (settings within their
    limits, the search space within the task's bounds), so that a bad value is
    one line before the first write."""
    if not assignments:
        return config
    task, sweep = dict(config.task), dict(config.sweep)
    for where, key, value in assignments:
        allowed = task_keys(config.task_name)
        if key not in allowed:
            raise SeqtuneError(f"{where}: unknown setting {key!r} of task "
                               f"{config.task_name}; expected one of {allowed}")
        if key in sweep:
            sweep[key] = [value]
        else:
            task[key] = value
    changed = replace(config, task=task, sweep=sweep)
    for each in changed.expand():
        check_against_task(each)
        check_settings(each.task_name, {k: v for k, v in each.task.items() if k != "name"},
                       f"{assignments[0][0]}: task")
    return changed


def apply_to_accepting(configs: list[StudyConfig], assignments: list[Assignment]
                       ) -> list[StudyConfig]:
    """Each setting applied to every study whose task accepts it (``seqtune run``);
    a setting that no study accepts is refused."""
    for where, key, _ in assignments:
        if not any(key in task_keys(c.task_name) for c in configs):
            tasks = sorted({c.task_name for c in configs})
            raise SeqtuneError(f"{where}: no study here has a task setting {key!r} (tasks "
                               f"{', '.join(tasks)}: " + "; ".join(
                                   f"{t}: {', '.join(task_keys(t))}" for t in tasks) + ")")
    return [apply_settings(c, [a for a in assignments if a[1] in task_keys(c.task_name)])
            for c in configs]
