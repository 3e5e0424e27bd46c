"""The tanh RNN with a written-out backward pass computes what ``nn.RNN`` does."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqtune.models import TanhRNN, build_model


@pytest.mark.parametrize("layers", [1, 2])
def test_outputs_and_gradients_equal_nn_rnn(layers):
    torch.manual_seed(0)
    reference = nn.RNN(5, 7, layers, batch_first=True)
    ours = TanhRNN(5, 7, layers, batch_first=True)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(4, 9, 5, requires_grad=True)
    h0 = torch.randn(layers, 4, 7)
    results = []
    for core in (reference, ours):
        out, h_n = core(x, h0)
        loss = out.sin().sum() + h_n.cos().sum()  # a gradient for every step and h_n
        results.append((out, h_n, torch.autograd.grad(loss, [x, *core.parameters()])))
    (out_a, h_a, grads_a), (out_b, h_b, grads_b) = results
    torch.testing.assert_close(out_b, out_a)
    torch.testing.assert_close(h_b, h_a)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_the_digitsum_rnn_uses_it_and_keeps_nn_rnn_state_dicts():
    model = build_model("classifier", "rnn", 8, 1, vocab_size=10, n_classes=19)
    assert isinstance(model.core, TanhRNN)
    plain = nn.RNN(32, 8, batch_first=True)
    model.core.load_state_dict(plain.state_dict())  # same parameter names and shapes
    digits = torch.randint(0, 10, (3, 6))
    torch.testing.assert_close(model.core(model.embedding(digits))[0],
                               plain(model.embedding(digits))[0])
