"""Search spaces: TOML bounds -> Optuna distributions -> one trial's settings.

In a study file's ``[space]`` table each entry is one of

- a scalar: fixed, not searched (``num_layers = 1``);
- a list: categorical choices (``architecture = ["rnn", "lstm", "gru"]``);
- a table with ``low``/``high`` (and optional ``log``, ``step``): a range,
  integer when both bounds are integers.
"""

from __future__ import annotations

import math
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
    "window": "forecast, rainfall: input window length in time steps (rows)",
}
#: what every value of a parameter must be: integer or real, and its bounds
#: (``low_open``: the low bound itself is excluded). The upper bounds keep one
#: trial within a CPU's memory and time (an LSTM of 1024 units and 8 layers is
#: about 70 M weights); ``rollout`` and ``window`` are also bounded by the task
#: (seeded ``horizon``, rainfall ``max_window``). A learning rate above 10 is
#: no rate an optimizer of these models uses (a diverging trial would be caught
#: and stored as such, but such a bound is a typo).
LIMITS: dict[str, tuple[type, float, float, bool]] = {
    "hidden_size": (int, 1, 1024, False),
    "num_layers": (int, 1, 8, False),
    "learning_rate": (float, 0.0, 10.0, True),
    "weight_decay": (float, 0.0, 10.0, False),
    "batch_size": (int, 1, 65536, False),
    "grad_clip": (float, 0.0, 1e6, False),
    "teacher_forcing": (float, 0.0, 1.0, False),
    "rollout": (int, 1, 1000, False),
    "window": (int, 1, 1000, False),
}

SearchSpace = dict[str, Any]  # name -> BaseDistribution or a fixed value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def check_value(name: str, value: Any, where: str) -> None:
    """``value`` must suit parameter ``name``: its type and :data:`LIMITS`."""
    if name == "architecture":
        if value not in ARCHITECTURES:
            raise SeqtuneError(f"{where}: unknown architecture {value!r}; expected one of "
                               f"{list(ARCHITECTURES)}")
        return
    kind, low, high, low_open = LIMITS[name]
    if not _is_number(value) or (kind is int and not isinstance(value, int)):
        raise SeqtuneError(f"{where}: expected {'an integer' if kind is int else 'a number'}, "
                           f"got {value!r}")
    if value < low or (low_open and value == low):
        positive = low_open and low == 0 or kind is int and low == 1
        raise SeqtuneError(f"{where}: must be " + ("positive" if positive else f">= {low:g}")
                           + f", got {value!r}")
    if value > high:
        raise SeqtuneError(f"{where}: at most {high:g} (the limit of one trial), got {value!r}")


def _range(name: str, spec: Mapping[str, Any], where: str) -> BaseDistribution:
    if set(spec) - {"low", "high", "log", "step"} or not {"low", "high"} <= set(spec):
        raise SeqtuneError(f"{where}.{name}: expected a table with low, high "
                           f"(and optional log, step), got keys {sorted(spec)}")
    low, high = spec["low"], spec["high"]
    if not all(_is_number(v) for v in (low, high)):
        raise SeqtuneError(f"{where}.{name}: low and high must be finite numbers, got "
                           f"{low!r} and {high!r}")
    if low > high:
        raise SeqtuneError(f"{where}.{name}: inverted bounds, low {low} > high {high}")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise SeqtuneError(f"{where}.{name}: log must be true or false, got {log!r}")
    if log and low <= 0:
        raise SeqtuneError(f"{where}.{name}: log scale needs low > 0, got {low}")
    is_int = LIMITS.get(name, (float,))[0] is int
    if is_int and not (isinstance(low, int) and isinstance(high, int)):
        raise SeqtuneError(f"{where}.{name}: an integer parameter needs integer bounds, got "
                           f"{low!r}..{high!r}")
    step = spec.get("step")
    if step is not None:
        if log:
            raise SeqtuneError(f"{where}.{name}: step and log cannot be combined")
        if not _is_number(step) or step <= 0 or (is_int and not isinstance(step, int)):
            raise SeqtuneError(f"{where}.{name}: step must be a positive "
                               f"{'integer' if is_int else 'number'}, got {step!r}")
    for bound in (low, high):
        check_value(name, bound, f"{where}.{name}")
    if isinstance(low, int) and isinstance(high, int) and isinstance(step or 1, int):
        step = step or 1
        if (high - low) % step:
            raise SeqtuneError(f"{where}.{name}: empty or uneven range {low}..{high} "
                               f"with step {step}")
        return IntDistribution(low, high, log=log, step=step)
    try:
        return FloatDistribution(float(low), float(high), log=log,
                                 step=None if step is None else float(step))
    except ValueError as exc:
        raise SeqtuneError(f"{where}.{name}: {exc}") from None


def _distribution(name: str, spec: Any, where: str) -> BaseDistribution | Any:
    if isinstance(spec, list):
        if not spec:
            raise SeqtuneError(f"{where}.{name}: empty list of choices")
        for choice in spec:
            check_value(name, choice, f"{where}.{name}")
        return CategoricalDistribution(spec)
    if isinstance(spec, Mapping):
        return _range(name, spec, where)
    check_value(name, spec, f"{where}.{name}")
    return spec


def contains(value: BaseDistribution | Any, given: Any) -> bool:
    """Whether ``given`` is a value of the space entry ``value`` (a distribution, or
    a fixed value it must equal)."""
    if isinstance(value, CategoricalDistribution):
        return given in value.choices
    if not isinstance(value, IntDistribution | FloatDistribution):
        return given == value
    number = int if isinstance(value, IntDistribution) else int | float
    if not isinstance(given, number) or isinstance(given, bool):
        return False
    step = value.step
    on_grid = step is None or abs((given - value.low) / step
                                  - round((given - value.low) / step)) < 1e-9
    return value.low <= given <= value.high and on_grid


def parse_space(table: Mapping[str, Any], where: str = "space") -> SearchSpace:
    """Validate a ``[space]`` table into distributions and fixed values."""
    space: SearchSpace = {}
    for name, spec in table.items():
        if name not in PARAMETERS:
            raise SeqtuneError(f"{where}.{name}: unknown parameter; expected some of "
                               f"{sorted(PARAMETERS)}")
        space[name] = _distribution(name, spec, where)
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
