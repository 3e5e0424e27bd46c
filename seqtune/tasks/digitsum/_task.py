"""The digitsum task: its data (the book's generator and the dense variant) and scoring.

Each row is a digit sequence; the label is the sum of its first two digits
(19 classes). ``book`` mode is the book's generator: the 100 (d1, d2) pairs,
zeros after them, one random later position set to a random digit, k copies
per pair. With the book's seed it reproduces the book's files line for line.
``dense`` mode fills every later position with a random digit.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from seqtune.errors import SeqtuneError
from seqtune.tasks._base import Split, Splits, Task

#: the book generates these lengths, in this order, from one seeded NumPy state
BOOK_LENGTHS = (5, 10, 15, 20, 25, 30, 35)
MODES = ("book", "dense")
#: the NNDL post's untuned SRN (embedding 32, tanh RNN 32, Adam 1e-3, batch 8,
#: the book's data and protocol): mean test accuracy over 3 seeds, as measured
#: and quoted in seqtune's issue 17 (the post prints one run per length)
BOOK_SRN_TEST = {10: 0.83, 15: 0.72, 20: 0.67, 25: 0.57, 30: 0.42, 35: 0.23}
BOOK_SRN_LABEL = "NNDL post's untuned SRN (3 seeds)"
N_CLASSES = 19
#: the baseline row holding the linear model that solves the task (the report's yardstick)
SELECTED_LOGISTIC = "logistic regression, selected positions"


def _book_split(rs: np.random.RandomState, length: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The book's ``generate_data``: every (d1, d2) pair, k noisy copies each."""
    rows, labels = [], []
    for n1 in range(10):
        for n2 in range(10):
            for _ in range(k):
                idx = rs.randint(2, length)
                val = rs.randint(0, 10)
                row = [n1, n2] + [0] * (length - 2)
                row[idx] = val
                rows.append(row)
                labels.append(n1 + n2)
    return np.array(rows, dtype=np.int64), np.array(labels, dtype=np.int64)


def book_data(length: int, seed: int = 0, k_train: int = 3,
              k_eval: int = 1) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(train, dev, test) as the book makes them.

    The book seeds NumPy once and generates lengths 5, 10, ..., 35 in order
    (train, dev, test each), so a book length replays the draws of the lengths
    before it. Any other length is generated alone from ``seed``.
    """
    rs = np.random.RandomState(seed)
    schedule = BOOK_LENGTHS[: BOOK_LENGTHS.index(length) + 1] if length in BOOK_LENGTHS \
        else (length,)
    for current in schedule:
        out = (_book_split(rs, current, k_train), _book_split(rs, current, k_eval),
               _book_split(rs, current, k_eval))
    return out


def dense_data(length: int, seed: int = 0, n_train: int = 3000,
               n_eval: int = 500) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The harder variant: every position is a random digit."""
    rng = np.random.default_rng(seed)
    out = []
    for n in (n_train, n_eval, n_eval):
        rows = rng.integers(0, 10, size=(n, length), dtype=np.int64)
        out.append((rows, rows[:, 0] + rows[:, 1]))
    return tuple(out)


def book_lines(x: np.ndarray, y: np.ndarray) -> list[str]:
    """Rows in the book's file format: ``d1 d2 ... dL<TAB>label``."""
    return [" ".join(map(str, row)) + "\t" + str(label) for row, label in zip(x, y, strict=True)]


class DigitSumTask(Task):
    name: ClassVar[str] = "digitsum"
    metric: ClassVar[str] = "accuracy"
    direction: ClassVar[Literal["minimize", "maximize"]] = "maximize"
    model_kind = "classifier"

    @classmethod
    def split_size(cls, settings: dict[str, Any]) -> tuple[int, int] | None:
        rows = settings.get("n_train", 3000) if settings.get("mode") == "dense" else 300
        return rows, settings.get("length", 10)

    def baselines(self, splits: Splits) -> list[Any]:
        from seqtune.tasks.digitsum._baselines import digitsum_baselines  # scikit-learn: slow
        return digitsum_baselines(self, splits)

    def report_panels(self, view: Any, views: list[Any]) -> list[Any]:
        from seqtune.tasks.digitsum._report import digitsum_panels
        return digitsum_panels(self, view, views)

    def report_verdict(self, view: Any, views: list[Any]) -> list[str]:
        from seqtune.tasks.digitsum._report import digitsum_verdict
        return digitsum_verdict(self, views)

    @classmethod
    def predict_input(cls, checkpoint: Any, rows: list[tuple[str, list[float]]],
                      options: dict[str, Any]) -> list[dict[str, Any]]:
        """The predicted sum of each digit sequence, and its probability."""
        from seqtune.predict import classify
        return classify(checkpoint, rows, min_length=2, tokens="digits")

    def __init__(self, length: int = 10, mode: str = "book", seed: int = 0,
                 n_train: int = 3000) -> None:
        if not isinstance(length, int) or length < 3:
            raise SeqtuneError(f"task.length: must be an integer >= 3, got {length!r}")
        if mode not in MODES:
            raise SeqtuneError(f"task.mode: unknown mode {mode!r}; expected one of {MODES}")
        if n_train < 1:
            raise SeqtuneError(f"task.n_train: must be a positive integer, got {n_train}")
        self.length, self.mode, self.seed, self.n_train = length, mode, seed, n_train
        data = book_data(length, seed) if mode == "book" else dense_data(length, seed, n_train)
        self._splits = Splits(*(Split(x, y) for x, y in data))

    def config(self) -> dict[str, Any]:
        cfg = {"name": self.name, "length": self.length, "mode": self.mode, "seed": self.seed}
        if self.mode == "dense":
            cfg["n_train"] = self.n_train
        return cfg

    def splits(self, **data_params: Any) -> Splits:
        return self._splits

    def model_spec(self) -> dict[str, Any]:
        return {"vocab_size": 10, "n_classes": N_CLASSES}

    def score(self, split: Split, predictions: np.ndarray) -> dict[str, float]:
        """``predictions`` are class scores (n, 19) or labels (n,)."""
        return {"accuracy": float(np.mean(self.metric_points(split, predictions)))}

    def tie_break(self, split: Split, predictions: np.ndarray) -> float | None:
        """Mean log-loss of the class scores (None for bare labels): with 100 dev
        rows many epochs share an accuracy, and the least surprised one is kept."""
        if predictions.ndim != 2:
            return None
        from scipy.special import log_softmax  # scipy only when training

        log_probs = log_softmax(predictions.astype(np.float64), axis=1)
        return float(-log_probs[np.arange(len(predictions)), split.targets].mean())

    def metric_points(self, split: Split, predictions: np.ndarray) -> np.ndarray:
        """1.0 where an example's predicted label is right, else 0.0."""
        labels = predictions.argmax(axis=1) if predictions.ndim == 2 else predictions
        return (labels == split.targets).astype(np.float64)
