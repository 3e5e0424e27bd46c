"""Train several seeds of one configuration as one packed model.

A tiny recurrent model (the Flux question's ``LSTM(3,3)`` at batch 3, the
NNDL post's 32 units at batch 8) spends its training step on per-operation
overhead, not arithmetic. :func:`pack` turns K models of the same
architecture (each built and initialised with its own seed) into one module
whose parameters carry a leading *member* dimension of size K: every layer
becomes one batched kernel over the members (``baddbmm``; an LSTM core, one
block-diagonal fused ``torch.lstm``), so the overhead is paid once for all K.

The models' own code runs unchanged: it is written over trailing dimensions
(``out[..., -1, :]``, ``seeds.shape[-2]``), so it accepts inputs with the
extra leading dimension, and its ``loss`` returns one value per member.
Parameter names are kept, so member ``k`` of the packed state dict
(:func:`member_state`) loads straight into one of the original models.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from seqtune._tanh_scan import tanh_scan
from seqtune.errors import SeqtuneError
from seqtune.models import TanhRNN

_CORE_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
#: fewest steps per call at which a packed LSTM runs fused: building the
#: block-diagonal core costs more than a few small steps. Measured, 5 seeds of
#: the question's chain against one: free-running (a 4-step warm-up, then single
#: steps) 1.6x the wall of one seed fused from 1 step, 1.04x from 5; teacher-forced
#: (9 steps in one call) 1.75x stepped, 1.3x fused
FUSED_LSTM_STEPS = 5
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def _stack(tensors: Sequence[torch.Tensor]) -> nn.Parameter:
    return nn.Parameter(torch.stack([t.detach() for t in tensors]).contiguous())


class PackedLinear(nn.Module):
    """K ``nn.Linear`` layers: ``(K, ..., in) -> (K, ..., out)``."""

    def __init__(self, layers: Sequence[nn.Linear]) -> None:
        super().__init__()
        self.weight = _stack([layer.weight for layer in layers])
        self.bias = _stack([layer.bias for layer in layers])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        members, inner = x.shape[0], x.shape[1:-1]
        flat = x.reshape(members, -1, x.shape[-1])
        out = torch.baddbmm(self.bias.unsqueeze(1), flat, self.weight.transpose(1, 2))
        return out.reshape(members, *inner, -1)


class PackedEmbedding(nn.Module):
    """K ``nn.Embedding`` tables: indices ``(K, ...) -> (K, ..., dim)``."""

    def __init__(self, tables: Sequence[nn.Embedding]) -> None:
        super().__init__()
        self.weight = _stack([table.weight for table in tables])

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        members, rows, dim = self.weight.shape
        offsets = torch.arange(members, device=indices.device) * rows
        shifted = indices + offsets.view(-1, *([1] * (indices.dim() - 1)))
        return F.embedding(shifted, self.weight.reshape(members * rows, dim))


class PackedRecurrent(nn.Module):
    """K batch-first ``nn.RNN`` (tanh), ``nn.LSTM`` or ``nn.GRU`` cores.

    A tanh RNN or GRU steps through time with one batched matmul per step for
    all members; an LSTM given several steps at once runs as one block-diagonal
    core through the fused ``torch.lstm`` kernel, which a step-by-step LSTM
    cannot match on CPU.

    Inputs ``(K, batch, steps, in)``; the state has the core's own layout
    with the member dimension in front: ``(K, layers, batch, hidden)``.
    """

    def __init__(self, cores: Sequence[nn.RNNBase]) -> None:
        super().__init__()
        first = cores[0]
        if not first.batch_first or first.bidirectional or first.proj_size or not first.bias:
            raise SeqtuneError("packing supports batch-first, one-directional cores "
                               "with biases only")
        self.mode = {"RNN_TANH": "rnn", "LSTM": "lstm", "GRU": "gru"}.get(first.mode)
        if self.mode is None:
            raise SeqtuneError(f"packing does not support the {first.mode} core")
        self.num_layers, self.hidden_size = first.num_layers, first.hidden_size
        for layer in range(self.num_layers):
            for name in _CORE_WEIGHTS:
                key = f"{name}_l{layer}"
                setattr(self, key, _stack([getattr(core, key) for core in cores]))

    def _layer(self, x: torch.Tensor, layer: int, h: torch.Tensor, c: torch.Tensor | None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One layer, all members in batched matmuls, step by step (the tanh RNN:
        one scan)."""
        w_ih, w_hh, b_ih, b_hh = (getattr(self, f"{n}_l{layer}") for n in _CORE_WEIGHTS)
        members, batch, steps, _ = x.shape
        size = self.hidden_size
        # the input's contribution to every step at once: one matmul per layer
        # (the GRU keeps b_hh apart: its n gate scales W_hn h + b_hn by r)
        bias = b_ih if self.mode == "gru" else b_ih + b_hh
        gates_in = torch.baddbmm(bias.unsqueeze(1), x.reshape(members, batch * steps, -1),
                                 w_ih.transpose(1, 2)).view(members, batch, steps, -1)
        if self.mode == "rnn":  # the whole recurrence, with a written-out backward
            states = tanh_scan(gates_in, h, w_hh)
            return states, states[:, :, -1], c
        w_hh_t, b_hh = w_hh.transpose(1, 2), b_hh.unsqueeze(1)
        outputs = []
        for t in range(steps):
            g_in = gates_in[:, :, t]
            if self.mode == "gru":
                gates_h = torch.baddbmm(b_hh, h, w_hh_t)
                rz = torch.sigmoid(g_in[..., :2 * size] + gates_h[..., :2 * size])
                r, z = rz[..., :size], rz[..., size:]
                n = torch.tanh(g_in[..., 2 * size:] + r * gates_h[..., 2 * size:])
                h = n + z * (h - n)
            else:
                gates = torch.baddbmm(g_in, h, w_hh_t)
                act = torch.sigmoid(gates)  # i, f, o used; the g slice is recomputed below
                i, f, o = act[..., :size], act[..., size:2 * size], act[..., 3 * size:]
                g = torch.tanh(gates[..., 2 * size:3 * size])
                c = torch.addcmul(f * c, i, g)
                h = o * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=2), h, c

    def _block_diagonal(self, name: str) -> torch.Tensor:
        """The K members' weights (or biases) of ``name`` as one core's: gate-major,
        member-major within a gate, zero between members; gradients reach each
        member's own block only."""
        stacked = getattr(self, name)
        members, rows = stacked.shape[:2]
        gates = stacked.view(members, 4, rows // 4, *stacked.shape[2:])
        if stacked.dim() == 2:  # bias (K, 4H) -> (4 K H)
            return gates.transpose(0, 1).reshape(-1)
        eye = torch.eye(members, dtype=stacked.dtype, device=stacked.device)
        return torch.einsum("kguv,kl->gkulv", gates, eye).reshape(rows * members, -1)

    def _fused_lstm(self, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor
                    ) -> tuple[torch.Tensor, State]:
        """All members through one fused ``torch.lstm`` call (oneDNN on CPU): the
        members' cores side by side as one block-diagonal core, so a member never
        sees another's units. Same arithmetic as K separate cores, plus exact zeros."""
        members, batch, steps, _ = x.shape
        params = [self._block_diagonal(f"{name}_l{layer}")
                  for layer in range(self.num_layers) for name in _CORE_WEIGHTS]
        side_by_side = x.permute(1, 2, 0, 3).reshape(batch, steps, -1)

        def joined(state: torch.Tensor) -> torch.Tensor:  # (K, L, B, H) -> (L, B, K H)
            return state.permute(1, 2, 0, 3).reshape(self.num_layers, batch, -1)

        def split(state: torch.Tensor) -> torch.Tensor:  # (L, B, K H) -> (K, L, B, H)
            return state.view(self.num_layers, batch, members, -1).permute(2, 0, 1, 3)

        out, h_n, c_n = torch.lstm(side_by_side, (joined(h0), joined(c0)), params, True,
                                   self.num_layers, 0.0, self.training, False, True)
        out = out.view(batch, steps, members, -1).permute(2, 0, 1, 3)
        return out, (split(h_n), split(c_n))

    def forward(self, x: torch.Tensor, state: State | None = None
                ) -> tuple[torch.Tensor, State]:
        members, batch = x.shape[:2]
        if state is None:
            zeros = x.new_zeros(members, self.num_layers, batch, self.hidden_size)
            state = (zeros, zeros) if self.mode == "lstm" else zeros
        if self.mode == "lstm" and x.shape[2] >= FUSED_LSTM_STEPS:
            return self._fused_lstm(x, *state)
        h0, c0 = state if self.mode == "lstm" else (state, None)
        last_h, last_c = [], []
        for layer in range(self.num_layers):
            x, h, c = self._layer(x, layer, h0[:, layer], None if c0 is None else c0[:, layer])
            last_h.append(h)
            last_c.append(c)
        h_n = torch.stack(last_h, dim=1)
        if self.mode == "lstm":
            return x, (h_n, torch.stack(last_c, dim=1))
        return x, h_n


_PACKERS: dict[type[nn.Module], type[nn.Module]] = {
    nn.Linear: PackedLinear, nn.Embedding: PackedEmbedding,
    nn.RNN: PackedRecurrent, TanhRNN: PackedRecurrent, nn.LSTM: PackedRecurrent,
    nn.GRU: PackedRecurrent,
}


def pack(models: Sequence[nn.Module]) -> nn.Module:
    """One module holding ``models`` (same class and shapes) as K members.

    Layers are replaced by their packed forms; parameters that belong to a
    module directly (e.g. a trainable initial state) are stacked. Raises
    :class:`SeqtuneError` for a layer that cannot be packed.
    """
    if len({type(m) for m in models}) != 1:
        raise SeqtuneError("packing needs models of one class")
    shapes = [{k: v.shape for k, v in m.state_dict().items()} for m in models]
    if any(s != shapes[0] for s in shapes):
        raise SeqtuneError("packing needs models of identical shapes")
    packed = copy.deepcopy(models[0])
    for name, module in list(packed.named_modules()):
        originals = [m.get_submodule(name) for m in models]
        if type(module) in _PACKERS:
            parent, _, attr = name.rpartition(".")
            setattr(packed.get_submodule(parent), attr, _PACKERS[type(module)](originals))
            continue
        own = [k for k, _ in module.named_parameters(recurse=False)]
        if own and type(module).__module__.startswith("torch.nn"):
            raise SeqtuneError(f"packing does not support {type(module).__name__} layers")
        for key in own:
            setattr(module, key, _stack([m.get_parameter(key) for m in originals]))
    return packed


def member_state(packed: nn.Module, member: int) -> dict[str, torch.Tensor]:
    """Member ``member``'s weights, loadable into one of the packed models."""
    return {k: v[member].detach().clone() for k, v in packed.state_dict().items()}


def clip_grad_norm_per_member(params: Sequence[nn.Parameter], max_norm: float) -> None:
    """``nn.utils.clip_grad_norm_`` applied to each member on its own."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    norms = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads]).sum(0).sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
