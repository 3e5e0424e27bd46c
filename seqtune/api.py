"""The Python API, for notebooks and scripts (re-exported by ``seqtune``).

>>> import seqtune
>>> study = seqtune.optimize("studies/rainfall.toml", storage="sqlite:///:memory:",
...                          n_trials=3, max_epochs=20, repeats=0)
>>> seqtune.leaderboard(study)                        # a pandas DataFrame
>>> seqtune.report("sqlite:///:memory:", "reports")   # reports/index.html

``optimize`` runs exactly what ``seqtune optimize`` runs (same study, same
baselines and repeats, same storage rows), in this process, with any Optuna
callbacks attached. ``train_and_score`` trains and scores one configuration,
for people who write their own Optuna objective.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from seqtune.config import StudyConfig, check_against_task, load_config, parse_config
from seqtune.errors import SeqtuneError
from seqtune.study import leaderboard as _leaderboard
from seqtune.study import optimize as _optimize
from seqtune.study import resolve_artifact_dir, resolve_storage_url, train_and_score
from seqtune.study._refit import DEFAULT_REPEATS
from seqtune.study._storage import shared_between_processes
from seqtune.tasks import TASKS, Task, check_settings, make_task

Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]

#: StudyConfig fields a keyword may override (``study_name`` is ``name``)
_CONFIG_FIELDS = {f.name for f in fields(StudyConfig)} - {"source", "quick"}


def study_config(study: str | Path | StudyConfig | Mapping[str, Any],
                 **overrides: Any) -> StudyConfig:
    """A checked :class:`~seqtune.config.StudyConfig` from a study file, a parsed
    study document (``{"study": {...}, "task": {...}, "space": {...}}``) or a
    config, with ``overrides``: study fields (``n_trials``, ``max_epochs``,
    ``timeout``, ``seed``, ``sampler``, ``pruner``, ``study_name``, ...), a
    ``task={...}`` table merged into ``[task]``, or single task settings
    (``csv``, ``target``, ``time``, ``season``, ``length``, ...)."""
    if isinstance(study, StudyConfig):
        config = study
    elif isinstance(study, Mapping):
        config = parse_config(study)
    else:
        config = load_config(study)
    if "study_name" in overrides:
        overrides["name"] = overrides.pop("study_name")
    task = dict(config.task)
    task.update(overrides.pop("task", None) or {})
    allowed = [k for k in inspect.signature(TASKS[config.task_name]).parameters]
    sweep = dict(config.sweep)
    for key in [k for k in overrides if k not in _CONFIG_FIELDS]:
        if key not in allowed:
            raise SeqtuneError(f"{key}: neither a study field ({', '.join(sorted(_CONFIG_FIELDS))}"
                               f") nor a setting of task {config.task_name} "
                               f"({', '.join(allowed)})")
        value = overrides.pop(key)
        if value is None:
            continue
        if key in sweep:
            sweep[key] = [value]  # one study of the sweep
        else:
            task[key] = str(value) if isinstance(value, Path) else value
    config = replace(config, task=task, sweep=sweep).with_overrides(**overrides)
    for each in config.expand():
        check_against_task(each)
        check_settings(each.task_name, {k: v for k, v in each.task.items() if k != "name"},
                       f"{config.source}: task")
    return config


def optimize(study: str | Path | StudyConfig | Mapping[str, Any], storage: str | None = None,
             callbacks: list[Callback] | None = None, *, repeats: int = DEFAULT_REPEATS,
             workers: int = 1, show_progress_bar: bool = False,
             **overrides: Any) -> optuna.Study:
    """Create or resume one study and run it until it holds ``n_trials`` finished
    trials; the :class:`optuna.Study`.

    ``study``: a study file, a parsed study document or a config (see
    :func:`study_config` for ``overrides``). ``storage``: any Optuna RDB URL
    (default: ``OPTUNA_STORAGE`` or ``sqlite:///storage/seqtune.db``, as on
    the command line); ``sqlite:///:memory:`` is one database per process.
    ``callbacks`` go to ``study.optimize`` (e.g. MLflow's or W&B's Optuna
    callback). ``repeats``: seeds of the train+val retraining of each
    architecture's best configuration (0: none). ``workers`` > 1 runs the
    trials in that many processes (then the callbacks see none of them).
    A study file with a ``[sweep]`` must be narrowed to one study, e.g.
    ``length=35``. Bad input raises :class:`seqtune.errors.SeqtuneError`
    before anything is written.
    """
    config = study_config(study, **overrides)
    configs = config.expand()
    if len(configs) != 1:
        raise SeqtuneError(f"{config.source}: a sweep of {len(configs)} studies "
                           f"({', '.join(c.name for c in configs)}); pick one, e.g. "
                           + ", ".join(f"{k}={v[0]!r}" for k, v in config.sweep.items()))
    if storage is not None and not isinstance(storage, str):
        raise SeqtuneError(f"storage: expected an Optuna RDB URL (sqlite:///:memory: for one "
                           f"in this process, sqlite:///file.db, postgresql://...), got "
                           f"{type(storage).__name__}")
    url = resolve_storage_url(storage)
    if workers > 1 and not shared_between_processes(url):
        raise SeqtuneError(f"workers={workers}: an in-memory storage is private to this "
                           "process; use workers=1 or a file or server storage")
    if callbacks is not None and (not isinstance(callbacks, list | tuple)
                                  or not all(callable(c) for c in callbacks)):
        raise SeqtuneError("callbacks: expected a list of callables (study, trial) -> None")
    return _optimize(configs[0], url, show_progress_bar=show_progress_bar, workers=workers,
                     repeats=repeats, callbacks=list(callbacks or ()))


def _storage_url(study: optuna.Study) -> str | None:
    backend = getattr(study._storage, "_backend", study._storage)  # behind Optuna's cache
    return getattr(backend, "url", None)


def leaderboard(study: optuna.Study | str, storage: str | None = None,
                artifact_dir: str | Path | None = None) -> pd.DataFrame:
    """The study's leaderboard as a DataFrame indexed by rank: best trial per
    architecture and every baseline, ``val_<metric>`` and ``test_<metric>``
    columns, the note of each row; ``df.attrs`` holds ``study``, ``metric``,
    ``direction`` and the table's ``notes`` (the verdicts).

    ``study``: an :class:`optuna.Study` or a study name in ``storage``."""
    if isinstance(study, str):
        url = resolve_storage_url(storage)
        from seqtune.study import open_storage

        try:
            study = optuna.load_study(study_name=study,
                                      storage=open_storage(url, heartbeat_interval=None))
        except KeyError:
            raise SeqtuneError(f"study {study!r}: not found in the storage") from None
    url = _storage_url(study)
    folder = artifact_dir or (resolve_artifact_dir(url) if url else None)
    board = _leaderboard(study, folder)
    frame = pd.DataFrame(board.records(), columns=board.columns()).set_index("rank")
    frame.attrs.update(study=board.study, metric=board.metric, direction=board.direction,
                       notes=list(board.notes))
    return frame


def report(storage: str | optuna.Study | None = None, out: str | Path = "reports",
           artifact_dir: str | Path | None = None,
           publish_to_dashboard: bool = True) -> Path:
    """Write the HTML report of every study in ``storage`` (a URL, or a study
    whose storage to use) to ``out``; the path of ``index.html``."""
    from seqtune.report import write_report

    if isinstance(storage, optuna.Study):
        url = _storage_url(storage)
        if url is None:
            raise SeqtuneError("report: this study's storage has no URL; pass the storage URL")
    else:
        url = resolve_storage_url(storage)
    return write_report(url, out, artifact_dir, publish_to_dashboard)


__all__ = ["Task", "leaderboard", "make_task", "optimize", "report", "study_config",
           "train_and_score"]
