"""Study definitions: one TOML file per study in ``studies/``.

A file has the tables ``[study]`` (name, budget, sampler, pruner, seed),
``[task]`` (the task and its settings), ``[train]`` (epochs, patience),
``[space]`` (see :mod:`seqtune.space`), and optionally ``[start]`` (a
configuration tried first with each architecture), ``[sweep]`` (task
settings to run one study per value, e.g. digitsum lengths) and ``[quick]``
(smaller budget for ``seqtune run --quick``).
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna

from seqtune.errors import SeqtuneError
from seqtune.space import SearchSpace, parse_space
from seqtune.tasks import TASKS

_TABLES = {"study", "task", "train", "space", "start", "sweep", "quick"}
_STUDY_KEYS = {"name", "n_trials", "timeout", "sampler", "pruner", "seed",
               "sampler_args", "pruner_args"}
_TRAIN_KEYS = {"max_epochs", "patience"}
_QUICK_KEYS = {"n_trials", "timeout", "max_epochs", "patience", "sweep"}
#: short tags for sweep values in study names (digitsum length 35 -> "-L35")
_SWEEP_TAGS = {"length": "L"}


@dataclass(frozen=True)
class StudyConfig:
    name: str
    task: dict[str, Any]
    space: SearchSpace
    n_trials: int = 20
    timeout: float | None = None
    sampler: str = "TPESampler"
    sampler_args: dict[str, Any] = field(default_factory=dict)
    pruner: str = "MedianPruner"
    pruner_args: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    max_epochs: int = 100
    patience: int = 20
    start: dict[str, Any] = field(default_factory=dict)
    sweep: dict[str, list[Any]] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)
    source: str = "<memory>"
    #: folder of the artifact store for best-model checkpoints (None: derived from
    #: the storage URL by :func:`seqtune.study.resolve_artifact_dir`)
    artifact_dir: str | None = None

    @property
    def task_name(self) -> str:
        return self.task["name"]

    def expand(self) -> list[StudyConfig]:
        """One config per combination of ``sweep`` values (itself if no sweep)."""
        if not self.sweep:
            return [self]
        keys = list(self.sweep)
        out = []
        for values in itertools.product(*(self.sweep[k] for k in keys)):
            tag = "-".join(f"{_SWEEP_TAGS.get(k, k)}{v}" for k, v in zip(keys, values, strict=True))
            out.append(replace(self, name=f"{self.name}-{tag}", sweep={},
                               task={**self.task, **dict(zip(keys, values, strict=True))}))
        return out

    def quick_variant(self) -> StudyConfig:
        """The smaller budget of ``[quick]``, for ``seqtune run --quick``."""
        return replace(self, quick={}, **self.quick)

    def with_overrides(self, **overrides: Any) -> StudyConfig:
        """A copy with the non-None overrides applied (CLI options)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if "n_trials" in given and given["n_trials"] < 1:
            raise SeqtuneError(f"--n-trials: must be a positive integer, got {given['n_trials']}")
        if "max_epochs" in given and given["max_epochs"] < 1:
            raise SeqtuneError(f"--max-epochs: must be a positive integer, "
                               f"got {given['max_epochs']}")
        if "timeout" in given and given["timeout"] <= 0:
            raise SeqtuneError(f"--timeout: must be positive seconds, got {given['timeout']}")
        if "csv" in given:
            given["task"] = {**self.task, "csv": given.pop("csv")}
        checked = replace(self, **given)
        _check_components(checked)
        return checked


def _check_components(config: StudyConfig) -> None:
    """Sampler and pruner names must exist in Optuna."""
    sampler = getattr(optuna.samplers, config.sampler, None)
    if not (isinstance(sampler, type) and issubclass(sampler, optuna.samplers.BaseSampler)):
        raise SeqtuneError(f"{config.source}: study.sampler: unknown sampler "
                           f"{config.sampler!r}; expected an optuna.samplers class name "
                           "such as TPESampler, RandomSampler, GPSampler, CmaEsSampler")
    if config.pruner.lower() != "none":
        pruner = getattr(optuna.pruners, config.pruner, None)
        if not (isinstance(pruner, type) and issubclass(pruner, optuna.pruners.BasePruner)):
            raise SeqtuneError(f"{config.source}: study.pruner: unknown pruner "
                               f"{config.pruner!r}; expected an optuna.pruners class name "
                               "such as MedianPruner, HyperbandPruner, or 'none'")


def _table(doc: Mapping[str, Any], key: str, where: str, allowed: set[str] | None = None
           ) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, Mapping):
        raise SeqtuneError(f"{where}: [{key}] must be a table")
    if allowed is not None and (extra := set(value) - allowed):
        raise SeqtuneError(f"{where}: [{key}] unknown key(s) {sorted(extra)}; "
                           f"expected some of {sorted(allowed)}")
    return dict(value)


def _positive_int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SeqtuneError(f"{where}: must be a positive integer, got {value!r}")
    return value


def parse_config(doc: Mapping[str, Any], source: str = "<memory>") -> StudyConfig:
    """Validate a parsed study file; every error names the file and field."""
    if extra := set(doc) - _TABLES:
        raise SeqtuneError(f"{source}: unknown table(s) {sorted(extra)}; "
                           f"expected some of {sorted(_TABLES)}")
    study = _table(doc, "study", source, _STUDY_KEYS)
    task = _table(doc, "task", source)
    train = _table(doc, "train", source, _TRAIN_KEYS)
    quick = _table(doc, "quick", source, _QUICK_KEYS)
    sweep = _table(doc, "sweep", source)
    if task.get("name") not in TASKS:
        raise SeqtuneError(f"{source}: task.name: unknown task {task.get('name')!r}; "
                           f"expected one of {sorted(TASKS)}")
    if not isinstance(study.get("name"), str) or not study["name"].strip():
        raise SeqtuneError(f"{source}: study.name: expected a non-empty string")
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise SeqtuneError(f"{source}: sweep.{key}: expected a non-empty list")
    for key in ("n_trials",):
        if key in study:
            _positive_int(study[key], f"{source}: study.{key}")
    for key in ("max_epochs", "patience"):
        if key in train:
            _positive_int(train[key], f"{source}: train.{key}")
    timeout = study.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise SeqtuneError(f"{source}: study.timeout: must be positive seconds, got {timeout!r}")
    space = parse_space(_table(doc, "space", source), f"{source}: space")
    start = _table(doc, "start", source)
    parse_space({"architecture": "lstm", **start}, f"{source}: start")
    config = StudyConfig(
        name=study["name"], task=task, space=space,
        n_trials=study.get("n_trials", 20), timeout=timeout,
        sampler=study.get("sampler", "TPESampler"),
        sampler_args=dict(study.get("sampler_args", {})),
        pruner=study.get("pruner", "MedianPruner"),
        pruner_args=dict(study.get("pruner_args", {})),
        seed=study.get("seed", 0), max_epochs=train.get("max_epochs", 100),
        patience=train.get("patience", 20), start=start, sweep=sweep, quick=quick,
        source=source)
    _check_components(config)
    return config


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate a study TOML file."""
    path = Path(path)
    if not path.is_file():
        raise SeqtuneError(f"{path}: study file not found")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SeqtuneError(f"{path}: malformed TOML ({exc})") from None
    return parse_config(doc, str(path))
