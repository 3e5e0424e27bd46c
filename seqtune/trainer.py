"""The one training loop every task, study, post-mortem and benchmark uses.

Whole splits become tensors once per fit and stay in memory; batches are
index slices of them (no DataLoader, no per-sample Python). Evaluation runs
under ``torch.inference_mode()``. The trainer knows nothing about Optuna: an
optional hook receives ``report(epoch, value)`` and answers ``should_prune()``.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from seqtune.errors import TrainingDiverged
from seqtune.models import build_model
from seqtune.tasks import Split, Splits, Task


class TrainingHook(Protocol):
    def report(self, step: int, value: float) -> None: ...
    def should_prune(self) -> bool: ...


@dataclass(frozen=True)
class TrainConfig:
    """Everything that fixes one training run (with the task and its splits)."""

    architecture: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    learning_rate: float = 1e-3
    #: decoupled (AdamW) weight decay; 0 is plain Adam
    weight_decay: float = 0.0
    batch_size: int = 32
    grad_clip: float = 1.0
    max_epochs: int = 100
    patience: int = 20
    seed: int = 0
    #: reshuffle the training split every epoch (False: its stored order, every epoch)
    shuffle: bool = True
    #: end with the best epoch's weights (False: the last epoch's, no model selection)
    restore_best: bool = True
    #: model-specific training options, e.g. ``teacher_forcing`` and ``rollout``
    options: dict[str, Any] = field(default_factory=dict)
    device: str | None = None


@dataclass
class FitResult:
    model: nn.Module
    best_epoch: int
    best_value: float
    val_scores: dict[str, float]
    history: list[dict[str, float]]
    seconds: float
    pruned: bool = False

    @property
    def epochs_run(self) -> int:
        return len(self.history)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def configure_threads(workers: int = 1) -> int:
    """Give each of ``workers`` processes an equal share of the cores this process may
    use (its CPU affinity: a container's cpuset, ``taskset``).

    ``OMP_NUM_THREADS``, when set, wins, as it does for torch itself: on a
    busy host one thread per worker is often far faster than two.
    """
    requested = os.environ.get("OMP_NUM_THREADS", "")
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    threads = (int(requested) if requested.isdigit() and int(requested) > 0
               else max(1, cores // max(1, workers)))
    torch.set_num_threads(threads)
    return threads


def _tensor(array: np.ndarray, device: str) -> torch.Tensor:
    return torch.as_tensor(array, device=device)


def predict(model: nn.Module, inputs: np.ndarray, device: str | None = None,
            batch_size: int = 4096) -> np.ndarray:
    """Free-running predictions of ``model`` for ``inputs``, as NumPy."""
    device = device or next(model.parameters()).device.type
    model.eval()
    outs = []
    with torch.inference_mode():
        x = _tensor(inputs, device)
        for start in range(0, len(x), batch_size):
            outs.append(model(x[start:start + batch_size]).float().cpu().numpy())
    return np.concatenate(outs)


def _improved(value: float, best: float, direction: str) -> bool:
    return value < best if direction == "minimize" else value > best


def fit(task: Task, splits: Splits, config: TrainConfig,
        hook: TrainingHook | None = None, model: nn.Module | None = None,
        monitor: Mapping[str, Split] | None = None) -> FitResult:
    """Train on ``splits.train``, select the epoch by the task's metric on val.

    ``model`` trains a prebuilt module (with ``loss``/``forward``) instead of
    building one from ``config``; ``monitor`` names extra splits whose task
    metrics are recorded every epoch in the history as ``<name>_<metric>``.
    """
    device = config.device or default_device()
    torch.manual_seed(config.seed)
    if model is None:
        model = build_model(task.model_kind, config.architecture, config.hidden_size,
                            config.num_layers, **task.model_spec())
    model = model.to(device)
    # fused: one kernel for all parameters (CPU and CUDA), same arithmetic
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay, fused=True)
    x, y = _tensor(splits.train.inputs, device), _tensor(splits.train.targets, device)
    generator = torch.Generator().manual_seed(config.seed)

    best_value = math.inf if task.direction == "minimize" else -math.inf
    best_state, best_epoch, best_scores = None, 0, {}
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        order = (torch.randperm(len(x), generator=generator) if config.shuffle
                 else torch.arange(len(x))).to(device)
        total = 0.0
        for start in range(0, len(x), config.batch_size):
            idx = order[start:start + config.batch_size]
            loss = model.loss(x[idx], y[idx], **config.options)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            total += loss.item() * len(idx)
        train_loss = total / len(x)
        if not math.isfinite(train_loss):
            raise TrainingDiverged(f"training loss is {train_loss} at epoch {epoch}")
        scores = evaluate(task, model, splits.val, device)
        value = scores[task.metric]
        watched = {f"{name}_{k}": v for name, split in (monitor or {}).items()
                   for k, v in evaluate(task, model, split, device).items()}
        history.append({"epoch": epoch, "train_loss": train_loss, **scores, **watched})
        if _improved(value, best_value, task.direction):
            best_value, best_epoch, best_scores = value, epoch, scores
            best_state = copy.deepcopy(model.state_dict())
        pruned = False
        if hook is not None:
            hook.report(epoch, value)
            pruned = hook.should_prune()
        if pruned or epoch - best_epoch >= config.patience:
            break
    if best_state is not None and config.restore_best:
        model.load_state_dict(best_state)
    return FitResult(model, best_epoch, best_value, best_scores, history,
                     time.perf_counter() - started, pruned=pruned)


def evaluate(task: Task, model: nn.Module, split: Split, device: str | None = None
             ) -> dict[str, float]:
    """The task's metrics for ``model`` on ``split``."""
    return task.score(split, predict(model, split.inputs, device))
