"""Study definitions: one TOML file per study in ``studies/``.

A file has the tables ``[study]`` (name, budget, sampler, pruner, seed),
``[task]`` (the task and its settings), ``[train]`` (epochs, patience),
``[space]`` (see :mod:`seqtune.space`), and optionally ``[start]`` (a
configuration tried first with each architecture; a sub-table such as
``[start.rnn]`` overrides it for one architecture), ``[sweep]`` (task
settings to run one study per value, e.g. digitsum lengths) and ``[quick]``
(smaller budget for ``seqtune run --quick``).

In a one-key sweep each study *follows* the one before it (``[study] follows``
names the study the first one follows): that study's best configuration per
architecture is queued as a warm start, and with ``[train] curriculum = true``
(or a list of architectures) its trained weights are carried over too
(:mod:`seqtune.study._curriculum`).
"""

from __future__ import annotations

import inspect
import itertools
import math
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from seqtune.errors import SeqtuneError
from seqtune.space import SearchSpace, contains, distributions, parse_space
from seqtune.tasks import TASKS, check_settings, unknown_task

_TABLES = {"study", "task", "train", "space", "start", "sweep", "quick"}
_STUDY_KEYS = {"name", "n_trials", "timeout", "sampler", "pruner", "seed",
               "sampler_args", "pruner_args", "follows"}
