"""seqtune beside the real ``optuna`` executable on one storage: a study made by
``optuna create-study`` is adopted (or refused with one line), ``optuna trials``
and ``optuna best-trial`` agree with what seqtune reports, and an ask/tell loop
runs through the shell with ``seqtune space`` and ``seqtune evaluate``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from seqtune.cli import app
from seqtune.cli._interop import full_params, task_settings
from seqtune.config import load_config
from seqtune.errors import SeqtuneError
from seqtune.space import distributions

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def optuna_cli(url: str, *args: str) -> str:
    """Run the real ``optuna`` command; its stdout (warnings go to stderr)."""
    done = subprocess.run([str(BIN / "optuna"), *args, "--storage", url], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_optuna_created_study_is_adopted_and_reads_back_the_same(tmp_path, cli):
    url = f"sqlite:///{tmp_path / 'interop.db'}"
    optuna_cli(url, "create-study", "--study-name", "made-by-optuna", "--direction", "minimize")
    done = cli("-q", "optimize", "studies/seeded-drift.toml", "--study-name", "made-by-optuna",
               "--storage", url, "--n-trials", "2", "--max-epochs", "1", "--workers", "1",
               "--json")
    assert done.returncode == 0, done.stderr
    reported = json.loads(done.stdout)

    listed = json.loads(optuna_cli(url, "trials", "--study-name", "made-by-optuna", "-f", "json"))
    best = json.loads(optuna_cli(url, "best-trial", "--study-name", "made-by-optuna", "-f",
                                 "json"))
    # the third architecture's [start] stays queued until the study is resumed
    assert [t["state"] for t in listed] == ["COMPLETE", "COMPLETE", "WAITING"]
    trials = listed[:2]
    by_number = {t["number"]: t for t in trials}
    assert len(reported) == len({t["params"]["architecture"] for t in trials})
    for row in reported:
        trial = by_number[row["trial"]]
        # seqtune names the objective after the metric, so optuna prints it by name
        assert trial["value"] == {"mse": row["val"]}
        assert row["val"] == trial["user_attrs"]["val_mse"]
        assert trial["user_attrs"]["test_mse"] == row["test"]
        assert trial["params"]["architecture"] == row["architecture"]
    assert best["number"] == reported[0]["trial"] == min(
        trials, key=lambda t: t["value"]["mse"])["number"]
    assert best["value"] == {"mse": reported[0]["val"]}

    study = optuna.load_study(study_name="made-by-optuna", storage=url)
    assert study.user_attrs["task"]["rule"] == "drift"  # adopted: seqtune's attrs written
    assert study.user_attrs["best_checkpoint"]["trial"] == best["number"]


def test_optuna_created_study_with_the_wrong_direction_is_refused(tmp_path, cli):
    url = f"sqlite:///{tmp_path / 'interop.db'}"
    optuna_cli(url, "create-study", "--study-name", "upside-down", "--direction", "maximize")
    db = tmp_path / "interop.db"
    before = db.read_bytes()
    done = cli("optimize", "studies/seeded-drift.toml", "--study-name", "upside-down",
               "--storage", url, "--n-trials", "1", "--max-epochs", "1")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "'upside-down'" in lines[0] and "direction maximize" in lines[0]
    assert "needs minimize" in lines[0]
    assert db.read_bytes() == before
    assert not (tmp_path / "artifacts").exists()


def test_ask_tell_loop_through_the_shell(tmp_path):
    url = f"sqlite:///{tmp_path / 'asktell.db'}"
    optuna_cli(url, "create-study", "--study-name", "asktell", "--direction", "minimize")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "OPTUNA_STORAGE": url}
    loop = ["bash", "scripts/ask-tell-example.sh", "seeded-drift", "asktell", "3",
            "--max-epochs", "1", "--set", "n_train=200"]  # evaluate options: keep it quick
    done = subprocess.run(loop, cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    printed = {}  # what `seqtune evaluate` printed, as the script echoes it
    for line in done.stdout.splitlines():
        number, value = line.removeprefix("trial ").split(": ")
        printed[int(number)] = float(value)

    trials = json.loads(optuna_cli(url, "trials", "--study-name", "asktell", "-f", "json"))
    assert [t["state"] for t in trials] == ["COMPLETE"] * 3
    assert {t["number"]: t["value"] for t in trials} == printed
    searched = set(distributions(load_config(REPO / "studies" / "seeded-drift.toml").space))
    for trial in trials:
        assert set(trial["params"]) == searched
        assert "user_attrs" not in trial  # evaluate wrote nothing to the study
        assert 0 < trial["value"] < 10


@pytest.mark.parametrize("command", ["optimize", "run", "space", "evaluate", "predict"])
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and "--help" in result.output


@pytest.mark.parametrize("text, message", [
    ("{architecture: lstm}", "--params: not valid JSON"),
    ('["lstm"]', "--params: expected a JSON object"),
    ('{"dropout": 0.1}', "--params: unknown parameter 'dropout'"),
    ('{"num_layers": 2}', "--params: num_layers is fixed to 1 in .*digitsum.toml, got 2"),
    ('{"architecture": "lstm", "hidden_size": 8, "learning_rate": 0.01, "batch_size": 16, '
     '"grad_clip": 1.0}', r"--params: hidden_size=8 is outside the study's space "
                          r"\(int 16..256 \(log\)\)"),
    ('{"architecture": "lstm"}', "--params: missing searched parameter"),
])
def test_evaluate_checks_params_against_the_study_space(text, message):
    config = load_config(REPO / "studies" / "digitsum.toml")
    with pytest.raises(SeqtuneError, match=message):
        full_params(config, text)


def test_evaluate_adds_fixed_values_and_picks_the_sweep_value():
    config = load_config(REPO / "studies" / "digitsum.toml")
    asked = {"architecture": "gru", "hidden_size": 20, "learning_rate": 0.002,
             "batch_size": 32, "grad_clip": 2.5, "weight_decay": 0.1}
    assert full_params(config, json.dumps(asked)) == {**asked, "num_layers": 1}
    assert task_settings(config, ["length=35"])["length"] == 35
    with pytest.raises(SeqtuneError, match=r"--set: .*digitsum.toml sweeps length over "
                                           r"\[5, 10, 15, 20, 25, 30, 35\]; pick one, e.g. "
                                           r"--set length=5"):
        task_settings(config, [])
    with pytest.raises(SeqtuneError, match="--set: unknown setting 'colour' of task digitsum"):
        task_settings(config, ["length=5", "colour=red"])
