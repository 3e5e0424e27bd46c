"""The tuned configuration the post-mortem sets beside the question's model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution

from seqtune.config import architecture_choices, load_config

#: the [start] configuration (no stored trial) trains at most this many epochs
MAX_TUNED_EPOCHS = 40
#: the retrained best trial must give back its stored val MSE within this relative
#: tolerance (CPU; a GPU or another torch build may differ by more)
TUNED_RTOL = 1e-3


@dataclass(frozen=True)
class Tuned:
    """Where the tuned configuration comes from, and how to retrain it."""

    params: dict[str, Any]
    seed: int
    max_epochs: int
    patience: int
    source: str
    #: the val MSE the source trial stored, when retraining should reproduce it
    stored_val_mse: float | None = None


def find_tuned(storage: optuna.storages.BaseStorage, rule: str, studies: Path,
               max_epochs: int | None = None) -> Tuned:
    """The best trial of study ``seeded-<rule>``, else the ``[start]`` table of
    ``studies/seeded-<rule>.toml``.

    A best trial is retrained with its own seed for its own best epoch (no cap
    but ``max_epochs``), which on CPU gives back the very model it stored
    (checked against :data:`TUNED_RTOL`); fixed values of the study file's
    space fill in parameters the trial did not search.
    """
    name = f"seeded-{rule}"
    cap = max_epochs or 10 ** 9
    path = studies / f"{name}.toml"
    config = load_config(path) if path.is_file() else None
    fixed = ({k: v for k, v in config.space.items() if not isinstance(v, BaseDistribution)}
             if config else {})
    try:
        best = optuna.load_study(study_name=name, storage=storage).best_trial
    except (KeyError, ValueError):
        best = None
    if best is not None and {"seed", "best_epoch"} <= set(best.user_attrs):
        epochs = int(best.user_attrs["best_epoch"])
        stored = best.value if epochs <= cap else None
        epochs = min(epochs, cap)
        return Tuned({**fixed, **best.params}, int(best.user_attrs["seed"]), epochs, epochs,
                     f"best trial #{best.number} of study {name}", stored)
    config = config or load_config(path)  # a missing file: one line, "study file not found"
    choices = architecture_choices(config.space)
    params = config.start_for("lstm" if "lstm" in choices else choices[0])
    return Tuned(params, config.seed, min(config.max_epochs, cap, MAX_TUNED_EPOCHS),
                 config.patience,
                 f"[start] table of {path} (no finished trial in study {name})")