_TRAIN_KEYS = {"max_epochs", "patience", "curriculum"}
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
    #: the study of the previous value of a one-key sweep (e.g. the next shorter
    #: digitsum length; for the first value, ``[study] follows``): its best
    #: configuration per architecture is queued after ``[start]`` (a warm start)
    follows: str | None = None
    #: the architectures whose models start from the weights the study ``follows``
    #: trained (its repeats, per seed) where the shapes match: a curriculum over a sweep
    curriculum: tuple[str, ...] = ()
    #: folder of the artifact store for best-model checkpoints (None: derived from
    #: the storage URL by :func:`seqtune.study.resolve_artifact_dir`)
    artifact_dir: str | None = None

    @property
    def task_name(self) -> str:
        return self.task["name"]

    def start_for(self, architecture: str) -> dict[str, Any]:
        """``[start]`` for one architecture: the shared keys, then its own table."""
        shared = {k: v for k, v in self.start.items() if not isinstance(v, Mapping)}
        return {**shared, **self.start.get(architecture, {}), "architecture": architecture}

    def expand(self) -> list[StudyConfig]:
        """One config per combination of ``sweep`` values (itself if no sweep)."""
        if not self.sweep:
            return [self]
        keys = list(self.sweep)
        out: list[StudyConfig] = []
        for values in itertools.product(*(self.sweep[k] for k in keys)):
            tag = "-".join(f"{_SWEEP_TAGS.get(k, k)}{v}" for k, v in zip(keys, values, strict=True))
            follows = (out[-1].name if out else self.follows) if len(keys) == 1 else None
            out.append(replace(self, name=f"{self.name}-{tag}", sweep={}, follows=follows,
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
        if "timeout" in given and not 0 < given["timeout"] < math.inf:
            raise SeqtuneError(f"--timeout: must be positive finite seconds, "
                               f"got {given['timeout']}")
        if "seed" in given:
            check_seed(given["seed"], "--seed")
        if "csv" in given:
            given["task"] = {**self.task, "csv": given.pop("csv")}
        checked = replace(self, **given)
        _check_components(checked)
        return checked


#: seeds (study, task) are 0..MAX_SEED; trial n trains with seed + n, and NumPy
#: takes seeds below 2**32
MAX_SEED = 2**31 - 1


def check_seed(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEED:
        raise SeqtuneError(f"{where}: expected an integer 0..{MAX_SEED} (2**31 - 1), "
                           f"got {value!r}")
    return value


def _check_args(cls: type, args: Any, where: str) -> None:
    """``args`` must be a table of keywords of ``cls`` whose values have the type
    of the keyword's default (an int where the default is an int, ...)."""
    if not isinstance(args, Mapping):
        raise SeqtuneError(f"{where}: expected a table of keyword arguments, got {args!r}")
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return
    for key, value in args.items():
        if key not in parameters:
            raise SeqtuneError(f"{where}.{key}: {cls.__name__} takes no argument {key!r}; "
                               f"it takes {sorted(p for p in parameters if p != 'seed')}")
        default = parameters[key].default
        kinds = {bool: bool, int: int, float: int | float, str: str}
        kind = kinds.get(type(default))
        if kind is not None and (not isinstance(value, kind)
                                 or isinstance(value, bool) != isinstance(default, bool)):
            raise SeqtuneError(f"{where}.{key}: expected {type(default).__name__} like its "
                               f"default {default!r}, got {value!r}")


def _component(kind: str, module: Any, base: type, name: Any, args: Any, where: str,
               examples: str, seed: int | None = None) -> None:
    """``module.name(**args)`` must be a concrete ``base`` class that builds."""
    cls = getattr(module, name, None) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise SeqtuneError(f"{where}: unknown {kind} {name!r}; expected an "
                           f"{module.__name__} class name such as {examples}")
    _check_args(cls, args, f"{where}_args")
    if seed is not None and "seed" in inspect.signature(cls).parameters:
        args = {"seed": seed, **args}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls(**args)
    except Exception as exc:  # noqa: BLE001 - any class of Optuna's, any reason
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SeqtuneError(f"{where}: {name} cannot be built from its arguments "
                           f"({reason}); expected a {kind} such as {examples}") from None


def _check_components(config: StudyConfig) -> None:
    """Sampler and pruner must be Optuna classes that build from their arguments."""
    _component("sampler", optuna.samplers, optuna.samplers.BaseSampler, config.sampler,
               config.sampler_args, f"{config.source}: study.sampler",
               "TPESampler, RandomSampler, GPSampler, CmaEsSampler", seed=config.seed)
    if config.sampler == "GridSampler":
        _check_grid(config.sampler_args.get("search_space"), config.space,
                    f"{config.source}: study.sampler_args.search_space")
    if not (isinstance(config.pruner, str) and config.pruner.lower() == "none"):
        _component("pruner", optuna.pruners, optuna.pruners.BasePruner, config.pruner,
                   config.pruner_args, f"{config.source}: study.pruner",
                   "MedianPruner, HyperbandPruner, or 'none'")


def _check_grid(grid: Any, space: dict[str, Any], where: str) -> None:
    """A GridSampler's grid must give values for exactly the searched parameters of
    ``[space]``, each value inside its range (else the first trial fails in Optuna)."""
    searched = distributions(space)
    given = set(grid) if isinstance(grid, dict) else set()
    if missing := sorted(set(searched) - given):
        raise SeqtuneError(f"{where}: no values for {', '.join(missing)}, searched in [space]; "
                           "give each a list of values, or fix it in [space]")
    if extra := sorted(given - set(searched)):
        raise SeqtuneError(f"{where}: {', '.join(extra)} not searched in [space]; expected "
                           f"exactly {', '.join(sorted(searched))}")
    for name, dist in searched.items():
        for value in grid[name] if isinstance(grid[name], list) else [grid[name]]:
            if not contains(dist, value):
                raise SeqtuneError(f"{where}.{name}: {value!r} is outside [space].{name}")


def task_parameters() -> dict[str, tuple[str, ...]]:
    """Parameters only some tasks use (the others would fail every trial or ignore
    them): parameter -> the registered tasks whose ``extra_parameters`` name it."""
    users: dict[str, list[str]] = {}
    for name, cls in TASKS.items():
        for parameter in cls.extra_parameters:
            users.setdefault(parameter, []).append(name)
    return {k: tuple(v) for k, v in users.items()}


def architecture_choices(space: Mapping[str, Any]) -> list[str]:
    """The architectures a study compares (one when ``architecture`` is fixed)."""
    arch = space.get("architecture")
    return [str(a) for a in (arch.choices if hasattr(arch, "choices") else [arch])]


def _highest(value: Any) -> Any:
    if isinstance(value, CategoricalDistribution):
        return max(value.choices)
    if isinstance(value, IntDistribution | FloatDistribution):
        return value.high
    return value


def check_against_task(config: StudyConfig) -> None:
    """Every parameter of ``[space]`` and ``[start]`` must be one the task uses,
    within the task's bounds, and ``[start]`` must lie inside ``[space]``."""
    task = config.task_name
    defaults = {k: p.default for k, p in inspect.signature(TASKS[task]).parameters.items()}
    accepted, extras = TASKS[task].extra_parameters, task_parameters()
    starts = [config.start_for(arch) for arch in architecture_choices(config.space)]
    for table, entries in (("space", config.space), *(("start", start) for start in starts)):
        for name, value in entries.items():
            where = f"{config.source}: {table}.{name}"
            if name not in accepted and name in extras:
                users = extras[name]
                raise SeqtuneError(f"{where}: task {task!r} does not use {name} (only "
                                   f"{', '.join(users)} {'do' if len(users) > 1 else 'does'}"
                                   "); remove it")
            setting = accepted.get(name)
            bound = config.task.get(setting, defaults.get(setting)) if setting else None
            if isinstance(bound, int) and not isinstance(bound, bool) \
                    and _highest(value) > bound:
                raise SeqtuneError(f"{where}: at most task.{setting} = {bound}, "
                                   f"got {_highest(value)!r}")
    choices = architecture_choices(config.space)
    for name, value in config.start.items():
        if isinstance(value, Mapping) and name not in choices:
            raise SeqtuneError(f"{config.source}: start.{name}: a sub-table of [start] names "
                               f"an architecture of [space] ({', '.join(map(str, choices))})")
    for arch in choices:
        for name, value in config.start_for(arch).items():
            if name == "architecture":
                continue
            where = f"{config.source}: start" + (f".{arch}" if name in config.start.get(
                arch, {}) else "") + f".{name}"
            if name not in config.space:
                raise SeqtuneError(f"{where}: not in [space]; [start] sets searched parameters")
            if not contains(config.space[name], value):
                entry = config.space[name]
                shown = entry if not isinstance(entry, BaseDistribution) else \
                    getattr(entry, "choices", None) or f"{entry.low}..{entry.high}"
                raise SeqtuneError(f"{where}: {value!r} is outside [space] ({shown})")


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


def _curriculum(value: Any, space: SearchSpace, source: str) -> tuple[str, ...]:
    """``[train] curriculum``: true (every architecture of ``[space]``), false, or
    a list of some of them."""
    choices = architecture_choices(space)
    if isinstance(value, bool):
        return tuple(choices) if value else ()
    if isinstance(value, list) and value and all(v in choices for v in value):
        return tuple(value)
    raise SeqtuneError(f"{source}: train.curriculum: expected true, false or a list of "
                       f"architectures of [space] ({', '.join(choices)}), got {value!r}")


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
        raise SeqtuneError(f"{source}: {unknown_task(task.get('name'))}")
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
    for key in ("n_trials", "max_epochs", "patience"):
        if key in quick:
            _positive_int(quick[key], f"{source}: quick.{key}")
    if (quick_timeout := quick.get("timeout")) is not None and (
            not isinstance(quick_timeout, int | float) or isinstance(quick_timeout, bool)
            or not 0 < quick_timeout < math.inf):
        raise SeqtuneError(f"{source}: quick.timeout: must be positive finite seconds, "
                           f"got {quick_timeout!r}")
    if "sweep" in quick:
        quick_sweep = _table(quick, "sweep", f"{source}: quick")
        for key, values in quick_sweep.items():
            if not isinstance(values, list) or not values:
                raise SeqtuneError(f"{source}: quick.sweep.{key}: expected a non-empty list")
    timeout = study.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or isinstance(
            timeout, bool) or not 0 < timeout < math.inf):
        raise SeqtuneError(f"{source}: study.timeout: must be positive finite seconds, "
                           f"got {timeout!r}")
    check_seed(study.get("seed", 0), f"{source}: study.seed")
    follows = study.get("follows")
    if follows is not None and (not isinstance(follows, str) or not follows.strip()):
        raise SeqtuneError(f"{source}: study.follows: expected a study name, got {follows!r}")
    space = parse_space(_table(doc, "space", source), f"{source}: space")
    curriculum = _curriculum(train.get("curriculum", False), space, source)
    start = _table(doc, "start", source)
    for arch, own in start.items():
        if isinstance(own, Mapping):
            parse_space({"architecture": "lstm", **own}, f"{source}: start.{arch}")
    parse_space({"architecture": "lstm", **{k: v for k, v in start.items()
                                            if not isinstance(v, Mapping)}},
                f"{source}: start")
    config = StudyConfig(
        name=study["name"], task=task, space=space,
        n_trials=study.get("n_trials", 20), timeout=timeout,
        sampler=study.get("sampler", "TPESampler"),
        sampler_args=_table(study, "sampler_args", f"{source}: study"),
        pruner=study.get("pruner", "MedianPruner"),
        pruner_args=_table(study, "pruner_args", f"{source}: study"),
        seed=study.get("seed", 0), max_epochs=train.get("max_epochs", 100),
        patience=train.get("patience", 20), start=start, sweep=sweep, quick=quick,
        source=source, follows=follows, curriculum=curriculum)
    _check_components(config)
    for each in [*config.expand(), *(config.quick_variant().expand() if quick else [])]:
        check_against_task(each)
        check_settings(each.task_name, {k: v for k, v in each.task.items() if k != "name"},
                       f"{source}: task")
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
    task = doc.get("task")
    cls = TASKS.get(task.get("name")) if isinstance(task, dict) \
        and isinstance(task.get("name"), str) else None
    for key in cls.path_settings if cls is not None else ():
        if isinstance(task.get(key), str) and not Path(task[key]).expanduser().is_absolute():
            # a data file named in a study file sits beside it, wherever seqtune runs
            task[key] = str((path.parent / Path(task[key]).expanduser()).resolve())
    return parse_config(doc, str(path))
