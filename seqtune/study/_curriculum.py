"""A curriculum over a sweep: each study's models start where the study before it ended.

With ``[train] curriculum = true`` in a one-key sweep (digitsum lengths 5, 10,
..., 35), every model of a study starts from weights the study it follows
trained, instead of from a random initialisation:

- repeat ``k`` of an architecture (its final fit on train+val under the k-th
  repeat seed) starts from repeat ``k`` of the same architecture there, so each
  seed is one chain of fits over the lengths;
- a trial starts from that study's first repeat of its architecture.

Weights carry over only where every tensor has the same shape (same
architecture, hidden size and layers); any other model starts from its seed's
random initialisation. The repeats keep their final weights as study
artifacts (``weights`` in each repeats record), which is what the next study
reads. A model that learned to hold two digits over 30 steps needs a few
epochs to hold them over 35; from scratch, an LSTM or tanh RNN often never
leaves the chance plateau at L >= 50 (issue 17).
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore, download_artifact, upload_artifact
from optuna.artifacts.exceptions import ArtifactNotFound
from torch import nn

from seqtune.models import build_model
from seqtune.tasks import Task

State = dict[str, torch.Tensor]


def upload_weights(study: optuna.Study, artifact_dir: Path, architecture: str,
                   seeds: list[int], models: list[nn.Module]) -> list[str]:
    """Store each model's final weights as an artifact of ``study``; their ids."""
    Path(artifact_dir).mkdir(parents=True, exist_ok=True)
    store = FileSystemArtifactStore(artifact_dir)
    ids = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed, model in zip(seeds, models, strict=True):
            path = Path(tmp) / f"repeat-weights-{architecture}-seed-{seed}.pt"
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
            ids.append(upload_artifact(artifact_store=store, file_path=str(path),
                                       study_or_trial=study,
                                       mimetype="application/octet-stream"))
    return ids


def _download(artifact_dir: Path, artifact_id: str) -> State | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.pt"
        try:
            download_artifact(artifact_store=FileSystemArtifactStore(artifact_dir),
                              file_path=str(path), artifact_id=artifact_id)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                state = torch.load(path, map_location="cpu", weights_only=True)
        except (ArtifactNotFound, OSError, RuntimeError):
            return None
    if isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values()):
        return state
    return None


@dataclass(frozen=True)
class CarriedWeights:
    """The final weights of the repeats of the study a study follows."""

    #: the study they come from
    source: str
    #: architecture -> one state dict per repeat seed, in seed order
    states: dict[str, list[State]]

    @classmethod
    def from_repeats(cls, source: str, records: dict[str, dict[str, Any]],
                     artifact_dir: Path) -> CarriedWeights | None:
        """Read the ``weights`` of every repeats record (None if there are none)."""
        states: dict[str, list[State]] = {}
        for architecture, record in records.items():
            loaded = [_download(artifact_dir, i) for i in record.get("weights", [])]
            if loaded and all(s is not None for s in loaded):
                states[architecture] = loaded  # type: ignore[assignment]
        return cls(source, states) if states else None

    def initial_state(self, task: Task, params: dict[str, Any], index: int = 0
                      ) -> State | None:
        """The weights a model of ``params`` starts from (repeat ``index`` of its
        architecture, the last one if there are fewer), or None where none fits."""
        states = self.states.get(params.get("architecture", ""))
        if not states:
            return None
        state = states[min(index, len(states) - 1)]
        template = build_model(task.model_kind, params["architecture"],
                               params.get("hidden_size", 64), params.get("num_layers", 1),
                               **task.model_spec()).state_dict()
        if set(template) != set(state) or any(template[k].shape != state[k].shape
                                              for k in template):
            return None
        return state
