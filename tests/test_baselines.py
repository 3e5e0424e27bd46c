"""The classical baselines: their numbers on the real data, checked against
independent computations, and proof that no fit ever sees the test block."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.pipeline import Pipeline
from statsmodels.tsa.ar_model import AutoReg
from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing
from statsmodels.tsa.statespace.sarimax import SARIMAX

from seqtune.baselines import BaselineResult, evaluate_baselines
from seqtune.tasks import Split, Splits, make_task
from seqtune.tasks.digitsum._baselines import linear_solution_accuracy, selected_positions


def by_name(results: list[BaselineResult]) -> dict[str, BaselineResult]:
    return {r.name: r for r in results}


def fitted_state(obj: object) -> object:
    """Everything an estimator learned in ``fit`` (scikit-learn's trailing ``_``)."""
    if isinstance(obj, Pipeline):
        return [fitted_state(step) for _, step in obj.steps]
    return {k: fitted_state(v) if isinstance(v, BaseEstimator) else v
            for k, v in vars(obj).items() if k.endswith("_") and not k.startswith("_")}


def assert_same_fits(clean: list[BaselineResult], other: list[BaselineResult],
                     parts: tuple[str, ...] = ("val", "test")) -> None:
    assert [r.name for r in clean] == [r.name for r in other]
    for a, b in zip(clean, other, strict=True):
        for part in parts:
            np.testing.assert_equal(fitted_state(a.fitted[part]), fitted_state(b.fitted[part]),
                                    err_msg=f"{a.name}: the {part} fit changed")


# --- rainfall -------------------------------------------------------------
@pytest.fixture(scope="module")
def rain_csv(shared_data):
    """The post's CSV as a task, and its baselines (fitted once for the module)."""
    task = make_task({"name": "rainfall", "csv": str(shared_data / "Rainfall_data.csv")})
    return task, evaluate_baselines(task)


def test_autoreg12_test_mse_matches_the_posts_walk_forward(shared_data, rain_csv):
    csv = shared_data / "Rainfall_data.csv"
    autoreg = by_name(rain_csv[1])["AutoReg(12)"]

    # the post's procedure, written out against statsmodels and the raw CSV
    x = pd.read_csv(csv)["Precipitation"].to_numpy(dtype=float)
    train, test = x[: len(x) - 50], x[len(x) - 50:]
    params = AutoReg(train, lags=12).fit().params
    assert len(params) == 13
    history, predictions = list(train[-12:]), []
    for obs in test:
        lag = history[-12:]
        predictions.append(params[0] + sum(params[d + 1] * lag[12 - d - 1] for d in range(12)))
        history.append(obs)
    expected = mean_squared_error(test, predictions)

    assert autoreg.test["mse"] == pytest.approx(expected, rel=1e-6)
    assert autoreg.test["mae"] == pytest.approx(np.mean(np.abs(test - predictions)), rel=1e-6)
    np.testing.assert_allclose(autoreg.fitted["test"].params_, params, rtol=1e-12)
    assert autoreg.fit_data == {"val": "train", "test": "train+val"}


def test_rainfall_naive_baselines_and_ridge_use_the_same_windows_as_the_rnn(rain_csv):
    task, results = rain_csv[0], by_name(rain_csv[1])
    y = task.series
    start, stop = task.split_bounds()["test"]
    t = np.arange(start, stop)
    assert results["persistence"].test["mse"] == pytest.approx(np.mean((y[t - 1] - y[t]) ** 2))
    assert results["seasonal naive"].test["mae"] == pytest.approx(
        np.mean(np.abs(y[t - 12] - y[t])))
    ridge = results["ridge (window 12)"]
    splits = task.splits(window=12)
    assert ridge.fitted["test"].predict(splits.test.inputs).shape == (stop - start,)
    # the ridge's test number is fitted on the train and val windows, its val number on train
    train_val = Ridge(alpha=1.0).fit(
        np.concatenate([splits.train.inputs, splits.val.inputs]).reshape(-1, 12),
        np.concatenate([splits.train.targets, splits.val.targets]))
    np.testing.assert_allclose(ridge.fitted["test"][-1].coef_, train_val.coef_, rtol=1e-6)
    train_only = Ridge(alpha=1.0).fit(splits.train.inputs.reshape(-1, 12), splits.train.targets)
    np.testing.assert_allclose(ridge.fitted["val"][-1].coef_, train_only.coef_, rtol=1e-6)
    bic = results["AutoReg(BIC)"]
    n_val, n_test = (len(bic.fitted[part].lags_) for part in ("val", "test"))
    assert bic.note.startswith(f"lags 1..{n_val} chosen before val, lags 1..{n_test} before test")


def test_seasonal_mean_is_the_calendar_month_climatology(shared_data, rain_csv):
    """Written out with numpy on the CSV's own Month column: the mean of each calendar
    month over train (val number) or train+val (test number), against the next block."""
    frame = pd.read_csv(shared_data / "Rainfall_data.csv")
    y, month = frame["Precipitation"].to_numpy(float), frame["Month"].to_numpy()
    n = len(y)
    results = by_name(rain_csv[1])
    climatology = results["seasonal mean"]
    for part, fit_stop, block in (("val", n - 100, slice(n - 100, n - 50)),
                                  ("test", n - 50, slice(n - 50, n))):
        means = {m: y[:fit_stop][month[:fit_stop] == m].mean() for m in range(1, 13)}
        forecast = np.array([means[m] for m in month[block]])
        expected = np.mean((forecast - y[block]) ** 2)
        # the task scores against its float32 targets, unscaled: agreement to ~1e-8
        assert getattr(climatology, part)["mse"] == pytest.approx(expected, rel=1e-6)
    # for monthly rainfall the strongest simple forecast: better than the post's AutoReg(12)
    assert 21_000 < climatology.test["mse"] < 22_500
    assert climatology.test["mse"] < results["AutoReg(12)"].test["mse"]
    assert climatology.fit_data == {"val": "train", "test": "train+val"}
    assert climatology.note.startswith("climatology")


def test_ets_and_sarima_forecast_one_step_ahead_with_the_fitted_parameters(rain_csv):
    task, results = rain_csv[0], by_name(rain_csv[1])
    y = task.series
    (val_start, val_stop), (start, stop) = task.split_bounds()["val"], task.split_bounds()["test"]
    ets, sarima = results["ETS (Holt-Winters)"], results["SARIMA"]
    for row in (ets, sarima):
        assert row.fit_data == {"val": "train", "test": "train+val"}
        assert all(np.isfinite(list(row.val.values()) + list(row.test.values())))
        assert "chosen by AIC before val" in row.note or "chosen by AIC among" in row.note
        assert row.fitted["val"].n_fit_ == val_start and row.fitted["test"].n_fit_ == start
    # ETS: the first test forecast is the plain one-step forecast of the train+val fit
    trend = ets.fitted["test"].choice_ != "no trend"
    refit = ExponentialSmoothing(y[:start], trend=trend, damped_trend=trend, seasonal=12,
                                 initialization_method="estimated").fit(disp=False)
    assert ets.forecasts["test"][0] == pytest.approx(float(refit.forecast(1)[0]), rel=1e-4)
    # SARIMA: fitted on the seasonal differences; the same parameters in the full state
    # space model (levels, seasonal difference inside the state) give the same forecasts
    fitted = sarima.fitted["test"]
    full = SARIMAX(y[:start], order=fitted._result.model.order,
                   seasonal_order=fitted._result.model.seasonal_order, trend="n",
                   concentrate_scale=True).filter(fitted.params_)
    expected = full.append(y[start:stop]).predict(start=start, end=stop - 1)
    np.testing.assert_allclose(sarima.forecasts["test"], expected, rtol=1e-4)
    assert f"{fitted.choice_} before test" in sarima.note
    assert task.score_values(task.splits().test, expected)["mse"] == pytest.approx(
        sarima.test["mse"], rel=1e-6)
    assert np.all(np.isfinite(sarima.forecasts["val"])) and len(
        sarima.forecasts["val"]) == val_stop - val_start


def test_every_rainfall_row_follows_one_protocol(rain_csv):
    """Val fitted on train, test on train+val (or nothing fitted), then one step ahead
    from the true history; the note says so, and each number is its forecasts' score."""
    task, results = rain_csv
    splits = task.splits()
    assert [r.name for r in results] == [
        "AutoReg(12)", "AutoReg(BIC)", "persistence", "seasonal naive", "seasonal mean",
        "ETS (Holt-Winters)", "SARIMA", "ridge (window 12)"]
    for row in results:
        assert row.fit_data in ({"val": "train", "test": "train+val"},
                                {"val": "nothing", "test": "nothing"}), row.name
        assert "one step ahead from the true history" in row.note, row.name
        if row.fit_data["test"] == "train+val":
            assert "train+val (202 points) for the test number" in row.note, row.name
        for part in ("val", "test"):
            assert getattr(row, part) == pytest.approx(
                task.score_values(splits[part], row.forecasts[part])), (row.name, part)


@pytest.mark.parametrize("block", ["val", "test"])
def test_a_changed_target_moves_only_the_forecasts_after_it(rain_csv, tmp_path, block):
    """Multiply one target in the middle of a block by 7: every fit before the block is
    unchanged, and so is every forecast up to that target (it reads only the past);
    the block's number changes only through that target and the history after it."""
    task, clean = rain_csv
    frame = pd.read_csv(task.csv)
    start = task.split_bounds()[block][0]
    k = 25
    frame.loc[start + k, "Precipitation"] *= 7.0
    path = tmp_path / "changed.csv"
    frame.to_csv(path, index=False)
    changed_task = make_task({"name": "rainfall", "csv": str(path)})
    changed = evaluate_baselines(changed_task)
    assert_same_fits(clean, changed, parts=(block,))
    for a, b in zip(clean, changed, strict=True):
        np.testing.assert_array_equal(a.forecasts[block][: k + 1], b.forecasts[block][: k + 1],
                                      err_msg=f"{a.name}: a forecast read a later value")
        assert getattr(b, block)["mse"] == pytest.approx(changed_task.score_values(
            changed_task.splits()[block], b.forecasts[block])["mse"])
        assert getattr(b, block) != getattr(a, block)
        if block == "test":
            assert a.val == b.val and a.test != b.test
            np.testing.assert_array_equal(a.forecasts["val"], b.forecasts["val"])
    by = by_name(changed)
    # only the history moves: persistence repeats the changed value, climatology ignores it
    assert by["persistence"].forecasts[block][k + 1] == 7.0 * task.series[start + k]
    np.testing.assert_array_equal(by["seasonal mean"].forecasts[block],
                                  by_name(clean)["seasonal mean"].forecasts[block])


def test_a_constant_series_leaves_out_the_models_that_cannot_fit_it(tmp_path):
    path = tmp_path / "constant.csv"
    pd.DataFrame({"Precipitation": np.full(148, 5.0)}).to_csv(path, index=False)
    results = by_name(evaluate_baselines(make_task({"name": "rainfall", "csv": str(path)})))
    assert "ETS (Holt-Winters)" not in results and "SARIMA" not in results
    assert results["seasonal mean"].test == {"mse": 0.0, "mae": 0.0}


def test_rainfall_fits_never_see_the_block_they_forecast(shared_data, rain_csv, tmp_path):
    source = shared_data / "Rainfall_data.csv"
    clean = rain_csv[1]
    frame = pd.read_csv(source)
    n = len(frame)
    for block, rows in (("test", slice(n - 50, n)), ("val", slice(n - 100, n - 50))):
        poisoned = frame.copy()
        poisoned.loc[poisoned.index[rows], "Precipitation"] *= 7.0
        path = tmp_path / f"poisoned-{block}.csv"
        poisoned.to_csv(path, index=False)
        other = evaluate_baselines(make_task({"name": "rainfall", "csv": str(path)}))
        if block == "test":  # nothing is fitted on test: every fit and val number is unchanged
            assert_same_fits(clean, other)
            assert [r.val for r in clean] == [r.val for r in other]
            assert [r.test for r in clean] != [r.test for r in other]
        else:  # the val numbers come from fits on train only
            assert_same_fits(clean, other, parts=("val",))


# --- seeded ---------------------------------------------------------------
@pytest.mark.parametrize("rule", ["drift", "ar2"])
def test_seeded_least_squares_is_exact_and_the_mean_is_what_collapse_scores(rule):
    task = make_task({"name": "seeded", "rule": rule})
    results = by_name(evaluate_baselines(task))
    exact = results["least squares"]
    assert exact.val["mse"] < 1e-10 and exact.test["mse"] < 1e-10
    assert exact.note.startswith("exact") and f"the {rule} continuation is a linear" in exact.note
    # the test MSE of the training mean is var + (train mean - test mean)^2 per step, so its
    # normalized MSE is 1 plus a sampling term of order 1/n_train + 1/n_test
    mean = results["per-step mean"]
    assert 1.0 <= mean.test["nmse"] < 1.0 + 5 * (1 / task.n_train + 1 / task.n_test)
    splits = task.splits()
    persistence = np.repeat(splits.test.inputs[:, -1:], task.horizon, axis=1)
    assert results["persistence"].test == task.score(splits.test, persistence)


def test_pooled_ar_is_exact_only_where_the_rule_is_a_pooled_recursion():
    ar2 = [r for r in evaluate_baselines(make_task({"name": "seeded", "rule": "ar2"}))
           if r.name.startswith("pooled AR")][0]
    # windows of 6 hold only continuation targets, where x[t] = x[t-1] + 0.2 x[t-2] holds
    assert ar2.name == "pooled AR(5)" and ar2.test["mse"] < 1e-10
    np.testing.assert_allclose(ar2.fitted["test"].linear_.coef_, [0, 0, 0, 0.2, 1], atol=1e-6)
    drift = [r for r in evaluate_baselines(make_task({"name": "seeded", "rule": "drift"}))
             if r.name.startswith("pooled AR")][0]
    # the drift step is seed 4, a lag that grows along the continuation: no pooled AR fits it
    assert drift.test["nmse"] > 0.2


def test_seeded_fits_never_see_test_data():
    clean_task = make_task({"name": "seeded", "rule": "drift"})
    other_task = make_task({"name": "seeded", "rule": "drift", "n_test": 37})
    assert np.array_equal(clean_task.splits().train.inputs, other_task.splits().train.inputs)
    clean, other = evaluate_baselines(clean_task), evaluate_baselines(other_task)
    assert_same_fits(clean, other)
    assert [r.val for r in clean] == [r.val for r in other]


# --- digitsum -------------------------------------------------------------
@pytest.mark.parametrize("length", [5, 35])
def test_digitsum_baselines_at_the_books_lengths(length):
    task = make_task({"name": "digitsum", "length": length})
    splits = task.splits()
    results = by_name(evaluate_baselines(task))
    label = np.bincount(splits.train.targets).argmax()
    assert results["majority class"].test["accuracy"] == np.mean(splits.test.targets == label)
    # a linear score over the one-hot digits can solve the task exactly ...
    assert linear_solution_accuracy(splits.test) == 1.0
    # ... and, once forward selection has kept only the first two positions, the fitted
    # one does
    selected = results["logistic regression, selected positions"]
    assert selected_positions(selected.fitted["test"]) == [1, 2]
    assert selected.val["accuracy"] == selected.test["accuracy"] == 1.0
    assert f"test kept positions 1, 2 of {length}; test accuracy 1.000" in selected.note
    # on every position it separates its training rows, but not through the first two
    # digits alone: the note reports both numbers and names the cause when they differ
    logistic = results["logistic regression, all positions"]
    fitted = logistic.fitted["test"]
    train_accuracy = task.score(splits.train, fitted.predict(splits.train.inputs))["accuracy"]
    assert train_accuracy == 1.0
    assert f"training accuracy 1.000, test {logistic.test['accuracy']:.3f}" in logistic.note
    assert ("learns the noise digits" in logistic.note) == (1 - logistic.test["accuracy"] > 0.1)
    noise = fitted[-1].coef_[:, 20:] ** 2
    share = noise.sum() / (fitted[-1].coef_ ** 2).sum()
    assert (f"{share:.0%} of its squared weights" in logistic.note) == (
        "learns the noise digits" in logistic.note)


def test_digitsum_logistic_regression_learns_the_sum_given_enough_rows():
    task = make_task({"name": "digitsum", "length": 5, "mode": "dense"})
    logistic = by_name(evaluate_baselines(task))["logistic regression, all positions"]
    assert logistic.test["accuracy"] > 0.9


def test_digitsum_position_selection_follows_the_data():
    """Selection is not hard-wired to the first two positions: when the label is the
    sum of the digits at positions 3 and 5, those are the ones kept."""
    task = make_task({"name": "digitsum", "length": 6, "mode": "dense"})
    splits = task.splits()
    moved = Splits(*(Split(s.inputs[:, [2, 3, 0, 5, 1, 4]], s.targets)
                     for s in (splits.train, splits.val, splits.test)))
    selected = by_name(evaluate_baselines(task, moved))["logistic regression, selected positions"]
    assert selected_positions(selected.fitted["test"]) == [3, 5]
    assert selected.test["accuracy"] == 1.0


def test_digitsum_fits_never_see_test_data():
    task = make_task({"name": "digitsum", "length": 5})
    clean_splits = task.splits()
    test = clean_splits.test
    rng = np.random.default_rng(0)
    poisoned = Splits(clean_splits.train, clean_splits.val,
                      Split(rng.integers(0, 10, size=test.inputs.shape),
                            rng.permutation(test.targets)))
    clean, other = evaluate_baselines(task), evaluate_baselines(task, poisoned)
    assert_same_fits(clean, other)
    assert [r.val for r in clean] == [r.val for r in other]
