"""The question's Flux model in PyTorch.

``Chain(Dense(1,3), LSTM(3,3), Dense(3,5,relu), Dense(5,1))`` applied one
value at a time, the LSTM state carried from call to call and reset per
sequence (``Flux.reset!``). Here a whole batch of sequences moves through
time together: one fused ``nn.LSTM`` call covers every step whose input is
known in advance, and only free-running steps go one at a time. Written over
trailing dimensions, so several seeds can train packed
(:mod:`seqtune.packing`).
"""

from __future__ import annotations

import torch
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]


class FluxChain(nn.Module):
    """``Dense(1,width) -> LSTM(width,width) -> Dense(width,head,relu) -> Dense(head,1)``.

    Initialised as Flux does (Glorot-uniform weights, zero biases, LSTM forget
    gate bias 1); the initial LSTM state is a parameter, as in Flux 0.11/0.12
    where ``reset!`` returns the state to a trainable ``state0``.
    """

    def __init__(self, width: int = 3, head: int = 5, n_seeds: int = 5, horizon: int = 5) -> None:
        super().__init__()
        self.n_seeds, self.horizon = n_seeds, horizon
        self.dense_in = nn.Linear(1, width)
        self.lstm = nn.LSTM(width, width, batch_first=True)
        self.dense_mid = nn.Linear(width, head)
        self.dense_out = nn.Linear(head, 1)
        self.state0 = nn.Parameter(torch.zeros(2, width))
        self._init_like_flux(width)

    def _init_like_flux(self, width: int) -> None:
        for name, param in self.named_parameters():
            if name.startswith("state0"):
                continue
            if param.dim() == 2:
                nn.init.xavier_uniform_(param)
            else:
                nn.init.zeros_(param)
        with torch.no_grad():
            self.lstm.bias_ih_l0[width:2 * width] = 1.0  # gate order i, f, g, o in both

    def reset(self, batch: int) -> State:
        """``Flux.reset!``: every sequence of the batch starts from the initial state."""
        lead, width = self.state0.shape[:-2], self.state0.shape[-1]
        # (..., layers = 1, batch, width), the core's state layout
        h0, c0 = (self.state0[..., k, None, None, :].expand(*lead, 1, batch, width).contiguous()
                  for k in (0, 1))
        return h0, c0

    def chain(self, values: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Feed ``values`` (batch, steps) through the chain; outputs (batch, steps)."""
        hidden, state = self.lstm(self.dense_in(values.unsqueeze(-1)), state)
        out = self.dense_out(torch.relu(self.dense_mid(hidden)))
        return out.squeeze(-1), state

    def _run_free(self, first: torch.Tensor, state: State, steps: int,
                  truth: torch.Tensor | None = None, teacher_forcing: float = 0.0
                  ) -> torch.Tensor:
        """``steps`` outputs starting from input ``first``; each later input is the
        previous output, or with probability ``teacher_forcing`` the true one."""
        value, state = self.chain(first, state)
        values = [value]
        for t in range(1, steps):
            feed = value
            if truth is not None and teacher_forcing > 0.0:
                use_truth = torch.rand_like(value) < teacher_forcing
                feed = torch.where(use_truth, truth[..., t:t + 1], value)
            value, state = self.chain(feed, state)
            values.append(value)
        return torch.cat(values, dim=-1)

    def forward(self, seeds: torch.Tensor) -> torch.Tensor:
        """Free-running continuation (batch, horizon): reset, feed every seed but
        the last (warm-up), then the last seed, then each output back in."""
        state = self.reset(seeds.shape[-2])
        if seeds.shape[-1] > 1:
            _, state = self.chain(seeds[..., :-1], state)
        return self._run_free(seeds[..., -1:], state, self.horizon)

    def loss(self, sequences: torch.Tensor, targets: torch.Tensor,
             teacher_forcing: float = 1.0) -> torch.Tensor:
        """``myloss``: reset, warm up on seeds 1..n-1 (outputs ignored), then the sum
        over the horizon's steps of the batch-mean squared error between the
        output at step i and ``targets[:, i]``, the input being ``sequences[:, i]``.

        ``teacher_forcing`` 1 is the question's loss (every input is the true
        value); below 1, inputs after the first are the model's own output with
        probability ``1 - teacher_forcing`` (scheduled sampling; 0 = free-running,
        as at prediction time).
        """
        first, last = self.n_seeds - 1, self.n_seeds - 1 + self.horizon
        inputs, goals = sequences[..., first:last], targets[..., first:last]
        state = self.reset(sequences.shape[-2])
        if teacher_forcing >= 1.0:  # warm-up and steps in one fused call
            outputs, _ = self.chain(sequences[..., :last], state)
            outputs = outputs[..., first:]
        else:
            _, state = self.chain(sequences[..., :first], state)
            outputs = self._run_free(inputs[..., :1], state, self.horizon, inputs,
                                     teacher_forcing)
        return ((outputs - goals) ** 2).mean(dim=-2).sum(dim=-1)
