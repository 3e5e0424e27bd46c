"""Forecasting from your own CSV (the ``forecast`` task; ``rainfall`` is its
preset): a date column sorted oldest first, checked for a regular step, the
season length from it, exogenous input columns, dates on the plot axis; the
README's "Your own data" section and ``examples/forecast.toml`` run as
written (budgets cut to one short trial)."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import torch

from seqtune.errors import SeqtuneError
from seqtune.models import build_model
from seqtune.study import load_checkpoint
from seqtune.study._artifacts import make_checkpoint
from seqtune.tasks import make_task
from seqtune.tasks.forecast import ForecastTask
from seqtune.tasks.forecast._baselines import forecast_baselines
from seqtune.tasks.forecast._report import forecast_panels
from seqtune.trainer import predict

REPO = Path(__file__).resolve().parents[1]
#: the budget every README command is cut to
TINY = ["--n-trials", "1", "--max-epochs", "2", "--repeats", "0", "--workers", "1"]


def readme_blocks(section: str, level: str = "##") -> list[tuple[str, str]]:
    """(language, code) of every fenced block in README.md's ``## section`` up to
    its first subsection (or in the ``### section`` with ``level="###"``)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n{level} {section}\n")
    end = min((i for i in (text.find("\n## ", start + 1), text.find("\n### ", start + 1))
               if i > 0), default=-1)
    body = text[start:end if end > 0 else None]
    return re.findall(r"```(\w+)\n(.*?)```", body, flags=re.DOTALL)


def series(n: int = 96, freq: str = "MS", start: str = "2001-01-01") -> pd.DataFrame:
    """A trend plus a season, oldest first: the order is visible in the values."""
    dates = pd.date_range(start, periods=n, freq=freq)
    t = np.arange(n)
    value = 10 + 0.1 * t + np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, .1, n)
    return pd.DataFrame({"date": dates.strftime("%Y-%m-%d %H:%M:%S"
                                                if freq in ("h",) else "%Y-%m-%d"),
                         "value": value.round(6)})


def write_newest_first(frame: pd.DataFrame, path: Path) -> Path:
    frame.iloc[::-1].to_csv(path, index=False)
    return path


def own_task(path: Path, **settings) -> object:
    return make_task({"name": "rainfall", "csv": str(path), "target": "value",
                      "time": "date", "test_size": 12, "val_size": 12, "max_window": 12,
                      **settings})


# --- the task --------------------------------------------------------------
def test_a_newest_first_file_is_trained_oldest_first(tmp_path):
    frame = series()
    path = write_newest_first(frame, tmp_path / "s.csv")
    task = own_task(path)
    np.testing.assert_allclose(task.series, frame["value"].to_numpy())
    assert task.dates.is_monotonic_increasing
    assert str(task.dates[0].date()) == "2001-01-01"
    # the splits follow: train holds the oldest rows, test the newest
    splits = task.splits(window=12)
    train_targets = task.unscale(splits.train, splits.train.targets)
    test_targets = task.unscale(splits.test, splits.test.targets)
    np.testing.assert_allclose(train_targets, frame["value"].to_numpy()[12:72], rtol=1e-6)
    np.testing.assert_allclose(test_targets, frame["value"].to_numpy()[-12:], rtol=1e-6)
    # without time the same file is taken in file order, newest first
    unsorted = make_task({"name": "rainfall", "csv": str(path), "target": "value",
                          "test_size": 12, "val_size": 12, "max_window": 12})
    np.testing.assert_allclose(unsorted.series, frame["value"].to_numpy()[::-1])


@pytest.mark.parametrize(("freq", "season"), [
    ("MS", 12), ("ME", 12), ("QS", 4), ("QE", 4), ("W", 52), ("D", 7), ("h", 24)])
def test_the_season_length_is_inferred_from_the_dates(tmp_path, freq, season):
    n = 140 if season == 52 else 96
    task = own_task(write_newest_first(series(n, freq), tmp_path / "s.csv"))
    assert task.season_length == season
    assert task.config()["season"] == season and task.config()["time"] == "date"


def test_a_given_season_wins_and_a_yearly_series_needs_one(tmp_path):
    path = write_newest_first(series(96, "MS"), tmp_path / "s.csv")
    assert own_task(path, season=6).season_length == 6
    yearly = write_newest_first(series(60, "YS", "1900-01-01"), tmp_path / "y.csv")
    with pytest.raises(SeqtuneError, match="no natural season .* set task.season"):
        own_task(yearly, test_size=6, val_size=6, max_window=6)
    assert own_task(yearly, test_size=6, val_size=6, max_window=6, season=4).season_length == 4


