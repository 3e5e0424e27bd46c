"""The one training loop every task, study, post-mortem and benchmark uses.

Whole splits become tensors once per fit and stay in memory; batches are
index slices of them (no DataLoader, no per-sample Python). Evaluation runs
under ``torch.inference_mode()``. The trainer knows nothing about Optuna: an
optional hook receives ``report(epoch, value)`` and answers ``should_prune()``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from seqtune.errors import TrainingDiverged
from seqtune.models import build_model
from seqtune.packing import clip_grad_norm_per_member, member_state, pack
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
    #: score val after every epoch (False: only after the last and at each budget; a
    #: final fit with nothing to select or stop on, whose history between holds
    #: only the training loss)
    validate: bool = True
    #: with ``restore_best`` False: end with the weights after the epoch of the lowest
    #: mean training loss, not the last epoch's (a final fit, guarded against a loss
    #: spike in its last epochs without looking at held-out data)
    keep_lowest_train_loss: bool = False
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


def _predict_members(net: nn.Module, inputs: np.ndarray, device: str, members: int | None,
                     batch_size: int = 4096) -> list[np.ndarray]:
    """Predictions of every member of ``net`` (``members`` None: an unpacked model)."""
    net.eval()
    chunks = []
    with torch.inference_mode():
        x = _tensor(inputs, device)
        for start in range(0, len(x), batch_size):
            batch = x[start:start + batch_size]
            if members is not None:
                batch = batch.expand(members, *batch.shape)
            chunks.append(net(batch).float().cpu().numpy())
    if members is None:
        return [np.concatenate(chunks)]
    return list(np.concatenate(chunks, axis=1))


@dataclass
class _Mark:
    """What a member would end with had training stopped after ``epochs`` epochs."""

    state: dict[str, torch.Tensor]
    best_epoch: int
    best_value: float
    best_scores: dict[str, float]
    epochs: int
    seconds: float


@dataclass
class _Member:
    """One seed's bookkeeping: its batch order, history, best epoch and stop."""

    config: TrainConfig
    direction: str
    generator: torch.Generator = field(init=False)
    best_value: float = field(init=False)
    #: the epoch whose weights are kept, and the last epoch the metric improved
    #: (patience counts from it: a won tie keeps weights but buys no epochs)
    best_epoch: int = 0
    improved_epoch: int = 0
    best_tie: float | None = None
    best_scores: dict[str, float] = field(default_factory=dict)
    best_state: dict[str, torch.Tensor] | None = None
    final_state: dict[str, torch.Tensor] | None = None
    #: the lowest mean training loss of an epoch so far, and the weights after it
    lowest_train_loss: float = math.inf
    lowest_state: dict[str, torch.Tensor] | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: bool = False
    pruned: bool = False
    error: TrainingDiverged | None = None
    #: shorter budgets (epoch counts) passed while training went on
    marks: dict[int, _Mark] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.best_value = math.inf if self.direction == "minimize" else -math.inf

    def kept_state(self, config: TrainConfig) -> dict[str, torch.Tensor] | None:
        """The weights this member ends with, where training chose them (None: the
        current ones): its best epoch's, its lowest-training-loss epoch's, or those
        saved when it stopped."""
        if config.restore_best:
            return self.best_state
        return self.lowest_state if config.keep_lowest_train_loss else self.final_state

    def order(self, n: int) -> torch.Tensor:
        return (torch.randperm(n, generator=self.generator) if self.config.shuffle
                else torch.arange(n))


def _seeded_model(task: Task, config: TrainConfig, model: nn.Module | None) -> nn.Module:
    """``model``, or a new one built from ``config``, after seeding torch with its seed."""
    torch.manual_seed(config.seed)
    if model is not None:
        return model
    return build_model(task.model_kind, config.architecture, config.hidden_size,
                       config.num_layers, **task.model_spec())


Result = FitResult | TrainingDiverged


