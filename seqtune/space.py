"""Search spaces: TOML bounds -> Optuna distributions -> one trial's settings.

In a study file's ``[space]`` table each entry is one of

- a scalar: fixed, not searched (``num_layers = 1``);
- a list: categorical choices (``architecture = ["rnn", "lstm", "gru"]``);
- a table with ``low``/``high`` (and optional ``log``, ``step``): a range,
  integer when both bounds are integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from seqtune.errors import SeqtuneError
from seqtune.models import ARCHITECTURES

#: every parameter a space may name, with what it means
PARAMETERS: dict[str, str] = {
    "architecture": "recurrent core: rnn (tanh), lstm or gru",
    "hidden_size": "units per recurrent layer",
    "num_layers": "stacked recurrent layers",
    "learning_rate": "AdamW learning rate",
    "weight_decay": "decoupled (AdamW) weight decay; 0 = plain Adam",
    "batch_size": "examples per gradient step",
    "grad_clip": "max gradient norm (0 = no clipping)",
    "teacher_forcing": "seeded: probability of feeding the true previous value in training",
    "rollout": "seeded: continuation steps the training loss covers (1 = one-step-ahead)",
    "window": "rainfall: input window length in months",
}
_POSITIVE = ("hidden_size", "num_layers", "learning_rate", "batch_size", "rollout", "window")

SearchSpace = dict[str, Any]  # name -> BaseDistribution or a fixed value


def _distribution(name: str, spec: Any, where: str) -> BaseDistribution | Any:
    if isinstance(spec, list):
        if not spec:
            raise SeqtuneError(f"{where}.{name}: empty list of choices")
        if name == "architecture":
            for arch in spec:
                if arch not in ARCHITECTURES:
                    raise SeqtuneError(f"{where}.architecture: unknown architecture {arch!r}; "
                                       f"expected some of {list(ARCHITECTURES)}")
        return CategoricalDistribution(spec)
    if isinstance(spec, Mapping):
        if set(spec) - {"low", "high", "log", "step"} or not {"low", "high"} <= set(spec):
            raise SeqtuneError(f"{where}.{name}: expected a table with low, high "
                               f"(and optional log, step), got keys {sorted(spec)}")
        low, high = spec["low"], spec["high"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
            raise SeqtuneError(f"{where}.{name}: low and high must be numbers")
        if low > high:
            raise SeqtuneError(f"{where}.{name}: inverted bounds, low {low} > high {high}")
        log = bool(spec.get("log", False))
        if log and low <= 0:
            raise SeqtuneError(f"{where}.{name}: log scale needs low > 0, got {low}")
        if isinstance(low, int) and isinstance(high, int):
            step = spec.get("step", 1)
            if (high - low) % step:
                raise SeqtuneError(f"{where}.{name}: empty or uneven range {low}..{high} "
                                   f"with step {step}")
            return IntDistribution(low, high, log=log, step=step)
        return FloatDistribution(float(low), float(high), log=log, step=spec.get("step"))
    if name == "architecture" and spec not in ARCHITECTURES:
        raise SeqtuneError(f"{where}.architecture: unknown architecture {spec!r}; "
                           f"expected one of {list(ARCHITECTURES)}")
    return spec


def _lowest(value: BaseDistribution | Any) -> list[Any]:
    if isinstance(value, CategoricalDistribution):
        return [c for c in value.choices if isinstance(c, int | float)]
    if isinstance(value, IntDistribution | FloatDistribution):
        return [value.low]
    return [value] if isinstance(value, int | float) else []


def parse_space(table: Mapping[str, Any], where: str = "space") -> SearchSpace:
    """Validate a ``[space]`` table into distributions and fixed values."""
    space: SearchSpace = {}
    for name, spec in table.items():
        if name not in PARAMETERS:
            raise SeqtuneError(f"{where}.{name}: unknown parameter; expected some of "
                               f"{sorted(PARAMETERS)}")
        space[name] = _distribution(name, spec, where)
        if name in _POSITIVE and any(v <= 0 for v in _lowest(space[name])):
            raise SeqtuneError(f"{where}.{name}: must be positive")
    if "architecture" not in space:
        raise SeqtuneError(f"{where}.architecture: missing (list one or more of "
                           f"{list(ARCHITECTURES)})")
    return space


def distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    """The searched part of ``space`` (what ``optuna ask --search-space`` takes)."""
    return {k: v for k, v in space.items() if isinstance(v, BaseDistribution)}


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """One trial's full parameter set: suggested values plus the fixed ones."""
    params = {}
    for name, value in space.items():
        if isinstance(value, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, value.choices)
        elif isinstance(value, IntDistribution):
            params[name] = trial.suggest_int(name, value.low, value.high, step=value.step,
                                             log=value.log)
        elif isinstance(value, FloatDistribution):
            params[name] = trial.suggest_float(name, value.low, value.high, step=value.step,
                                               log=value.log)
        else:
            params[name] = value
    return params
