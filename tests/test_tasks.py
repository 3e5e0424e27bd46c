"""Data properties of the three tasks."""

from __future__ import annotations

import numpy as np
import pytest

from seqtune.errors import SeqtuneError
from seqtune.tasks import make_task
from seqtune.tasks.digitsum import BOOK_LENGTHS, book_data, book_lines, dense_data
from seqtune.tasks.rainfall import RainfallTask


# --- seeded ---------------------------------------------------------------
def test_drift_continuation_follows_its_rule_exactly():
    task = make_task({"name": "seeded", "rule": "drift"})
    for split in (task.splits().train, task.splits().val, task.splits().test):
        seeds, cont = split.inputs.astype(np.float64), split.targets.astype(np.float64)
        full = np.concatenate([seeds, cont], axis=1)
        steps = np.diff(full[:, 4:], axis=1)  # from the last seed on
        np.testing.assert_allclose(steps, np.repeat(0.5 * seeds[:, [3]], 5, axis=1), atol=1e-6)


def test_ar2_continuation_follows_its_rule_exactly():
    split = make_task({"name": "seeded", "rule": "ar2"}).splits().train
    full = np.concatenate([split.inputs, split.targets], axis=1).astype(np.float64)
    for t in range(5, 10):
        np.testing.assert_allclose(full[:, t], full[:, t - 1] + 0.2 * full[:, t - 2], atol=1e-5)


def test_seeded_defaults_match_the_question():
    s = make_task({"name": "seeded"}).splits()
    assert (len(s.train), len(s.val), len(s.test)) == (1000, 100, 1000)
    assert s.train.inputs.shape == (1000, 5) and s.train.targets.shape == (1000, 5)
    assert s.train.inputs.min() >= -1 and s.train.inputs.max() <= 1
    # different seeds give different data; the same seed the same
    again = make_task({"name": "seeded"}).splits()
    np.testing.assert_array_equal(s.train.inputs, again.train.inputs)
    other = make_task({"name": "seeded", "seed": 1}).splits()
    assert not np.array_equal(s.train.inputs, other.train.inputs)


def test_collapse_diagnostics_tell_a_flat_model_from_a_conditional_one():
    task = make_task({"name": "seeded"})
    val = task.splits().val
    perfect = task.score(val, val.targets)
    assert perfect["mse"] == 0 and perfect["drift_ratio"] == pytest.approx(1.0)
    mean_model = np.broadcast_to(val.targets.mean(axis=0), val.targets.shape)
    collapsed = task.score(val, mean_model)
    assert collapsed["nmse"] == pytest.approx(1.0, abs=1e-9)
    copy_last = np.repeat(val.inputs[:, -1:], 5, axis=1)
    assert task.score(val, copy_last)["drift_ratio"] == pytest.approx(0.0)

    diag = task.diagnostics(val, _drift_rule)
    # a model that follows the rule depends on seeds 4 and 5 only
    attribution = diag["seed_attribution"]
    assert attribution[3] > 0.1 and attribution[4] > 0.1
    assert max(attribution[:3]) == pytest.approx(0.0, abs=1e-9)
    assert diag["seed4_slope"] == pytest.approx(0.5, abs=1e-6)


def _drift_rule(seeds: np.ndarray) -> np.ndarray:
    steps = np.arange(1, 6)
    return (seeds[:, [4]] + 0.5 * seeds[:, [3]] * steps).astype(np.float32)


# --- digitsum -------------------------------------------------------------
def test_digitsum_labels_and_position_rule():
    for mode in ("book", "dense"):
        s = make_task({"name": "digitsum", "length": 12, "mode": mode}).splits()
        for split in (s.train, s.val, s.test):
            x, y = split.inputs, split.targets
            assert x.shape[1] == 12
            np.testing.assert_array_equal(y, x[:, 0] + x[:, 1])
            assert x.min() >= 0 and x.max() <= 9 and set(np.unique(y)) <= set(range(19))
    train, dev, _ = book_data(12)
    x = train[0]
    # book mode: at most one non-zero digit after the first two, all 100 pairs k times
    assert (np.count_nonzero(x[:, 2:], axis=1) <= 1).all()
    pairs = {(a, b) for a, b in x[:, :2]}
    assert len(pairs) == 100 and len(x) == 300 and len(dev[0]) == 100