def test_without_time_the_config_of_existing_studies_is_unchanged():
    assert make_task({"name": "rainfall"}).config() == {
        "name": "rainfall", "csv": None, "target": "Precipitation", "exogenous": [],
        "test_size": 50, "val_size": 50, "max_window": 36}
    assert make_task({"name": "rainfall"}).season_length == 12


def _gap(frame):
    return frame.drop(index=40)


def _duplicate(frame):
    return pd.concat([frame, frame.iloc[[30]]])


def _not_a_date(frame):
    return frame.assign(date=frame["date"].where(frame.index != 50, "31/02/x"))


BAD = {"gap": (_gap, "a gap or uneven step after 2004-04-01 (next 2004-06-01); expected "
                     "one row every month"),
       "duplicate": (_duplicate, "duplicate date 2003-07-01"),
       "not a date": (_not_a_date, "'31/02/x' is not a date")}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_dates_are_one_line(tmp_path, case):
    spoil, message = BAD[case]
    path = write_newest_first(spoil(series()), tmp_path / "s.csv")
    with pytest.raises(SeqtuneError) as info:
        own_task(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_the_seasonal_baselines_follow_a_quarterly_season(tmp_path):
    task = own_task(write_newest_first(series(96, "QS", "1980-01-01"), tmp_path / "q.csv"),
                    max_window=8)
    rows = {r.name: r for r in forecast_baselines(task, task.splits(window=8))}
    assert "AutoReg(4)" in rows and "AutoReg(12)" not in rows
    assert rows["seasonal naive"].description == "the value 4 steps (one season) earlier"
    assert rows["seasonal mean"].fitted["val"].season == 4
    assert rows["SARIMA"].fitted["val"].choice_.endswith("_4")
    assert rows["ETS (Holt-Winters)"].fitted["val"].season == 4
    # seasonal naive really reads one season back
    test = task.splits(window=8).test
    np.testing.assert_allclose(rows["seasonal naive"].forecasts["test"],
                               task.series[test.meta["index"] - 4])


def test_the_forecast_plot_has_dates_on_its_x_axis(tmp_path):
    task = own_task(write_newest_first(series(), tmp_path / "s.csv"))
    figure = forecast_panels(task, None)[0].figure
    assert figure.layout.xaxis.title.text == "date"
    actual = figure.data[0]
    assert actual.name == "actual value"
    assert pd.Timestamp(actual.x[0]) == pd.Timestamp("2007-01-01")  # the val block's first
    assert pd.Timestamp(actual.x[-1]) == pd.Timestamp("2008-12-01")
    elnino = forecast_panels(make_task({"name": "rainfall"}), None)[0]
    assert elnino.figure.layout.xaxis.title.text == "month index"
    assert elnino.figure.data[0].name == "actual elnino"
    assert "Precipitation" not in elnino.caption + json.dumps(elnino.figure.to_plotly_json(),
                                                               default=str)


# --- forecast: the generic task, rainfall its preset -------------------------
FORECAST = {"name": "forecast", "test_size": 12, "val_size": 12, "max_window": 12}


def test_forecast_needs_a_csv_a_target_and_a_season(tmp_path):
    path = write_newest_first(series(), tmp_path / "s.csv")
    for settings, message in (
            ({}, "task.csv: the CSV file of your series; required"),
            ({"csv": str(path)}, "task.target: the name of the column to forecast; required"),
            ({"csv": str(path), "target": "value"}, "task.season: unknown without dates")):
        with pytest.raises(SeqtuneError, match=f"^{re.escape(message)}"):
            make_task({**FORECAST, **settings})
    task = make_task({**FORECAST, "csv": str(path), "target": "value", "season": 6})
    assert task.season_length == 6 and task.config()["season"] == 6
    np.testing.assert_allclose(task.series, series()["value"].to_numpy()[::-1])  # file order
    assert forecast_panels(task, None)[0].figure.layout.xaxis.title.text == "index"


def test_rainfall_is_the_forecast_task_with_the_posts_defaults(tmp_path):
    path = write_newest_first(series(), tmp_path / "s.csv")
    settings = {"csv": str(path), "target": "value", "time": "date", "test_size": 12,
                "val_size": 12, "max_window": 12}
    forecast, rainfall = (make_task({"name": n, **settings}) for n in ("forecast", "rainfall"))
    assert isinstance(rainfall, ForecastTask)
    assert {**forecast.config(), "name": "rainfall"} == rainfall.config()
    for a, b in zip(forecast.raw_data(), rainfall.raw_data(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [r.to_dict() for r in forecast_baselines(forecast, forecast.splits(window=12))] == \
        [r.to_dict() for r in forecast_baselines(rainfall, rainfall.splits(window=12))]
    # the preset's own defaults: the post's target column, and elnino without a CSV
    assert make_task({"name": "rainfall"}).target == "Precipitation"
    with pytest.raises(SeqtuneError, match="missing column 'Precipitation'"):
        make_task({"name": "rainfall", "csv": str(path), "time": "date"})
    assert make_task({"name": "rainfall"}).series_label == "elnino"


def leading(n: int = 120) -> pd.DataFrame:
    """``value`` follows last month's ``driver``, a random walk it cannot foresee."""
    rng = np.random.default_rng(1)
    driver = np.cumsum(rng.normal(0, 1, n))
    value = np.r_[0.0, 2 * driver[:-1]] + rng.normal(0, 0.05, n)
    return pd.DataFrame({"date": pd.date_range("2000-01-01", periods=n, freq="MS")
                         .strftime("%Y-%m-%d"), "value": value.round(6),
                         "driver": driver.round(6)})


def test_exogenous_columns_are_model_inputs_beside_the_target(tmp_path):
    frame = leading()
    path = write_newest_first(frame, tmp_path / "lead.csv")
    both = make_task({**FORECAST, "csv": str(path), "target": "value", "time": "date",
                      "exogenous": ["driver"]})
    alone = make_task({**FORECAST, "csv": str(path), "target": "value", "time": "date"})
    assert both.model_spec() == {"n_features": 2} and alone.model_spec() == {"n_features": 1}
    test = both.splits(window=3).test
    t = int(test.meta["index"][0])
    window = test.inputs[0].astype(np.float64) * both.std + both.mean  # back in data units
    np.testing.assert_allclose(window, frame[["value", "driver"]].to_numpy()[t - 3:t],
                               rtol=1e-5, atol=1e-4)
    # the window ridge reads the driver: it forecasts what the target's past cannot
    with_driver = [r for r in forecast_baselines(both, both.splits(window=12))
                   if r.name.startswith("ridge")][0].test["mse"]
    without = [r for r in forecast_baselines(alone, alone.splits(window=12))
               if r.name.startswith("ridge")][0].test["mse"]
    assert with_driver < 0.1 * without, (with_driver, without)
    for exogenous, message in ((["value"], "'value' is the target"),
                               ("driver", "expected a list of column names, got 'driver'")):
        with pytest.raises(SeqtuneError, match=message):
            make_task({**FORECAST, "csv": str(path), "target": "value", "time": "date",
                       "exogenous": exogenous})


def test_a_checkpoint_with_exogenous_columns_predicts_from_the_csv(tmp_path):
    path = write_newest_first(leading(), tmp_path / "lead.csv")
    task = make_task({**FORECAST, "csv": str(path), "target": "value", "time": "date",
                      "exogenous": ["driver"]})
    torch.manual_seed(0)
    model = build_model(task.model_kind, "gru", 8, 1, **task.model_spec())
    torch.save(make_checkpoint(task, {"architecture": "gru", "hidden_size": 8,
                                      "num_layers": 1, "window": 5}, model, trial=0, value=1.0),
               tmp_path / "lead.pt")
    checkpoint = load_checkpoint(tmp_path / "lead.pt")
    [row] = ForecastTask.predict_input(checkpoint, [], {"csv": path})
    scaled = ((task.data[-5:] - task.mean) / task.std).astype(np.float32)[None]
    expected = float(predict(model, scaled)[0]) * task.std[0] + task.mean[0]
    assert row["prediction"] == [pytest.approx(expected, rel=1e-5)]
    np.testing.assert_allclose(row["input"], task.series)  # oldest first, the target column
    with pytest.raises(SeqtuneError, match="^--steps: the model also reads driver"):
        ForecastTask.predict_input(checkpoint, [], {"csv": path, "steps": 2})
    with pytest.raises(SeqtuneError, match=r"^--seq: the model reads 2 column\(s\)"):
        ForecastTask.predict_input(checkpoint, [("--seq", [1.0] * 5)], {})


# --- the README, end to end through the CLI --------------------------------
def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): "dir" if p.is_dir() else
            hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))}


