"""A study's best model as an Optuna artifact: save it, upload it, load it back.

A checkpoint is one ``torch.save`` file of tensors and plain containers (so it
loads with ``weights_only=True``): the state dict, what rebuilds the model,
the task config, the trial's parameters and what prediction needs beyond the
weights (rainfall: the train-fitted scaler and the window). Each trial that
beats the study's best so far uploads one, attached to itself, to a
:class:`~optuna.artifacts.FileSystemArtifactStore`; the study user attr
``best_checkpoint`` names the current best. ``optuna-dashboard --artifact-dir``
serves the same files.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
import torch
from optuna.artifacts import FileSystemArtifactStore, download_artifact, upload_artifact
from optuna.artifacts.exceptions import ArtifactNotFound
from sqlalchemy.engine import make_url
from torch import nn

from seqtune.errors import SeqtuneError
from seqtune.models import MODEL_KINDS, build_model
from seqtune.space import check_value
from seqtune.stored import BEST_CHECKPOINT_ATTR, stored_checkpoint
from seqtune.tasks import TASKS, Task, check_settings
from seqtune.trainer import TrainConfig

DEFAULT_ARTIFACT_DIR = Path("storage/artifacts")
FORMAT = "seqtune-checkpoint-1"
_MODEL_PARAMS = ("architecture", "hidden_size", "num_layers")


def resolve_artifact_dir(storage_url: str, artifact_dir: str | Path | None = None) -> Path:
    """``artifact_dir`` if given, else ``artifacts/`` beside an SQLite file (the
    default ``sqlite:///storage/seqtune.db`` gives ``storage/artifacts``), else
    ``storage/artifacts``."""
    if artifact_dir:
        return Path(artifact_dir)
    try:
        url = make_url(storage_url)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return DEFAULT_ARTIFACT_DIR
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).parent / "artifacts"
    return DEFAULT_ARTIFACT_DIR


def _prediction_context(task: Task, params: dict[str, Any]) -> dict[str, Any]:
    """What turns raw user input into model input: data knobs and any scaler."""
    context = {k: params.get(k, v) for k, v in task.default_data_params().items()}
    return {**context, **task.prediction_context()}


def make_checkpoint(task: Task, params: dict[str, Any], model: nn.Module,
                    **about: Any) -> dict[str, Any]:
    """The checkpoint dict; ``about`` adds plain facts (study, trial, value)."""
    return {
        "format": FORMAT, **about, "task": task.config(), "params": dict(params),
        "model": {"kind": task.model_kind, "spec": task.model_spec(),
                  **{k: params.get(k, getattr(TrainConfig, k)) for k in _MODEL_PARAMS}},
        "context": _prediction_context(task, params),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the rebuilt model (eval mode, CPU) and its facts."""

    model: nn.Module
    data: dict[str, Any]

    @property
    def task(self) -> dict[str, Any]:
        return self.data["task"]

    @property
    def context(self) -> dict[str, Any]:
        return self.data["context"]


#: what a checkpoint's ``model.spec`` may hold, and the bounds of each (ints)
_SPEC_LIMITS = {"horizon": (1, 1000), "n_features": (1, 1000), "vocab_size": (1, 1000),
                "n_classes": (1, 1000), "embedding_dim": (1, 1024)}


def _check_checkpoint(data: Any, path: str | Path) -> None:
    """The checkpoint's structure, and a model within the limits of a trial
    (:data:`seqtune.space.LIMITS`), before anything is allocated."""
    def refuse(what: str) -> SeqtuneError:
        return SeqtuneError(f"{path}: not a usable seqtune checkpoint ({what})")

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SeqtuneError(f"{path}: not a seqtune checkpoint (expected format {FORMAT})")
    for key, kind in (("model", dict), ("task", dict), ("params", dict), ("context", dict),
                      ("state_dict", dict)):
        if not isinstance(data.get(key), kind):
            raise refuse(f"{key!r} missing or not a {kind.__name__}")
    if not isinstance(data.get("value"), int | float) or not isinstance(data.get("trial"), int):
        raise refuse("no trial number and value")
    model, spec = data["model"], data["model"].get("spec")
    if model.get("kind") not in MODEL_KINDS or not isinstance(spec, dict):
        raise refuse(f"unknown model kind {model.get('kind')!r}")
    try:
        for name in ("architecture", "hidden_size", "num_layers"):
            check_value(name, model.get(name), f"model.{name}")
    except SeqtuneError as exc:
        raise refuse(str(exc)) from None
    for key, value in spec.items():
        low, high = _SPEC_LIMITS.get(key, (1, 0))
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise refuse(f"model.spec.{key} = {value!r}")
    if not all(isinstance(v, torch.Tensor) for v in data["state_dict"].values()):
        raise refuse("state_dict holds something else than tensors")
    task = data["task"]
    if task.get("name") not in TASKS:
        raise refuse(f"unknown task {task.get('name')!r}")
    try:
        check_settings(task.get("name"), {k: v for k, v in task.items() if k != "name"})
    except SeqtuneError as exc:
        raise refuse(str(exc)) from None
    if (problem := TASKS[task["name"]].check_checkpoint(task, data["context"])) is not None:
        raise refuse(problem)


def load_checkpoint(path: str | Path, shown: str | None = None) -> Checkpoint:
    """Read a checkpoint file with ``weights_only=True`` and rebuild its model; a
    file that is not one (garbage, a pickle, another ``torch.save``, missing or
    mis-shaped weights, a model beyond a trial's limits) is one line naming it
    (``shown``, else its path)."""
    where = shown or str(path)
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4"
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling fails in many ways
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise SeqtuneError(f"{where}: not a seqtune checkpoint (unreadable: {reason})") from None
    _check_checkpoint(data, where)
    spec = data["model"]
    try:
        model = build_model(spec["kind"], spec["architecture"], spec["hidden_size"],
                            spec["num_layers"], **spec["spec"])
        model.load_state_dict(data["state_dict"])
    except (TypeError, ValueError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise SeqtuneError(f"{where}: not a usable seqtune checkpoint ({reason})") from None
    return Checkpoint(model.eval(), data)


def _beats_best(trial: optuna.Trial, value: float) -> bool:
    """Whether ``value`` beats the study's best checkpoint (or there is none)."""
    current = stored_checkpoint(trial.study)
    if current is None:
        return True
    if trial.study.direction == optuna.study.StudyDirection.MAXIMIZE:
        return value > current.value
    return value < current.value


class BestCheckpoint:
    """Keeps a study's best model: called by the objective after each trial."""

    def __init__(self, task: Task, artifact_dir: str | Path) -> None:
        self.task, self.artifact_dir = task, Path(artifact_dir)

    def offer(self, trial: optuna.Trial, params: dict[str, Any], model: nn.Module,
              value: float) -> None:
        """Upload ``model`` if ``value`` beats the study's best checkpoint."""
        if not math.isfinite(value) or not _beats_best(trial, value):
            return
        self.artifact_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = make_checkpoint(self.task, params, model, study=trial.study.study_name,
                                     trial=trial.number, value=value)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"best-model-trial-{trial.number}.pt"
            torch.save(checkpoint, path)
            artifact_id = upload_artifact(
                artifact_store=FileSystemArtifactStore(self.artifact_dir), file_path=str(path),
                study_or_trial=trial, mimetype="application/octet-stream")
        if _beats_best(trial, value):  # again: a parallel worker may have won meanwhile
            trial.study.set_user_attr(BEST_CHECKPOINT_ATTR, {
                "trial": trial.number, "value": value, "artifact_id": artifact_id,
                "filename": path.name})


def load_best_checkpoint(study: optuna.Study, artifact_dir: str | Path) -> Checkpoint:
    """The checkpoint that ``best_checkpoint`` names, read from ``artifact_dir``
    into a temporary file of seqtune's own naming (the stored file name is never
    a path: a crafted one could point anywhere)."""
    info = stored_checkpoint(study)
    if info is None:
        raise SeqtuneError(f"study {study.study_name!r}: no best checkpoint (none of its "
                           "trials completed through 'seqtune optimize')")
    where = f"--artifact-dir {artifact_dir}: artifact {info.artifact_id} (the best " \
            f"checkpoint of study {study.study_name!r})"
    source = Path(artifact_dir) / info.artifact_id
    if source.exists() and not source.is_file():
        raise SeqtuneError(f"{where} is a folder, not a checkpoint file")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "best-model.pt"
        try:
            download_artifact(artifact_store=FileSystemArtifactStore(artifact_dir),
                              file_path=str(path), artifact_id=info.artifact_id)
        except ArtifactNotFound:
            raise SeqtuneError(f"--artifact-dir {artifact_dir}: no artifact {info.artifact_id} "
                               f"(the best checkpoint of study {study.study_name!r}); pass the "
                               "folder its 'seqtune optimize' used") from None
        except OSError as exc:
            raise SeqtuneError(f"{where} cannot be read ({exc.strerror})") from None
        return load_checkpoint(path, shown=f"study {study.study_name!r}'s best checkpoint")
