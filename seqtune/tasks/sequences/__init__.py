"""`sequences`: classify your own integer-token sequences (generic classification).

The data is a file of sequences and labels: an ``.npz`` with ``X`` (n, L)
integer tokens and ``y`` (n,) integer labels, or a CSV with one sequence a
row (a column of space-separated tokens, ``sequence`` by default, and a
``label`` column). Tokens are integers 0..999 (the model embeds them), labels
integers 0..999; every sequence has the same length. The rows are shuffled
with ``seed`` and cut into test, val and train by ``test_fraction`` and
``val_fraction``. The model head, the metric (accuracy) and the baselines
are digitsum's: a question such as "does my RNN remember?" on your own data.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from seqtune.errors import SeqtuneError
from seqtune.tasks._base import Split, Splits, Task
from seqtune.tasks.digitsum import DigitSumTask

#: the largest file read (bytes), the most rows and the longest sequence
MAX_BYTES = 16 * 2**20
MAX_ROWS = 100_000
MAX_LENGTH = 1000
#: tokens and labels are 0..MAX_TOKEN-1 (the embedding's and the head's size)
MAX_TOKEN = 1000
MAX_VALUES = 20_000_000
#: the fewest rows a file may hold; the fewest training rows, and one row at
#: least in val and in test
MIN_ROWS = 10
MIN_TRAIN = 2
_INT = re.compile(r"[+-]?\d+")


def _ints(text: str, where: str, what: str) -> list[int]:
    tokens = text.split()
    for token in tokens:
        if not _INT.fullmatch(token):
            raise SeqtuneError(f"{where}: {what} {token!r} is not an integer")
    return [int(t) for t in tokens]


def _read_csv(path: Path, sequence: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SeqtuneError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise SeqtuneError(f"{path}: not a CSV file ({exc})") from None
    if not rows:
        raise SeqtuneError(f"{path}: empty file; expected a header with columns "
                           f"{sequence!r} and {label!r}")
    header = [h.strip() for h in rows[0]]
    for column in (sequence, label):
        if column not in header:
            raise SeqtuneError(f"{path}: missing column {column!r}; the header has "
                               f"{header} (name yours with task.sequence / task.label)")
    s_at, l_at = header.index(sequence), header.index(label)
    xs: list[list[int]] = []
    ys: list[int] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}, line {line}"
        if len(row) <= max(s_at, l_at):
            raise SeqtuneError(f"{where}: {len(row)} field(s), expected {len(header)}")
        tokens = _ints(row[s_at], where, f"column {sequence!r}: token")
        if not tokens:
            raise SeqtuneError(f"{where}: column {sequence!r} is empty; expected "
                               "space-separated integer tokens")
        if xs and len(tokens) != len(xs[0]):
            raise SeqtuneError(f"{where}: a sequence of {len(tokens)} tokens, but the first "
                               f"row has {len(xs[0])}; every sequence must have the same length")
        labels = _ints(row[l_at], where, f"column {label!r}: label")
        if len(labels) != 1:
            raise SeqtuneError(f"{where}: column {label!r} must hold one integer label, "
                               f"got {row[l_at]!r}")
        xs.append(tokens)
        ys.append(labels[0])
        if len(xs) > MAX_ROWS:
            raise SeqtuneError(f"{path}: more than {MAX_ROWS} rows")
    if not xs:
        raise SeqtuneError(f"{path}: no rows after the header")
    if len(xs[0]) > MAX_LENGTH:
        raise SeqtuneError(f"{path}: sequences of {len(xs[0])} tokens; at most {MAX_LENGTH}")
    return np.asarray(xs, dtype=np.int64), np.asarray(ys, dtype=np.int64)


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("X", "y") if k not in data.files]
            if missing:
                raise SeqtuneError(f"{path}: missing array(s) {missing}; expected X (n, L) "
                                   f"integer tokens and y (n,) integer labels, got {data.files}")
            x, y = data["X"], data["y"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise SeqtuneError(f"{path}: not a readable .npz file ({reason}); object arrays "
                           "(ragged rows) are refused") from None
    if x.ndim != 2:
        raise SeqtuneError(f"{path}: X must be 2-D (n sequences, L tokens), got shape "
                           f"{x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise SeqtuneError(f"{path}: y must be 1-D with one label per row of X ({len(x)}), "
                           f"got shape {y.shape}")
    for key, array in (("X", x), ("y", y)):
        if not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
            raise SeqtuneError(f"{path}: {key} must hold integers, got dtype {array.dtype}")
    if len(x) > MAX_ROWS or x.shape[1] > MAX_LENGTH or x.shape[1] < 1:
        raise SeqtuneError(f"{path}: X of shape {x.shape}; at most {MAX_ROWS} rows of "
                           f"1..{MAX_LENGTH} tokens")
    return x.astype(np.int64), y.astype(np.int64)


def read_sequences(file: str | Path, sequence: str = "sequence",
                   label: str = "label") -> tuple[np.ndarray, np.ndarray]:
    """Tokens (n, L) and labels (n,) from an ``.npz`` or a CSV; every problem
    is one :class:`SeqtuneError` line naming the file (and row)."""
    path = Path(file)
    if not path.is_file():
        raise SeqtuneError(f"{path}: file not found (task.file)")
    if path.stat().st_size > MAX_BYTES:
        raise SeqtuneError(f"{path}: {path.stat().st_size:,} bytes; at most {MAX_BYTES:,}")
    x, y = _read_npz(path) if path.suffix.lower() == ".npz" else _read_csv(path, sequence, label)
    if x.size > MAX_VALUES:
        raise SeqtuneError(f"{path}: {x.size:,} tokens; at most {MAX_VALUES:,}")
    for what, array in (("token", x), ("label", y)):
        if array.size and (array.min() < 0 or array.max() >= MAX_TOKEN):
            bad = array.min() if array.min() < 0 else array.max()
            raise SeqtuneError(f"{path}: {what} {int(bad)} is outside 0..{MAX_TOKEN - 1}")
    return x, y


def _fraction(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise SeqtuneError(f"task.{key}: expected a fraction in (0, 1), got {value!r}")
    return float(value)


class SequencesTask(Task):
    name: ClassVar[str] = "sequences"
    metric: ClassVar[str] = "accuracy"
    direction: ClassVar[Literal["minimize", "maximize"]] = "maximize"
    model_kind = "classifier"
    path_settings: ClassVar[tuple[str, ...]] = ("file",)

    # the metric is digitsum's: accuracy of the argmax of the class scores
    score = DigitSumTask.score
    metric_points = DigitSumTask.metric_points
    tie_break = DigitSumTask.tie_break

    def __init__(self, file: str | None = None, sequence: str = "sequence",
                 label: str = "label", val_fraction: float = 0.15,
                 test_fraction: float = 0.15, seed: int = 0) -> None:
        if not isinstance(file, str) or not file:
            raise SeqtuneError("task.file: the .npz (X, y) or CSV (sequence, label columns) "
                               "of your sequences; required")
        for key, value in (("sequence", sequence), ("label", label)):
            if not isinstance(value, str) or not value:
                raise SeqtuneError(f"task.{key}: expected a column name, got {value!r}")
        self.val_fraction = _fraction(val_fraction, "val_fraction")
        self.test_fraction = _fraction(test_fraction, "test_fraction")
        if self.val_fraction + self.test_fraction >= 1:
            raise SeqtuneError(f"task: val_fraction + test_fraction = "
                               f"{self.val_fraction + self.test_fraction:g} leaves no training "
                               "rows; expected less than 1")
        self.file, self.sequence, self.label, self.seed = file, sequence, label, seed
        x, y = read_sequences(file, sequence, label)
        n = len(x)
        n_test, n_val = round(n * self.test_fraction), round(n * self.val_fraction)
        if n < MIN_ROWS:
            raise SeqtuneError(f"{file}: too few rows: {n} rows; expected at least {MIN_ROWS}")
        if n_test < 1 or n_val < 1 or n - n_test - n_val < MIN_TRAIN:
            raise SeqtuneError(f"{file}: too few rows: {n} rows leave {n - n_test - n_val} "
                               f"train, {n_val} val and {n_test} test; expected at least "
                               f"{MIN_TRAIN} train and 1 val and 1 test row")
        order = np.random.default_rng(seed).permutation(n)
        test, val, train = np.split(order, [n_test, n_test + n_val])
        self.length = int(x.shape[1])
        self.vocab_size = int(x.max()) + 1
        self.n_classes = max(int(y.max()) + 1, 2)
        self._splits = Splits(*(Split(x[i], y[i]) for i in (train, val, test)))

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "file": self.file, "sequence": self.sequence,
                "label": self.label, "val_fraction": self.val_fraction,
                "test_fraction": self.test_fraction, "seed": self.seed}

    def described(self) -> dict[str, Any]:
        return {**self.config(), "length": self.length, "vocab_size": self.vocab_size,
                "n_classes": self.n_classes,
                "rows": {k: len(self._splits[k]) for k in ("train", "val", "test")}}

    def splits(self, **data_params: Any) -> Splits:
        return self._splits

    def model_spec(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "n_classes": self.n_classes}

    def baselines(self, splits: Splits) -> list[Any]:
        from seqtune.tasks.digitsum._baselines import sequence_baselines  # sklearn: slow
        return sequence_baselines(self, splits, np.arange(self.vocab_size))