@pytest.mark.parametrize("length", BOOK_LENGTHS)
def test_book_mode_reproduces_the_books_files_line_for_line(shared_data, length):
    generated = book_data(length, seed=0)
    for name, (x, y) in zip(("train", "dev", "test"), generated, strict=True):
        lines = (shared_data / "digitsum" / str(length) / f"{name}.txt").read_text().splitlines()
        assert book_lines(x, y) == lines


def test_digitsum_accepts_any_length_and_seed():
    a = dense_data(50, seed=1)[0][0]
    b = dense_data(50, seed=2)[0][0]
    assert a.shape == (3000, 50) and not np.array_equal(a, b)
    assert make_task({"name": "digitsum", "length": 200}).splits().train.inputs.shape == (300, 200)
    with pytest.raises(SeqtuneError, match="length"):
        make_task({"name": "digitsum", "length": 2})


# --- rainfall -------------------------------------------------------------
def test_rainfall_default_series_is_the_bundled_elnino():
    task = RainfallTask()
    assert len(task.series) == 61 * 12
    assert task.series_name == "elnino" and task.config()["csv"] is None
    # a stored config rebuilds the same task (the report and predict rely on it)
    assert make_task(task.config()).fingerprint() == task.fingerprint()


def test_rainfall_splits_are_chronological_and_scaled_on_train_only(shared_data):
    csv = shared_data / "Rainfall_data.csv"
    task = RainfallTask(csv=str(csv))
    s = task.splits(window=12)
    idx = {name: s[name].meta["index"] for name in ("train", "val", "test")}
    assert idx["train"].max() < idx["val"].min() and idx["val"].max() < idx["test"].min()
    assert len(idx["test"]) == 50 and idx["test"].max() == len(task.series) - 1
    assert len(idx["val"]) == 50
    # the scaler sees train only: changing val/test values leaves it unchanged
    train_part = task.series[: task.n_train]
    assert task.mean[0] == pytest.approx(train_part.mean())
    assert task.std[0] == pytest.approx(train_part.std())
    # each target's window is the true history right before it
    scaled = (task.series - task.mean[0]) / task.std[0]
    for split in (s.train, s.val, s.test):
        t = split.meta["index"][3]
        np.testing.assert_allclose(split.inputs[3, :, 0], scaled[t - 12:t], rtol=1e-5)
        assert split.targets[3] == pytest.approx(scaled[t], rel=1e-5)
    # scores are in the series' units
    assert task.score(s.test, s.test.targets)["mse"] == 0


def test_rainfall_reads_exogenous_columns(shared_data):
    task = RainfallTask(csv=str(shared_data / "Rainfall_data.csv"),
                        exogenous=["Specific Humidity", "Relative Humidity", "Temperature"])
    assert task.splits(window=6).train.inputs.shape[2] == 4


@pytest.mark.parametrize("content, message", [
    ("Year,Rain\n2000,1\n", "missing column 'Precipitation'"),
    ("Precipitation\n1\nabc\n", "'abc' is not a number"),
    ("Precipitation\n1\n\n2\n" + "3\n" * 200, None),
    ("Precipitation\n" + "1\n" * 40, "series too short"),
])
def test_rainfall_csv_errors_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    if message is None:  # blank lines are skipped by the CSV reader, not NaN
        RainfallTask(csv=str(path), max_window=12)
        return
    with pytest.raises(SeqtuneError, match=message):
        RainfallTask(csv=str(path))


def test_rainfall_nan_is_refused(tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("Precipitation,Temperature\n1,\n2,3\n")
    with pytest.raises(SeqtuneError, match="missing value"):
        RainfallTask(csv=str(path), exogenous=["Temperature"])
