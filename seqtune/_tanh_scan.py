"""The tanh RNN's recurrence with a hand-written backward pass, for CPU.

``nn.RNN`` on CPU records every time step in autograd: per step a matmul, an
add and a tanh forward, and their backward nodes, each paying dispatch and
bookkeeping overhead that dwarfs the arithmetic of a small model (32 units at
batch 8: about 3 MFLOP per training step against ~700 recorded operations).
Here the forward pass runs the steps without autograd (two in-place kernels
per step) and the backward pass is written out: per step one multiply-add
and one matmul (the output gradient's share of every step is one kernel
before the loop), then one matmul for the whole recurrent weight gradient.
The result is the same function, with the same gradients up to round-off.
"""

from __future__ import annotations

from typing import Any

import torch


class _TanhScan(torch.autograd.Function):
    """``h_t = tanh(pre_t + h_{t-1} W^T)`` over ``t``, for K members at once.

    ``pre``: (K, T, B, H), the input's share of every step (biases included);
    ``h0``: (K, B, H); ``weight``: (K, H, H). Returns all states (K, T, B, H).
    """

    @staticmethod
    def forward(ctx: Any, pre: torch.Tensor, h0: torch.Tensor,
                weight: torch.Tensor) -> torch.Tensor:
        steps = pre.shape[1]
        states = torch.empty(steps, *h0.shape, dtype=pre.dtype, device=pre.device)
        # one unbind per tensor instead of an indexing op per step
        inputs, outputs = pre.transpose(0, 1).unbind(0), states.unbind(0)
        weight_t = weight.transpose(1, 2)
        h = h0
        for t in range(steps):
            h = torch.baddbmm(inputs[t], h, weight_t, out=outputs[t])
            h.tanh_()
        ctx.save_for_backward(states, h0, weight)
        return states.transpose(0, 1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                        torch.Tensor]:
        states, h0, weight = ctx.saved_tensors
        steps = states.shape[0]
        slope = 1 - states * states  # tanh' at every step, in one kernel
        # d_pre[t] = (grad[t] + dh[t]) * slope[t]: the grad[t] * slope[t] share of
        # every step in one kernel, then one multiply-add and one matmul per step
        d_pre = torch.mul(grad.transpose(0, 1), slope, out=torch.empty_like(states))
        d_steps, slopes = d_pre.unbind(0), slope.unbind(0)
        dh = torch.bmm(d_steps[-1], weight)
        for t in range(steps - 2, -1, -1):
            dh = torch.bmm(d_steps[t].addcmul_(dh, slopes[t]), weight)
        previous = torch.cat([h0.unsqueeze(0), states[:-1]])
        members, size = h0.shape[0], h0.shape[-1]
        flat_d = d_pre.transpose(0, 1).reshape(members, -1, size)
        flat_prev = previous.transpose(0, 1).reshape(members, -1, size)
        d_weight = torch.bmm(flat_d.transpose(1, 2), flat_prev)
        return d_pre.transpose(0, 1), dh, d_weight


def tanh_scan(pre: torch.Tensor, h0: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Every state of a tanh recurrence: ``pre`` (K, B, T, H) batch-first, ``h0``
    (K, B, H), ``weight`` (K, H, H) -> states (K, B, T, H)."""
    states = _TanhScan.apply(pre.transpose(1, 2), h0, weight)
    return states.transpose(1, 2)
