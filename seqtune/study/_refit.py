"""Repeats after a study: each architecture's best configuration, retrained on
train+val for its selected number of epochs under K seeds, then scored on test.

So every test number of the leaderboard uses the same information as the
baselines' (fitted on train+val, never on test), and each tuned number is a
mean over seeds with an interval. What is stored, readable with ``optuna``
alone:

- study blob ``repeats_<architecture>`` (:mod:`seqtune.blobs`; one per architecture):
  ``{"trial", "protocol": "train+val", "epochs", "seeds": [...],
  "test_<metric>": [...] per metric, "points": artifact id}``, and under a
  curriculum (:mod:`seqtune.study._curriculum`) ``"weights"`` (one artifact id
  per seed: the final weights) and ``"init_from"`` (the study they started from);
- the study artifact ``points`` names: a JSON file with the main metric per
  test point and seed (what the paired tests of the verdicts compare), kept
  out of the study attrs.

A rerun keeps repeats stored for the same best trial, seeds and protocol.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.artifacts import FileSystemArtifactStore, download_artifact, upload_artifact
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.distributions import BaseDistribution

from seqtune.blobs import put_blob
from seqtune.errors import TrainingDiverged
from seqtune.runtime import AUTO
from seqtune.stored import REPEATS_PREFIX, stored_metric, stored_repeats
from seqtune.study._curriculum import CarriedWeights, upload_weights
from seqtune.study._repeats import repeat
from seqtune.study._summary import best_per_architecture
from seqtune.tasks import Task

PROTOCOL = "train+val"
#: repeat seeds are ``study seed + SEED_OFFSET + k``, apart from the trials' seeds
SEED_OFFSET = 1_000_000
DEFAULT_REPEATS = 5
#: the most repeat seeds one architecture may ask for
MAX_REPEATS = 100


def repeats_attr(architecture: str) -> str:
    return f"{REPEATS_PREFIX}{architecture}"


def repeat_seeds(seed: int, k: int) -> list[int]:
    return [seed + SEED_OFFSET + i for i in range(k)]


def _round(x: float) -> float:
    return float(f"{x:.6g}") if math.isfinite(x) else x


def _params(trial: optuna.trial.FrozenTrial, space: dict[str, Any]) -> dict[str, Any]:
    """The trial's full configuration: its suggested values over the fixed ones."""
    fixed = {k: v for k, v in space.items() if not isinstance(v, BaseDistribution)}
    return {**fixed, **trial.params}


def ensure_repeats(study: optuna.Study, task: Task, space: dict[str, Any], k: int, seed: int,
                   artifact_dir: Path | None = None, workers: int | str = AUTO,
                   curriculum: tuple[str, ...] = (), carried: CarriedWeights | None = None
                   ) -> dict[str, dict[str, Any]]:
    """Retrain the best trial of each architecture on train+val for its
    ``best_epoch`` epochs under ``k`` seeds (all architectures in one pool of
    ``workers`` processes), score on test and store the results; repeats
    already stored for the same trial and seeds are kept. Returns every
    stored record.

    ``curriculum``: the architectures whose repeats keep their final weights
    (for the study that follows); where the best trial started from carried weights, repeat ``k``
    starts from ``carried``'s ``k``-th weights of its architecture."""
    if k < 1:
        return stored_repeats(study)
    seeds = repeat_seeds(seed, k)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    stored = stored_repeats(study)
    todo = []
    for best in best_per_architecture(study):
        trial = trials[best["trial"]]
        epochs = trial.user_attrs.get("best_epoch")
        old = stored.get(best["architecture"], {})
        asked = sorted(old.get("seeds", []) + old.get("diverged", []))
        if not epochs or (old.get("trial") == trial.number and asked == seeds
                          and old.get("protocol") == PROTOCOL
                          and (best["architecture"] not in curriculum or "weights" in old)):
            continue
        todo.append((best["architecture"], trial, _params(trial, space), int(epochs)))
    if not todo:
        return stored
    # a repeat starts where its trial started: from carried weights or its seed's
    inits = [[carried.initial_state(task, params, i)
              if carried and "init_from" in trial.user_attrs else None
              for i in range(len(seeds))] for _, trial, params, _ in todo]
    results = repeat(task, [p for _, _, p, _ in todo], seeds, [e for *_, e in todo],
                     patience=1, workers=workers, refit=True, inits=inits)
    for (arch, trial, _, epochs), outcomes, starts in zip(todo, results, inits, strict=True):
        done = [(s, o) for s, o in zip(seeds, outcomes, strict=True)
                if not isinstance(o, TrainingDiverged)]
        metrics = list(done[0][1].test) if done else []
        record: dict[str, Any] = {
            "trial": trial.number, "protocol": PROTOCOL, "epochs": epochs,
            "seeds": [s for s, _ in done],
            **{f"test_{m}": [_round(o.test[m]) for _, o in done] for m in metrics}}
        if len(done) < len(seeds):
            record["diverged"] = [s for s, o in zip(seeds, outcomes, strict=True)
                                  if isinstance(o, TrainingDiverged)]
        if carried is not None and any(init is not None for init in starts):
            record["init_from"] = carried.source
        if arch in curriculum and artifact_dir is not None and done:
            record["weights"] = upload_weights(study, artifact_dir, arch,
                                               [s for s, _ in done],
                                               [o.fit.model for _, o in done])
        if artifact_dir is not None and done and all(o.test_points is not None
                                                     for _, o in done):
            record["points"] = _upload_points(study, artifact_dir, arch, trial.number,
                                              [s for s, _ in done],
                                              [o.test_points for _, o in done])
        put_blob(study, repeats_attr(arch), record)
        stored[arch] = record
    return stored


def _upload_points(study: optuna.Study, artifact_dir: Path, arch: str, trial: int,
                   seeds: list[int], points: list[np.ndarray]) -> str:
    Path(artifact_dir).mkdir(parents=True, exist_ok=True)
    data = {"study": study.study_name, "architecture": arch, "trial": trial,
            "metric": stored_metric(study), "protocol": PROTOCOL, "seeds": seeds,
            "points": [[float(f"{v:.7g}") for v in p] for p in points]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"repeat-points-{arch}-trial-{trial}.json"
        path.write_text(json.dumps(data))
        return upload_artifact(artifact_store=FileSystemArtifactStore(artifact_dir),
                               file_path=str(path), study_or_trial=study,
                               mimetype="application/json")


def repeat_points(record: dict[str, Any], artifact_dir: Path | None) -> np.ndarray | None:
    """The main metric per seed and test point (seeds x points) of one stored
    repeats record, or None where the artifact cannot be read."""
    artifact_id = record.get("points")
    if artifact_id is None or artifact_dir is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "points.json"
        try:
            download_artifact(artifact_store=FileSystemArtifactStore(artifact_dir),
                              file_path=str(path), artifact_id=artifact_id)
        except (ArtifactNotFound, OSError):
            return None
        return np.asarray(json.loads(path.read_text())["points"], dtype=np.float64)