@pytest.fixture()
def readme_study(tmp_path):
    """The README's study file and a newest-first ``my_series.csv`` in ``tmp_path``."""
    [(language, toml)] = [b for b in readme_blocks("Your own data") if b[0] == "toml"]
    (tmp_path / "my-series.toml").write_text(toml, encoding="utf-8")
    write_newest_first(series(), tmp_path / "my_series.csv")
    return tmp_path


def test_the_readme_own_data_commands_run_as_written(readme_study, cli):
    work = readme_study
    [(_, bash)] = [b for b in readme_blocks("Your own data") if b[0] == "bash"]
    commands = [shlex.split(line, comments=True) for line in bash.splitlines()]
    commands = [c for c in commands if c]
    assert [c[:2] for c in commands] == [["seqtune", "optimize"], ["seqtune", "leaderboard"],
                                         ["seqtune", "report"]]
    outputs = []
    for command in commands:
        args = command[1:] + (TINY if command[1] == "optimize" else [])
        result = cli(*args, cwd=work)
        assert result.returncode == 0, (command, result.stderr[-2000:])
        outputs.append(result.stdout)
    assert "AutoReg(12)" in outputs[1] and "seasonal naive" in outputs[1]

    storage = optuna.storages.RDBStorage(f"sqlite:///{work / 'storage' / 'seqtune.db'}")
    study = optuna.load_study(study_name="my-series", storage=storage)
    config = study.user_attrs["task"]
    assert config["time"] == "date" and config["season"] == 12
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
    # what the study trained on, oldest first (a relative csv is the study folder's)
    rebuilt = make_task({**config, "csv": str(work / config["csv"])})
    assert rebuilt.dates.is_monotonic_increasing
    np.testing.assert_allclose(rebuilt.series, series()["value"].to_numpy())

    page = (work / "reports" / "study-my-series.html").read_text(encoding="utf-8")
    assert '"title":{"text":"date"}' in page.replace(" ", "")
    assert "2008-12-01" in page  # the last test date on the x axis
    assert "month index" not in page


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_dates_through_the_cli_are_one_line_and_exit_2(readme_study, cli, case):
    work = readme_study
    spoil, message = BAD[case]
    write_newest_first(spoil(series()), work / "my_series.csv")
    db = work / "storage" / "seqtune.db"
    db.parent.mkdir()
    optuna.create_study(study_name="already-here", storage=f"sqlite:///{db}")
    before = _tree(work)
    result = cli("optimize", "my-series.toml", *TINY, cwd=work)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "my_series.csv" in lines[0], lines
    assert "Traceback" not in result.stdout + result.stderr
    assert _tree(work) == before


