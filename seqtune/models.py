"""Recurrent models: one fused torch core (tanh RNN, LSTM, GRU) behind three heads.

- :class:`SeedGenerator` reads seeds, then generates a continuation step by step.
- :class:`WindowForecaster` reads an input window and predicts the next value.
- :class:`SequenceClassifier` embeds digits and classifies from the last state.

Every model exposes ``loss(inputs, targets, **options)`` for training and
``forward(inputs)`` for (free-running) prediction, so one trainer serves all.
The code is written over trailing dimensions and ``loss`` returns one value
per leading index, so the same model also runs packed (several seeds as one
module with a leading member dimension, :mod:`seqtune.packing`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from seqtune._tanh_scan import tanh_scan
from seqtune.errors import SeqtuneError

ARCHITECTURES = ("rnn", "lstm", "gru")


class TanhRNN(nn.RNN):
    """``nn.RNN`` (tanh, batch-first) whose CPU forward runs each layer through
    :func:`seqtune._tanh_scan.tanh_scan`: the same function and parameters
    (state dicts are interchangeable), a fraction of the per-step overhead.
    Other devices, and a packed-sequence or unbatched input, use ``nn.RNN``'s own."""

    def forward(self, x: Any, hx: torch.Tensor | None = None) -> Any:
        if (not isinstance(x, torch.Tensor) or x.device.type != "cpu" or x.dim() != 3
                or self.dropout or self.bidirectional or not self.bias):
            return super().forward(x, hx)
        if hx is None:
            hx = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
        last = []
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = (getattr(self, f"{n}_l{layer}") for n in
                                      ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            pre = torch.addmm(b_ih + b_hh, x.reshape(-1, x.shape[-1]), w_ih.t())
            x = tanh_scan(pre.view(1, *x.shape[:2], -1), hx[layer].unsqueeze(0),
                          w_hh.unsqueeze(0))[0]
            last.append(x[:, -1])
        return x, torch.stack(last)


def recurrent_core(architecture: str, input_size: int, hidden_size: int,
                   num_layers: int) -> nn.RNNBase:
    """A batch-first tanh RNN (:class:`TanhRNN`), ``nn.LSTM`` or ``nn.GRU``."""
    kinds = {"rnn": TanhRNN, "lstm": nn.LSTM, "gru": nn.GRU}
    if architecture not in kinds:
        raise SeqtuneError(
            f"architecture: unknown {architecture!r}; expected one of {ARCHITECTURES}")
    if hidden_size < 1 or num_layers < 1:
        raise SeqtuneError("hidden_size and num_layers must be positive integers")
    core = kinds[architecture](input_size, hidden_size, num_layers, batch_first=True)
    _recurrent_init(core, architecture, hidden_size)
    return core


def _recurrent_init(core: nn.RNNBase, architecture: str, hidden_size: int) -> None:
    """Keras' defaults for recurrent layers: each gate's recurrent matrix
    orthogonal (spectral radius 1, so a state neither dies out nor explodes
    over many steps) and the LSTM forget-gate bias 1 (Jozefowicz et al., 2015).

    PyTorch's uniform(+-1/sqrt(hidden)) recurrent weights have a spectral radius
    near 0.58 at 32 units: a tanh RNN then forgets the first digits of a
    DigitSum row within ~10 steps (test accuracy 0.10-0.13 at L=10 in 50 epochs
    against 0.52-0.55 with orthogonal weights, same data, seeds and budget).
    """
    with torch.no_grad():
        for name, weight in core.named_parameters():
            if name.startswith("weight_hh"):
                for gate in weight.split(hidden_size):
                    nn.init.orthogonal_(gate)
            elif architecture == "lstm" and name.startswith("bias_"):
                # gates i, f, g, o; bias_ih + bias_hh is the effective bias
                weight[hidden_size:2 * hidden_size] = 1.0 if name.startswith("bias_ih") else 0.0


class SeedGenerator(nn.Module):
    """Reads ``n_seeds`` values, then emits ``horizon`` values one at a time.

    Each step's input is the previous value: the true one with probability
    ``teacher_forcing`` during training (scheduled sampling), otherwise the
    model's own output. Prediction is always free-running.
    """

    def __init__(self, architecture: str, hidden_size: int, num_layers: int,
                 horizon: int) -> None:
        super().__init__()
        self.horizon = horizon
        self.core = recurrent_core(architecture, 1, hidden_size, num_layers)
        self.head = nn.Linear(hidden_size, 1)

    def _rollout(self, seeds: torch.Tensor, steps: int, targets: torch.Tensor | None = None,
                 teacher_forcing: float = 0.0) -> torch.Tensor:
        out, state = self.core(seeds.unsqueeze(-1))
        value = self.head(out[..., -1, :])  # prediction of the first continuation value
        values = [value]
        for t in range(1, steps):
            feed = value
            if targets is not None and teacher_forcing > 0.0:
                use_truth = torch.rand_like(value) < teacher_forcing
                feed = torch.where(use_truth, targets[..., t - 1:t], value)
            out, state = self.core(feed.unsqueeze(-2), state)
            value = self.head(out[..., -1, :])
            values.append(value)
        return torch.cat(values, dim=-1)

    def forward(self, seeds: torch.Tensor) -> torch.Tensor:
        return self._rollout(seeds, self.horizon)

    def loss(self, seeds: torch.Tensor, targets: torch.Tensor, teacher_forcing: float = 0.0,
             rollout: int | None = None) -> torch.Tensor:
        """MSE over the first ``rollout`` steps (1 = one-step-ahead, default all)."""
        steps = min(rollout or self.horizon, self.horizon)
        pred = self._rollout(seeds, steps, targets, teacher_forcing)
        return (pred - targets[..., :steps]).square().mean(dim=(-2, -1))


class WindowForecaster(nn.Module):
    """Input window (batch, window, features) -> next target value."""

    def __init__(self, architecture: str, hidden_size: int, num_layers: int,
                 n_features: int) -> None:
        super().__init__()
        self.core = recurrent_core(architecture, n_features, hidden_size, num_layers)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        out, _ = self.core(windows)
        return self.head(out[..., -1, :]).squeeze(-1)

    def loss(self, windows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return (self(windows) - targets).square().mean(dim=-1)


class SequenceClassifier(nn.Module):
    """Digits (batch, length) -> class scores from the last hidden state."""

    def __init__(self, architecture: str, hidden_size: int, num_layers: int,
                 vocab_size: int, n_classes: int, embedding_dim: int = 32) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.core = recurrent_core(architecture, embedding_dim, hidden_size, num_layers)
        self.head = nn.Linear(hidden_size, n_classes)

    def forward(self, digits: torch.Tensor) -> torch.Tensor:
        out, _ = self.core(self.embedding(digits))
        return self.head(out[..., -1, :])

    def loss(self, digits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = self(digits)
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                 reduction="none")
        return losses.view(labels.shape).mean(dim=-1)


MODEL_KINDS: dict[str, type[nn.Module]] = {
    "generator": SeedGenerator,
    "forecaster": WindowForecaster,
    "classifier": SequenceClassifier,
}


def build_model(kind: str, architecture: str, hidden_size: int, num_layers: int,
                **spec: Any) -> nn.Module:
    """The model for a task's ``model_kind``; ``spec`` comes from ``Task.model_spec()``."""
    return MODEL_KINDS[kind](architecture, hidden_size, num_layers, **spec)
