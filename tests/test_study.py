"""End to end: a tiny study per task on a temporary SQLite file, read back
through Optuna's own API. Bad input through the CLI: tests/test_errors.py."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from seqtune.config import load_config, parse_config
from seqtune.errors import SeqtuneError
from seqtune.study import optimize

REPO = Path(__file__).resolve().parents[1]
TINY = {"n_trials": 2, "max_epochs": 3, "patience": 3, "timeout": None}


def tiny(study_file: str, **overrides):
    config = load_config(REPO / "studies" / f"{study_file}.toml")
    return config.with_overrides(**{**TINY, **overrides})


@pytest.mark.parametrize("study_file", ["seeded-drift", "seeded-ar2", "rainfall"])
def test_tiny_study_is_readable_through_optuna(sqlite_url, study_file):
    config = tiny(study_file)
    optimize(config, sqlite_url, show_progress_bar=False)
    study = optuna.load_study(study_name=config.name, storage=sqlite_url)
    assert study.user_attrs["task"]["name"] == config.task_name
    assert len(study.user_attrs["data_fingerprint"]) == 16
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 2
    metric = study.user_attrs["metric"]
    for t in trials:
        assert t.params["architecture"] in ("rnn", "lstm", "gru")
        assert t.value == t.user_attrs[f"val_{metric}"]
        assert t.user_attrs[f"test_{metric}"] >= 0
        assert 1 <= t.user_attrs["epochs"] <= 3 and t.user_attrs["train_seconds"] > 0
        assert len(t.intermediate_values) == t.user_attrs["epochs"]


def test_digitsum_sweep_makes_one_study_per_length(sqlite_url):
    config = tiny("digitsum", sweep={"length": [5, 7]})
    for each in config.expand():
        optimize(each, sqlite_url, show_progress_bar=False)
    names = sorted(s.study_name for s in optuna.get_all_study_summaries(sqlite_url))
    assert names == ["digitsum-L5", "digitsum-L7"]
    study = optuna.load_study(study_name="digitsum-L7", storage=sqlite_url)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.user_attrs["task"]["length"] == 7
    assert 0 <= study.best_value <= 1


def test_rerun_resumes_to_the_requested_trial_count(sqlite_url):
    config = tiny("seeded-drift")
    optimize(config, sqlite_url, show_progress_bar=False)
    study = optimize(config.with_overrides(n_trials=3), sqlite_url, show_progress_bar=False)
    assert [t.number for t in study.trials] == [0, 1, 2]


def test_study_name_with_another_task_is_refused_without_writing(tmp_path, sqlite_url):
    optimize(tiny("seeded-drift"), sqlite_url, show_progress_bar=False)
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    before = db.read_bytes()
    other = tiny("seeded-ar2", name="seeded-drift")
    with pytest.raises(SeqtuneError, match="exists with another task"):
        optimize(other, sqlite_url, show_progress_bar=False)
    assert db.read_bytes() == before


def test_a_failed_trial_keeps_its_error_text(sqlite_url):
    config = tiny("seeded-drift", n_trials=1, start={})
    config = config.with_overrides(space={**config.space, "learning_rate": 1e30,
                                          "grad_clip": 0.0})
    optimize(config, sqlite_url, show_progress_bar=False)
    study = optuna.load_study(study_name=config.name, storage=sqlite_url)
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert failed and failed[0].user_attrs["error"].startswith("TrainingDiverged:")


def test_cli_optimize_and_optuna_trials_json(tmp_path, cli):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    done = cli("-q", "optimize", "studies/seeded-drift.toml", "--n-trials", "2",
               "--storage", url, "--study-name", "cli-drift", "--seed", "3",
               "--max-epochs", "4")
    assert done.returncode == 0, done.stderr
    assert "best trial per architecture" in done.stdout
    out = cli_optuna(tmp_path, url, "trials", "--study-name", "cli-drift", "-f", "json")
    rows = json.loads(out)
    # every architecture's [start] is queued (one stays WAITING), and with the
    # default --workers auto a second worker may finish one trial more
    states = sorted(r["state"] for r in rows)
    assert 3 <= len(rows) <= 4 and states.count("COMPLETE") in (2, 3), states
    assert set(states) <= {"COMPLETE", "WAITING"}
    assert {"architecture", "learning_rate", "rollout"} <= set(rows[0]["params"])
    assert {"val_mse", "test_mse", "val_nmse", "epochs", "train_seconds"} <= \
        set(rows[0]["user_attrs"])


def cli_optuna(tmp_path: Path, url: str, *args: str) -> str:
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("optuna")
    done = subprocess.run([str(exe), *args, "--storage", url], capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout


def test_unknown_space_parameter_is_refused():
    with pytest.raises(SeqtuneError, match="space.dropout: unknown parameter"):
        parse_config({"study": {"name": "x"}, "task": {"name": "seeded"},
                      "space": {"architecture": ["lstm"], "dropout": 0.1}}, "x.toml")