def _train(task: Task, splits: Splits, configs: list[TrainConfig], hook: TrainingHook | None,
           models: list[nn.Module | None], monitor: Mapping[str, Split] | None,
           budgets: Sequence[int] = ()) -> list[dict[int, Result]]:
    """The training loop, for one model or for several seeds packed into one.
    Per member: ``max_epochs`` and each of ``budgets`` -> the result of training
    with that many epochs at most."""
    config = configs[0]
    device = config.device or default_device()
    models = [_seeded_model(task, c, m) for c, m in zip(configs, models, strict=True)]
    packed = len(models) > 1
    net = (pack(models) if packed else models[0]).to(device)
    width = len(models) if packed else None
    # fused: one kernel for all parameters (CPU and CUDA), same arithmetic
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay, fused=True)
    x, y = _tensor(splits.train.inputs, device), _tensor(splits.train.targets, device)
    members = [_Member(c, task.direction) for c in configs]

    def snapshot(k: int) -> dict[str, torch.Tensor]:
        return member_state(net, k) if packed else copy.deepcopy(net.state_dict())

    started = time.perf_counter()
    for epoch in range(1, config.max_epochs + 1):
        if all(m.stopped for m in members):
            break
        net.train()
        orders = torch.stack([m.order(len(x)) for m in members]).to(device)
        if not packed:
            orders = orders[0]
        total = torch.zeros(len(members), dtype=torch.float64, device=device)
        for start in range(0, len(x), config.batch_size):
            idx = orders[..., start:start + config.batch_size]
            losses = net.loss(x[idx], y[idx], **config.options)
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            if config.grad_clip > 0:
                if packed:
                    clip_grad_norm_per_member(list(net.parameters()), config.grad_clip)
                else:
                    nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
            optimizer.step()
            total += losses.detach().double().reshape(-1) * idx.shape[-1]
        train_losses = (total / len(x)).tolist()
        live = [k for k, m in enumerate(members) if not m.stopped]
        for k in live:
            if not math.isfinite(train_losses[k]):
                members[k].error = TrainingDiverged(
                    f"training loss is {train_losses[k]} at epoch {epoch}")
                members[k].stopped = True
        live = [k for k in live if not members[k].stopped]
        if not live:
            break
        if config.keep_lowest_train_loss:
            for k in live:
                if train_losses[k] < members[k].lowest_train_loss:
                    members[k].lowest_train_loss = train_losses[k]
                    members[k].lowest_state = snapshot(k)
        if not (config.validate or epoch == config.max_epochs or epoch in budgets):
            for k in live:
                members[k].history.append({"epoch": epoch, "train_loss": train_losses[k]})
            continue
        val = _predict_members(net, splits.val.inputs, device, width)
        extra = {name: (split, _predict_members(net, split.inputs, device, width))
                 for name, split in (monitor or {}).items()}
        for k in live:
            m = members[k]
            scores = task.score(splits.val, val[k])
            value = scores[task.metric]
            watched = {f"{name}_{key}": v for name, (split, preds) in extra.items()
                       for key, v in task.score(split, preds[k]).items()}
            m.history.append({"epoch": epoch, "train_loss": train_losses[k], **scores,
                              **watched})
            improved = _improved(value, m.best_value, task.direction)
            tie = (task.tie_break(splits.val, val[k])
                   if improved or value == m.best_value else None)
            won_tie = (not improved and tie is not None and m.best_tie is not None
                       and tie < m.best_tie)
            if improved:
                m.improved_epoch = epoch
            if improved or won_tie:
                m.best_value, m.best_epoch, m.best_scores, m.best_tie = value, epoch, scores, tie
                m.best_state = snapshot(k) if config.restore_best else None
            if hook is not None:
                hook.report(epoch, value)
                m.pruned = hook.should_prune()
            if m.pruned or epoch - m.improved_epoch >= config.patience:
                m.stopped = True
                if packed and not config.restore_best:
                    m.final_state = snapshot(k)
            if epoch in budgets and not m.stopped and epoch < config.max_epochs:
                state = m.kept_state(config)
                m.marks[epoch] = _Mark(
                    snapshot(k) if state is None else state, m.best_epoch,
                    m.best_value, m.best_scores, epoch, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    results: list[dict[int, Result]] = []
    for k, (m, model) in enumerate(zip(members, models, strict=True)):
        # a budget passed while training went on ends at its mark; any other
        # (the member stopped or diverged first) ends as the whole run
        out: dict[int, Result] = {}
        for e, mark in m.marks.items():
            shorter = copy.deepcopy(model)
            shorter.load_state_dict(mark.state)
            out[e] = FitResult(shorter.to(device), mark.best_epoch, mark.best_value,
                               mark.best_scores, m.history[:mark.epochs], mark.seconds)
        if m.error is not None:
            final: Result = m.error
        else:
            state = m.kept_state(config)
            if packed and state is None:  # ran to max_epochs
                state = member_state(net, k)
            if state is not None:
                model.load_state_dict(state)
            final = FitResult(model.to(device), m.best_epoch, m.best_value, m.best_scores,
                              m.history, seconds, pruned=m.pruned)
        results.append({e: out.get(e, final) for e in [*budgets, config.max_epochs]})
    return results


def fit(task: Task, splits: Splits, config: TrainConfig,
        hook: TrainingHook | None = None, model: nn.Module | None = None,
        monitor: Mapping[str, Split] | None = None) -> FitResult:
    """Train on ``splits.train``, select the epoch by the task's metric on val.

    ``model`` trains a prebuilt module (with ``loss``/``forward``) instead of
    building one from ``config``; ``monitor`` names extra splits whose task
    metrics are recorded every epoch in the history as ``<name>_<metric>``.
    """
    result = _train(task, splits, [config], hook, [model], monitor)[0][config.max_epochs]
    if isinstance(result, TrainingDiverged):
        raise result
    return result


def fit_many(task: Task, splits: Splits, configs: list[TrainConfig],
             models: list[nn.Module] | None = None,
             monitor: Mapping[str, Split] | None = None) -> list[Result]:
    """:func:`fit` for one configuration under several seeds, trained packed as one
    module (:mod:`seqtune.packing`): one batched kernel per layer and step for all
    seeds, each with its own initial weights, batch order, gradient clipping,
    early stopping and best epoch.

    Member ``k`` gives what ``fit(task, splits, configs[k])`` gives, up to
    floating-point round-off (the packed core adds in another order), except
    that random teacher-forcing draws (a ratio strictly between 0 and 1) come
    from one stream. A member whose training diverges is returned as its
    :class:`TrainingDiverged` error; the others go on. ``FitResult.seconds`` is
    the wall time of the whole pack.
    """
    if not configs:
        return []
    return [r[configs[0].max_epochs]
            for r in fit_budgets(task, splits, configs, (), models, monitor)]


def fit_budgets(task: Task, splits: Splits, configs: list[TrainConfig], budgets: Sequence[int],
                models: list[nn.Module] | None = None,
                monitor: Mapping[str, Split] | None = None) -> list[dict[int, Result]]:
    """:func:`fit_many` under several epoch budgets from one run: per member,
    ``{budget: result}`` for each of ``budgets`` and ``max_epochs``, each exactly
    what ``fit_many`` gives with ``max_epochs`` = that budget (nothing in training
    depends on ``max_epochs`` but where it stops). A member that diverges after a
    budget's epochs is a result at that budget and an error at the longer ones.
    """
    if any(replace(c, seed=0) != replace(configs[0], seed=0) for c in configs):
        raise ValueError("fit_many: the configurations may differ only in their seed")
    top = configs[0].max_epochs
    if any(not 1 <= e <= top for e in budgets):
        raise ValueError(f"fit_budgets: budgets must lie in 1..max_epochs ({top}), got "
                         f"{list(budgets)}")
    return _train(task, splits, list(configs), None, list(models or [None] * len(configs)),
                  monitor, sorted(set(budgets)))


def evaluate(task: Task, model: nn.Module, split: Split, device: str | None = None
             ) -> dict[str, float]:
    """The task's metrics for ``model`` on ``split``."""
    return task.score(split, predict(model, split.inputs, device))
