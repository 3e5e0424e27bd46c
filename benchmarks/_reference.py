"""The NNDL memory experiment's training loop, rebuilt as the baseline for speed.

Written in the style of the post (not copied from it): a hand-written tanh
cell stepped through time in a Python ``for`` loop, a per-example
``Dataset`` read by a ``DataLoader`` in batches of 8, Adam at 1e-3, dev
accuracy accumulated batch by batch every 100 optimizer steps, the best dev
model saved (serialized, as the post saves it to a file) and reloaded for the
test accuracy. This is what seqtune's trainer is timed against.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

N_DIGITS = 10
N_CLASSES = 19
EMBEDDING = 32
HIDDEN = 32
BATCH_SIZE = 8
LEARNING_RATE = 1e-3
EVAL_STEPS = 100

Example = tuple[list[int], int]


def examples(inputs: np.ndarray, targets: np.ndarray) -> list[Example]:
    """Rows as plain Python lists, the way the post parses its text files."""
    return [(row.tolist(), int(label)) for row, label in zip(inputs, targets, strict=True)]


class DigitSequences(Dataset):
    """One (digits, label) pair per index, turned into tensors on every access."""

    def __init__(self, rows: list[Example]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        digits, label = self.rows[index]
        return torch.tensor(digits, dtype=torch.int64), torch.tensor(label, dtype=torch.int64)


def _xavier(*shape: int) -> nn.Parameter:
    return nn.Parameter(nn.init.xavier_uniform_(torch.empty(*shape)))


class TanhCell(nn.Module):
    """``h_t = tanh(x_t W + h_{t-1} U + b)``, one time step per Python iteration."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.W = _xavier(input_size, hidden_size)
        self.U = _xavier(hidden_size, hidden_size)
        self.b = _xavier(1, hidden_size)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        batch, steps, _ = sequence.shape
        state = torch.zeros(batch, self.hidden_size)
        for t in range(steps):
            state = torch.tanh(sequence[:, t, :] @ self.W + state @ self.U + self.b)
        return state


class DigitSumNet(nn.Module):
    """Embedding table -> tanh cell -> linear head on the last state."""

    def __init__(self) -> None:
        super().__init__()
        self.table = _xavier(N_DIGITS, EMBEDDING)
        self.cell = TanhCell(EMBEDDING, HIDDEN)
        self.head = nn.Linear(HIDDEN, N_CLASSES)

    def forward(self, digits: torch.Tensor) -> torch.Tensor:
        return self.head(self.cell(self.table[digits]))


class RunningAccuracy:
    """Correct predictions and examples summed over batches, divided at the end."""

    def __init__(self) -> None:
        self.correct = 0.0
        self.count = 0

    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        predicted = torch.argmax(logits, dim=1)
        self.correct += float(torch.sum((predicted == labels).to(torch.float32)).numpy())
        self.count += len(labels)

    def value(self) -> float:
        return self.correct / self.count if self.count else 0.0


@torch.no_grad()
def score(model: nn.Module, loader: DataLoader, loss_fn: nn.Module) -> tuple[float, float]:
    """(accuracy, mean batch loss) over ``loader``."""
    model.eval()
    metric, total = RunningAccuracy(), 0.0
    for digits, labels in loader:
        logits = model(digits)
        total += loss_fn(logits, labels).item()
        metric.update(logits, labels)
    return metric.value(), total / max(1, len(loader))


@dataclass
class ReferenceResult:
    best_dev_accuracy: float
    test_accuracy: float
    seconds: float
    steps: int
    evaluations: int


def train_reference(train: list[Example], dev: list[Example], test: list[Example],
                    epochs: int, seed: int = 0, shuffle: bool = True,
                    on_epoch: Callable[[int, float], None] | None = None) -> ReferenceResult:
    """Train the post's SRN for ``epochs``; the returned seconds cover data loading,
    training, dev evaluations and the final test evaluation."""
    torch.manual_seed(seed)
    started = time.perf_counter()
    train_loader = DataLoader(DigitSequences(train), batch_size=BATCH_SIZE, shuffle=shuffle)
    dev_loader = DataLoader(DigitSequences(dev), batch_size=BATCH_SIZE)
    test_loader = DataLoader(DigitSequences(test), batch_size=BATCH_SIZE)
    model = DigitSumNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()
    last_step = epochs * len(train_loader) - 1
    best, saved, step, evaluations = 0.0, None, 0, 0
    step_losses: list[float] = []  # the post keeps every step's loss for its plots
    for epoch in range(epochs):
        model.train()
        for digits, labels in train_loader:
            loss = loss_fn(model(digits), labels)
            step_losses.append(loss.item())
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if step > 0 and (step % EVAL_STEPS == 0 or step == last_step):
                accuracy, _ = score(model, dev_loader, loss_fn)
                evaluations += 1
                model.train()
                if accuracy > best:
                    best, saved = accuracy, io.BytesIO()
                    torch.save(model.state_dict(), saved)
            step += 1
        if on_epoch is not None:
            on_epoch(epoch + 1, best)
    if saved is not None:
        saved.seek(0)
        model.load_state_dict(torch.load(saved))
    test_accuracy, _ = score(model, test_loader, loss_fn)
    return ReferenceResult(best, test_accuracy, time.perf_counter() - started, step,
                           evaluations)
