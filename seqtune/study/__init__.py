"""Study orchestration: storage, objective, and the optimize loop."""

from seqtune.study._artifacts import (
    BEST_CHECKPOINT_ATTR,
    Checkpoint,
    load_best_checkpoint,
    load_checkpoint,
    resolve_artifact_dir,
)
from seqtune.study._leaderboard import Leaderboard, leaderboard
from seqtune.study._objective import Objective, TrialOutcome, train_and_score, train_config
from seqtune.study._optimize import finished_trials, optimize, prepare_study
from seqtune.study._refit import repeat_points
from seqtune.study._repeats import Repeat, packing_pays, repeat
from seqtune.study._storage import DEFAULT_STORAGE, open_storage, redact, resolve_storage_url
from seqtune.study._summary import best_per_architecture

__all__ = [
    "BEST_CHECKPOINT_ATTR",
    "Checkpoint",
    "DEFAULT_STORAGE",
    "Leaderboard",
    "Objective",
    "Repeat",
    "TrialOutcome",
    "best_per_architecture",
    "finished_trials",
    "leaderboard",
    "load_best_checkpoint",
    "load_checkpoint",
    "open_storage",
    "optimize",
    "packing_pays",
    "prepare_study",
    "redact",
    "repeat",
    "repeat_points",
    "resolve_artifact_dir",
    "resolve_storage_url",
    "train_and_score",
    "train_config",
]
