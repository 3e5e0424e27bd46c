"""The paired tests behind the verdict words."""

from __future__ import annotations

import re

import numpy as np
import pytest

from seqtune.study._paired import (
    Comparison,
    compare,
    diebold_mariano,
    mcnemar,
    paired_bootstrap,
    seed_interval,
    solved_sentence,
)


def _noisy_case(rng: np.random.Generator, better: float, seeds: int = 5, n: int = 50):
    """Squared errors on n points: the model is ``better`` (a fraction) better on
    average, with noise as large as the errors themselves."""
    errors = rng.normal(size=n) ** 2 + 0.5
    baseline = errors * rng.lognormal(0, 0.3, size=n)
    model = baseline * (1 - better) * rng.lognormal(0, 0.3, size=(seeds, n)) / np.exp(0.045)
    return model, baseline


def test_one_percent_better_on_50_noisy_points_cannot_be_told_apart():
    rng = np.random.default_rng(1)
    model, baseline = _noisy_case(rng, better=0.01)
    for method in ("bootstrap", "diebold-mariano"):
        result = compare(model, baseline, maximize=False, method=method)
        text = result.sentence("the seasonal mean")
        assert text.startswith("cannot be told apart from the seasonal mean ("), text
        assert result.low < 0 < result.high and result.p >= 0.05
        assert "5 seeds" in text and "95 % interval" in text and "p = " in text


def test_a_large_consistent_difference_beats():
    rng = np.random.default_rng(2)
    baseline = rng.normal(size=50) ** 2 + 1.0
    model = baseline * 0.5 * rng.uniform(0.9, 1.1, size=(5, 50))
    for method in ("bootstrap", "diebold-mariano"):
        result = compare(model, baseline, maximize=False, method=method)
        text = result.sentence("AutoReg(12)")
        assert text.startswith("beats AutoReg(12) (-5"), text
        assert result.high < 0 and result.p < 0.05
    # and the other way round it loses
    assert compare(baseline * 2, baseline, maximize=False).word == "loses to"


def test_accuracy_uses_mcnemar_with_one_seed_and_the_bootstrap_with_several():
    rng = np.random.default_rng(3)
    baseline = (rng.uniform(size=100) < 0.5).astype(float)
    model = np.where(rng.uniform(size=100) < 0.9, 1.0, baseline)  # mostly right
    one = compare(model, baseline, maximize=True)
    assert one.test == "McNemar" and one.word == "beats" and one.diff > 0.3
    assert "1 seed: no interval over seeds" in one.sentence("majority class")
    assert mcnemar(baseline, baseline).p == 1.0
    several = compare(np.stack([model, model]), baseline, maximize=True)
    assert several.test == "paired bootstrap" and several.word == "beats"


def test_diebold_mariano_matches_the_textbook_statistic():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=40) ** 2, rng.normal(size=40) ** 2
    d = a - b
    dm = d.mean() / np.sqrt(np.var(d) / len(d))
    hln = dm * np.sqrt((len(d) - 1) / len(d))
    from scipy import stats

    assert diebold_mariano(a, b).p == pytest.approx(2 * stats.t.sf(abs(hln), len(d) - 1))
    assert paired_bootstrap(a, a).word == "cannot be told apart from"


def test_exact_yardstick_says_solved_or_not_by_a_stated_threshold():
    assert solved_sentence([2e-5, 3e-5], "least squares").startswith(
        "solves the task: test normalized MSE 2.5e-05")
    text = solved_sentence([0.2], "least squares")
    assert text.startswith("does not solve the task") and "0.001" in text
    assert not re.search(r"[0-9]x\b", text)  # no ratio against round-off
    mean, low, high = seed_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and low < 1.0 and high > 3.0


def test_an_interval_over_seeds_stays_within_what_the_metric_can_take():
    accuracy = [1.0, 1.0, 0.99, 1.0, 1.0]
    _, low, high = seed_interval(accuracy)
    assert high > 1.0  # the bare t interval reaches past a bound
    mean, low, high = seed_interval(accuracy, "accuracy")
    assert mean == 0.998 and 0.99 < low < mean and high == 1.0
    _, low, _ = seed_interval([0.9, 0.05, 0.1], "accuracy")
    assert low == 0.0
    _, low, high = seed_interval([1e-5, 9e-4, 1e-5], "mse")
    assert low == 0.0 and high > 9e-4


def test_several_exact_yardsticks_are_named_once_and_intervals_stay_in_range():
    text = solved_sentence([1e-5, 9e-4, 1e-5], ["least squares", "pooled AR(5)"])
    assert "least squares and pooled AR(5) are exact" in text
    assert "95 % interval 0 .." in text  # the t interval's negative bound, clipped at 0
    beaten = Comparison(diff=-0.9, low=-1.06, high=-0.8, p=0.001, reference=0.9, seeds=5,
                        points=100, test="paired bootstrap", maximize=False)
    assert "(-100 %, 95 % interval -100 % .. -89 %" in beaten.sentence("pooled AR(3)")
