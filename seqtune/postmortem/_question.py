"""What the question's helpers hand to training and how it reported its error.

Both are ported as behaviour, each with its defect as a switch:

- ``batchSequences(x, batchSize)`` rebinds ``x = copy(xtrain)`` and
  ``batchSize = 3`` before using them. Whatever it is given, it returns the
  unshuffled training *inputs* in ``floor(n / 3)`` batches of 3; called on the
  targets too, the "targets" are the inputs again. In ``myloss`` the pairs
  then become ``(x[i], x[i])``: the net is trained to copy its input.
- The reported error: ``predictSequence`` allocates ``seqLength + nSeeds - 1``
  slots, one short, so it predicts only the first ``horizon - 1`` values; the
  error loop slices the truth with ``end-1`` to match, and takes the squared
  norm of those values per sequence (a sum over steps) averaged over
  sequences. The last, largest-drift step is never scored, and the number is
  a per-sequence sum, not a mean over steps. The error as it should be is the
  mean squared error over all ``horizon`` steps, our ``seeded`` task's metric.
"""

from __future__ import annotations

import numpy as np

from seqtune.tasks import Split

QUESTION_BATCH_SIZE = 3


def sequences(split: Split) -> np.ndarray:
    """Whole sequences (n, n_seeds + horizon): the question's ``xtrain``."""
    return np.concatenate([split.inputs, split.targets], axis=1)


def training_split(train: Split, batching_defect: bool) -> Split:
    """The training material ``Flux.train!`` iterates over.

    Inputs are whole sequences; targets are the next values (``y = x[2:end]``)
    or, with ``batching_defect``, the inputs themselves cut to a multiple of
    the helper's batch size of 3.
    """
    seqs = sequences(train)
    if batching_defect:
        kept = seqs[: len(seqs) // QUESTION_BATCH_SIZE * QUESTION_BATCH_SIZE]
        return Split(kept, kept.copy())
    return Split(seqs, seqs[:, 1:].copy())


def sequence_errors(targets: np.ndarray, predictions: np.ndarray,
                    as_question: bool) -> np.ndarray:
    """Each sequence's share of the error: with ``as_question`` the squared norm of
    the error over the first ``horizon - 1`` values, else the mean squared error
    over all of them. Either metric is the mean of these over sequences."""
    if as_question:
        k = targets.shape[1] - 1
        return np.sum((predictions[:, :k] - targets[:, :k]) ** 2, axis=1)
    return np.mean((predictions - targets) ** 2, axis=1)


def question_mse(targets: np.ndarray, predictions: np.ndarray) -> float:
    """The error as the question reported it (see the module docstring)."""
    return float(np.mean(sequence_errors(targets, predictions, as_question=True)))


def helper_inputs(seeds: np.ndarray, warmup_defect: bool) -> np.ndarray:
    """What ``predictSequence`` lets the model see: after ``reset!`` only the last
    seed goes through the model (``warmup_defect``), so seeds 1..n-1 never reach
    its state; fixed, every seed is fed in order."""
    return seeds[:, -1:] if warmup_defect else seeds


def helper_split(split: Split, warmup_defect: bool) -> Split:
    """``split`` with its inputs as the prediction helper passes them on."""
    return Split(helper_inputs(split.inputs, warmup_defect), split.targets, split.meta)
