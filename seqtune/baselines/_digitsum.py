"""Baselines of the ``digitsum`` task: digits (n, L) -> sum of the first two.

Both are fitted on ``splits.train`` only and scored by
:meth:`DigitSumTask.score`, like the trials.
"""

from __future__ import annotations

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from seqtune.baselines._base import BaselineResult, score_on
from seqtune.tasks import Split, Splits
from seqtune.tasks.digitsum import N_CLASSES, DigitSumTask

DIGITS = np.arange(10)


def one_hot_logistic(length: int) -> Pipeline:
    """Unpenalized multinomial logistic regression on the one-hot digit of every
    position (10 * ``length`` binary features)."""
    return make_pipeline(OneHotEncoder(categories=[DIGITS] * length),
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


def digitsum_baselines(task: DigitSumTask, splits: Splits) -> list[BaselineResult]:
    train = splits.train
    majority = DummyClassifier(strategy="most_frequent").fit(train.inputs, train.targets)
    label = int(majority.predict(train.inputs[:1])[0])
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
    return [
        BaselineResult("majority class", "always the most frequent training label",
                       score_on(task, majority, splits.val),
                       score_on(task, majority, splits.test),
                       {"val": "train", "test": "train"}, f"always predicts {label}",
                       {"val": majority, "test": majority}),
        BaselineResult("logistic regression",
                       "multinomial logistic regression (unpenalized) on the one-hot digits "
                       "of every position", score_on(task, logistic, splits.val), test,
                       {"val": "train", "test": "train"}, note,
                       {"val": logistic, "test": logistic}),
    ]
