"""Paired tests behind every comparison word of a verdict.

Pure functions of per-point test metrics (``Task.metric_points``): a model's
values for each seed and test point (seeds x points) against a baseline's on
the same points.

- :func:`paired_bootstrap`: resample test points and seeds together; the mean
  difference, its 95 % percentile interval and a two-sided p-value (MSE-type
  metrics and accuracy alike);
- :func:`diebold_mariano`: one-step-ahead forecasts, squared-error loss
  differentials (the model's loss averaged over seeds), with the small-sample
  correction of Harvey, Leybourne and Newbold (1997) and Student's t;
- :func:`mcnemar`: accuracy of one seed against a baseline, exact binomial.

:func:`compare` picks one, and :class:`Comparison` words the result at 5 %:
"beats", "cannot be told apart from" or "loses to", with the difference and
its interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
#: the values a metric can take: an interval over seeds is cut to them
METRIC_RANGES: dict[str | None, tuple[float, float]] = {
    "accuracy": (0.0, 1.0), "mse": (0.0, math.inf), "mae": (0.0, math.inf),
    "nmse": (0.0, math.inf)}
BOOTSTRAP = "paired bootstrap"
DIEBOLD_MARIANO = "Diebold-Mariano"
MCNEMAR = "McNemar"
#: normalized MSE at or below which a model counts as solving a task that an
#: exact baseline solves (the exact baseline itself sits at round-off, ~1e-15)
SOLVED_NMSE = 1e-3


@dataclass(frozen=True)
class Comparison:
    """Model minus baseline on the same test points (metric units)."""

    diff: float
    low: float
    high: float
    p: float
    #: the baseline's mean metric (what a relative difference is relative to)
    reference: float
    seeds: int
    points: int
    test: str
    maximize: bool

    @property
    def significant(self) -> bool:
        return self.p < ALPHA

    @property
    def word(self) -> str:
        if not self.significant or self.diff == 0:
            return "cannot be told apart from"
        better = self.diff > 0 if self.maximize else self.diff < 0
        return "beats" if better else "loses to"

    def _amount(self, x: float) -> str:
        if not self.maximize and self.reference > 0:
            # an MSE-type metric is >= 0, so it cannot fall by more than 100 %
            return f"{max(x / self.reference, -1.0):+.0%}".replace("%", " %")
        return f"{x:+.3g}"

    def sentence(self, baseline: str) -> str:
        """e.g. 'cannot be told apart from the seasonal mean (+3 %, 95 % interval
        -9 % .. +14 %, p = 0.61, 5 seeds)'."""
        p = p_text(self.p)
        seeds = (f"{self.seeds} seeds" if self.seeds > 1 else
                 "1 seed: no interval over seeds, the interval covers the test points only")
        return (f"{self.word} {baseline} ({self._amount(self.diff)}, 95 % interval "
                f"{self._amount(self.low)} .. {self._amount(self.high)}, {p}, {self.test} "
                f"over {self.points} test points, {seeds})")


def p_text(p: float) -> str:
    """A p-value as the pages print it: 'p = 0.012', or 'p < 0.001'."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _as_seeds(model: np.ndarray) -> np.ndarray:
    model = np.asarray(model, dtype=np.float64)
    return model[None, :] if model.ndim == 1 else model


def paired_bootstrap(model: np.ndarray, baseline: np.ndarray, maximize: bool = False,
                     n_boot: int = 2000, seed: int = 0) -> Comparison:
    """Resample the test points (and, with several, the seeds) with replacement,
    the same points for model and baseline; the interval is the 2.5-97.5
    percentile range of the mean difference, the p-value twice the smaller tail
    beyond 0. A baseline with seeds of its own (seeds x points, another trained
    model) has its seeds resampled independently of the model's."""
    m, b = _as_seeds(model), _as_seeds(baseline)
    n = m.shape[1]
    rng = np.random.default_rng(seed)
    points = rng.integers(0, n, size=(n_boot, n), dtype=np.int32)  # resampled test points

    def resampled_means(values: np.ndarray) -> np.ndarray:
        k = values.shape[0]
        counts = (rng.multinomial(k, np.full(k, 1 / k), size=n_boot).astype(np.float64)
                  if k > 1 else np.ones((n_boot, 1)))
        per_point = counts @ values / k  # each resample's seed-weighted values, per point
        return np.take_along_axis(per_point, points, axis=1).mean(axis=1)

    diffs = resampled_means(m) - resampled_means(b)
    low, high = np.percentile(diffs, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    p = min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))
    return Comparison(float(m.mean() - b.mean()), float(low), float(high), float(p),
                      float(b.mean()), m.shape[0], n, BOOTSTRAP, maximize)


