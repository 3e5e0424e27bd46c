"""What a study page is drawn from."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import optuna

from seqtune.study import Checkpoint, Leaderboard, repeat_points
from seqtune.study._leaderboard import TUNED
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

    @cached_property
    def repeat_points(self) -> dict[str, np.ndarray]:
        """Per tuned architecture with readable repeats, its main metric per seed
        and test point (seeds x points); read once, shared by every page."""
        out = {}
        for row in self.board.rows:
            repeats = row.get("repeats") if row["kind"] == TUNED else None
            points = repeat_points(repeats["record"], self.artifact_dir) if repeats else None
            if points is not None:
                out[row["name"]] = points
        return out


