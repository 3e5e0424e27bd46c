"""Baselines of the ``digitsum`` task: digits (n, L) -> sum of the first two.

All are fitted on ``splits.train`` only and scored by
:meth:`DigitSumTask.score`, like the trials.
"""

from __future__ import annotations

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.feature_selection import SelectFwe
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from seqtune.baselines._base import BaselineResult, score_on
from seqtune.tasks._base import Split, Splits, Task
from seqtune.tasks.digitsum._task import N_CLASSES, SELECTED_LOGISTIC, DigitSumTask

DIGITS = np.arange(10)
#: family-wise error rate of the position test (over all L positions)
ALPHA = 0.05


def _sum_n_log_n(counts: np.ndarray) -> np.ndarray:
    """sum(c * log c) over the last axis (0 log 0 = 0)."""
    counts = counts.astype(float)
    return (counts * np.log(np.maximum(counts, 1))).sum(axis=-1)


def label_dependence(inputs: np.ndarray, labels: np.ndarray, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per position: mutual information (nats) of its digit with the label, and a
    permutation p-value.

    The p-value counts label permutations whose digit/label table is at least
    as dependent (mutual information up to terms a permutation leaves alone),
    with ``ceil(2 L / ALPHA)`` permutations so that a Bonferroni level of
    ``ALPHA / L`` can be reached. Unlike the chi-square approximation it stays
    calibrated for the book's sparse noise positions (one digit in 30 rows).
    """
    n, length = inputs.shape
    n_cells = len(DIGITS) * N_CLASSES
    cell = np.arange(length) * n_cells + inputs * N_CLASSES            # (n, L)

    def joint(label_rows: np.ndarray) -> np.ndarray:                    # (m, n) -> (m, L)
        m = len(label_rows)
        index = cell[None] + label_rows[:, :, None] + (np.arange(m) * length * n_cells
                                                       )[:, None, None]
        counts = np.bincount(index.ravel(), minlength=m * length * n_cells)
        return _sum_n_log_n(counts.reshape(m, length, n_cells))

    observed = joint(labels[None])[0]
    n_permutations = int(np.ceil(2 * length / ALPHA))
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // (n * length))
    exceeded = np.zeros(length)
    for start in range(0, n_permutations, chunk):
        shuffled = rng.permuted(np.tile(labels, (min(chunk, n_permutations - start), 1)),
                                axis=1)
        exceeded += (joint(shuffled) >= observed - 1e-9).sum(axis=0)
    digit_counts = np.stack([np.bincount(col, minlength=len(DIGITS)) for col in inputs.T])
    information = (observed - _sum_n_log_n(digit_counts)
                   - _sum_n_log_n(np.bincount(labels, minlength=N_CLASSES))) / n + np.log(n)
    return information, (1 + exceeded) / (1 + n_permutations)


def one_hot_logistic(length: int, tokens: np.ndarray = DIGITS) -> Pipeline:
    """Unpenalized multinomial logistic regression on the one-hot digit (token)
    of every position (``len(tokens) * length`` binary features)."""
    return make_pipeline(OneHotEncoder(categories=[tokens] * length),
                         LogisticRegression(C=np.inf, max_iter=2000))


def selected_positions_logistic() -> Pipeline:
    """The same model on the positions whose digit depends on the label.

    :func:`label_dependence` tests every position on the training rows;
    ``SelectFwe`` keeps those significant at family-wise error :data:`ALPHA`.
    """
    return make_pipeline(SelectFwe(label_dependence, alpha=ALPHA),
                         OneHotEncoder(handle_unknown="ignore"),
                         LogisticRegression(C=np.inf, max_iter=2000))


def linear_solution_accuracy(split: Split) -> float:
    """Accuracy of hand-set weights for the same linear model (nothing fitted).

    With w_s[d] = s * d on the first two positions and bias -s^2 / 2, class s
    scores s * (d1 + d2) - s^2 / 2, a parabola in s that peaks at s = d1 + d2:
    the model can represent the task exactly.
    """
    classes = np.arange(N_CLASSES)
    weights = np.outer(DIGITS, classes)                    # (digit, class)
    scores = weights[split.inputs[:, 0]] + weights[split.inputs[:, 1]] - classes ** 2 / 2
    return float(np.mean(scores.argmax(axis=1) == split.targets))


def noise_weight_share(logistic: Pipeline) -> float:
    """Share of the fitted squared weights on positions 3..L (the first two
    positions are the first 20 one-hot columns)."""
    weights = logistic[-1].coef_ ** 2
    return float(weights[:, 2 * len(DIGITS):].sum() / weights.sum())


def selected_positions(logistic: Pipeline) -> list[int]:
    """The 1-based positions a :func:`selected_positions_logistic` fit reads."""
    return [int(i) + 1 for i in logistic[0].get_support(indices=True)]


def _every_position(task: DigitSumTask, splits: Splits) -> BaselineResult:
    train = splits.train
    logistic = one_hot_logistic(task.length).fit(train.inputs, train.targets)
    fit_acc = score_on(task, logistic, train)["accuracy"]
    test = score_on(task, logistic, splits.test)
    exact = linear_solution_accuracy(splits.test)
    note = (f"training accuracy {fit_acc:.3f}, test {test['accuracy']:.3f} with "
            f"{10 * task.length} one-hot features for {len(train)} training rows; hand-set "
            f"weights of the same linear model (class s scores s*(d1+d2) - s^2/2, which "
            f"peaks at s = d1+d2) reach {exact:.3f} on test")
    if fit_acc - test["accuracy"] > 0.1:
        note += (f": the fit puts {noise_weight_share(logistic):.0%} of its squared weights "
                 "on the noise positions 3..L (the hand-set weights: none), so it learns the "
                 "noise digits of its training rows (a sample-size limit, not a capacity "
                 "limit)")
    return BaselineResult(
        "logistic regression, all positions",
        "multinomial logistic regression (unpenalized) on the one-hot digits of every "
        "position", score_on(task, logistic, splits.val), test,
        {"val": "train", "test": "train"}, note, {"val": logistic, "test": logistic})


def _selected_positions(task: DigitSumTask, splits: Splits) -> BaselineResult:
    train = splits.train
    logistic = selected_positions_logistic().fit(train.inputs, train.targets)
    kept = selected_positions(logistic)
    test = score_on(task, logistic, splits.test)
    note = (f"the permutation test kept position{'s' if len(kept) > 1 else ''} "
            f"{', '.join(map(str, kept))} of {task.length}; test accuracy "
            f"{test['accuracy']:.3f}")
    if kept == [1, 2]:
        note += (": reading only the first two digits, the linear score a_s[d1] + b_s[d2] "
                 "peaks at s = d1 + d2 — what a recurrent model must learn is to carry "
                 "them past the later digits")
    return BaselineResult(
        SELECTED_LOGISTIC,
        "the same model on the positions whose digit depends on the label (permutation "
        f"test of mutual information on the training rows, family-wise error {ALPHA:.0%})",
        score_on(task, logistic, splits.val), test,
        {"val": "train", "test": "train"}, note, {"val": logistic, "test": logistic})


def majority_class(task: Task, splits: Splits) -> BaselineResult:
    """Always the most frequent training label."""
    train = splits.train
    majority = DummyClassifier(strategy="most_frequent").fit(train.inputs, train.targets)
    label = int(majority.predict(train.inputs[:1])[0])
    return BaselineResult("majority class", "always the most frequent training label",
                          score_on(task, majority, splits.val),
                          score_on(task, majority, splits.test),
                          {"val": "train", "test": "train"}, f"always predicts {label}",
                          {"val": majority, "test": majority})


def digitsum_baselines(task: DigitSumTask, splits: Splits) -> list[BaselineResult]:
    return [majority_class(task, splits), _every_position(task, splits),
            _selected_positions(task, splits)]


def sequence_baselines(task: Task, splits: Splits, tokens: np.ndarray) -> list[BaselineResult]:
    """digitsum's baselines that apply to any classification of equal-length
    token sequences (``tokens``: every token the data may hold): the majority
    class, logistic regression on the one-hot token of every position, and on
    the raw token values (standardized)."""
    train = splits.train
    length = train.inputs.shape[1]
    fitted = {"val": "train", "test": "train"}
    one_hot = one_hot_logistic(length, tokens).fit(train.inputs, train.targets)
    raw = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)
                        ).fit(train.inputs, train.targets)
    rows = [majority_class(task, splits)]
    for name, about, model in (
            ("logistic regression, all positions", "multinomial logistic regression "
             "(unpenalized) on the one-hot token of every position", one_hot),
            ("logistic regression, raw positions", "multinomial logistic regression on the "
             "standardized token values of every position", raw)):
        fit = score_on(task, model, train)[task.metric]
        rows.append(BaselineResult(name, about, score_on(task, model, splits.val),
                                   score_on(task, model, splits.test), fitted,
                                   f"training {task.metric} {fit:.3f} with {length} positions "
                                   f"and {len(train)} training rows",
                                   {"val": model, "test": model}))
    return rows