def diebold_mariano(model: np.ndarray, baseline: np.ndarray, maximize: bool = False,
                    horizon: int = 1) -> Comparison:
    """Diebold-Mariano on the loss differentials d_t = model_t - baseline_t (the
    model's per-point losses averaged over seeds), long-run variance from the
    autocovariances up to lag ``horizon - 1``, corrected for small samples as
    Harvey et al. (1997) propose and referred to Student's t with T - 1 degrees
    of freedom. The interval is the mean differential +- t * its corrected
    standard error."""
    m, b = _as_seeds(model), _as_seeds(baseline).mean(axis=0)
    d = m.mean(axis=0) - b
    t_len, mean = len(d), float(d.mean())
    centred = d - mean
    gamma = [float(centred[k:] @ centred[:t_len - k]) / t_len for k in range(horizon)]
    variance = (gamma[0] + 2 * sum(gamma[1:])) / t_len
    correction = math.sqrt((t_len + 1 - 2 * horizon + horizon * (horizon - 1) / t_len) / t_len)
    quantile = stats.t.ppf(1 - ALPHA / 2, t_len - 1)
    if variance <= 0:
        p, half = (1.0 if mean == 0 else 0.0), 0.0
    else:
        se = math.sqrt(variance) / correction
        p = float(2 * stats.t.sf(abs(mean / se), t_len - 1))
        half = float(quantile * se)
    return Comparison(mean, mean - half, mean + half, p, float(b.mean()), m.shape[0], t_len,
                      DIEBOLD_MARIANO, maximize)


def mcnemar(model: np.ndarray, baseline: np.ndarray) -> Comparison:
    """Exact McNemar test of two classifiers' correctness (1/0) on the same
    examples: the discordant pairs against a fair coin; the interval is the
    paired bootstrap's."""
    m, b = np.asarray(model, dtype=np.float64).reshape(-1), np.asarray(baseline, np.float64)
    only_model, only_base = int(np.sum((m == 1) & (b == 0))), int(np.sum((m == 0) & (b == 1)))
    p = (1.0 if only_model + only_base == 0 else
         float(stats.binomtest(only_model, only_model + only_base, 0.5).pvalue))
    boot = paired_bootstrap(m, b, maximize=True)
    return Comparison(boot.diff, boot.low, boot.high, p, boot.reference, 1, len(m), MCNEMAR,
                      True)


def compare(model: np.ndarray, baseline: np.ndarray, maximize: bool,
            method: str = "bootstrap") -> Comparison:
    """The task's paired test (``Task.paired_test``) of model against baseline
    (points, or seeds x points for another trained model)."""
    m, b = _as_seeds(model), _as_seeds(baseline)
    if method == "diebold-mariano":
        return diebold_mariano(m, b, maximize)
    binary = np.isin(m, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all()
    if m.shape[0] == 1 and b.shape[0] == 1 and binary:
        return mcnemar(m[0], b[0])
    return paired_bootstrap(m, baseline, maximize)


def seed_interval(values: list[float], metric: str | None = None
                  ) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval over seeds (NaN bounds with one seed), cut
    to the values ``metric`` can take (:data:`METRIC_RANGES`): with five seeds near
    a bound the t interval of a mean accuracy reaches past 1 (0.998 +- 0.006)."""
    v = np.asarray(values, dtype=np.float64)
    mean = float(v.mean())
    if len(v) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(1 - ALPHA / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    floor, ceiling = METRIC_RANGES.get(metric, (-math.inf, math.inf))
    return mean, max(mean - half, floor), min(mean + half, ceiling)


def solved_sentence(nmse: list[float], yardsticks: str | list[str],
                    threshold: float = SOLVED_NMSE) -> str:
    """Exact baselines as a yardstick: solved or not by a stated threshold on
    the test normalized MSE, never a ratio against round-off."""
    names = [yardsticks] if isinstance(yardsticks, str) else list(yardsticks)
    yardstick = " and ".join(names)
    verb = "is" if len(names) == 1 else "are"
    mean, low, high = seed_interval(nmse, "nmse")
    n = len(nmse)
    spread = (f" (95 % interval {low:.2g} .. {high:.2g} over {n} seeds)" if n > 1
              else " (1 seed: no interval)")
    if mean <= threshold:
        return (f"solves the task: test normalized MSE {mean:.2g}{spread} <= {threshold:g}, "
                f"the threshold for solved; {yardstick} {verb} exact (a yardstick, not a "
                "rival)")
    return (f"does not solve the task: test normalized MSE {mean:.2g}{spread} > "
            f"{threshold:g}, the threshold for solved, which {yardstick} (exact) "
            f"{'meets' if len(names) == 1 else 'meet'}")