def test_the_cli_flags_target_and_time_on_the_shipped_study_file(tmp_path, cli):
    """``--target value --time date`` on ``studies/rainfall.toml``, no study file edited."""
    write_newest_first(series(), tmp_path / "mine.csv")
    url = f"sqlite:///{tmp_path / 'flags.db'}"
    result = cli("optimize", str(REPO / "studies" / "rainfall.toml"), "--csv", "mine.csv",
                 "--target", "value", "--time", "date", "--set", "test_size=24",
                 "--set", "val_size=24", "--study-name", "mine", "--storage", url, *TINY,
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    study = optuna.load_study(study_name="mine", storage=url)
    config = study.user_attrs["task"]
    assert (config["target"], config["time"], config["season"]) == ("value", "date", 12)
    rebuilt = make_task({**config, "csv": str(tmp_path / config["csv"])})
    np.testing.assert_allclose(rebuilt.series, series()["value"].to_numpy())


def test_the_readme_study_file_is_examples_forecast_toml():
    [(_, toml)] = [b for b in readme_blocks("Your own data") if b[0] == "toml"]
    assert toml == (REPO / "examples" / "forecast.toml").read_text(encoding="utf-8")


def test_the_forecast_example_reads_another_csv_through_the_cli_flags(tmp_path, cli):
    """``examples/forecast.toml`` on a file whose columns it does not name:
    ``--csv``, ``--target`` and ``--time`` make the study; predict reads the file."""
    series().rename(columns={"date": "month", "value": "units"}).iloc[::-1].to_csv(
        tmp_path / "sales.csv", index=False)
    url = f"sqlite:///{tmp_path / 'sales.db'}"
    result = cli("optimize", str(REPO / "examples" / "forecast.toml"), "--csv", "sales.csv",
                 "--target", "units", "--time", "month", "--study-name", "sales",
                 "--storage", url, *TINY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    config = optuna.load_study(study_name="sales", storage=url).user_attrs["task"]
    assert (config["name"], config["target"], config["time"], config["season"]) == \
        ("forecast", "units", "month", 12)
    board = cli("leaderboard", "sales", "--storage", url, "-f", "json", cwd=tmp_path)
    names = {row["name"] for row in json.loads(board.stdout)["rows"]}
    assert {"AutoReg(12)", "seasonal naive", "SARIMA"} <= names, names
    done = cli("predict", "sales", "--csv", "sales.csv", "--steps", "3", "--storage", url,
               "-f", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    [row] = json.loads(done.stdout)["predictions"]
    assert len(row["prediction"]) == 3 and row["input"][-1] == series()["value"].iloc[-1]
    refused = cli("predict", "sales", "--seq", "1 2 3", "--storage", url, cwd=tmp_path)
    assert refused.returncode == 2 and "window of" in refused.stderr
