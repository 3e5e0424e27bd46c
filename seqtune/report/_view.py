"""What a study page is drawn from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna

from seqtune.study import Checkpoint, Leaderboard
from seqtune.tasks import Task


@dataclass(frozen=True)
class StudyView:
    """What a study page is drawn from."""

    study: optuna.Study
    board: Leaderboard
    task: Task | None
    checkpoint: Checkpoint | None
    #: why there is no task or checkpoint (shown on the page), else ""
    problems: tuple[str, ...] = ()
    #: where the study's artifacts (checkpoints, per-point repeat results) are
    artifact_dir: Path | None = None


