"""CLI options across commands: ``-f json`` is JSON on stdout (and the hidden
``--json`` the same), ``--set``/``--target`` reach the study's task, and a bad
setting is one line, exit 2, with the storage untouched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import optuna
import pytest
from conftest import REPO, run_cli

DRIFT = str(REPO / "studies" / "seeded-drift.toml")
RAIN = str(REPO / "studies" / "rainfall.toml")
#: a tiny seeded study: seconds, not minutes
TINY = ("--n-trials", "1", "--max-epochs", "2", "--repeats", "0", "--workers", "1",
        "--set", "n_train=50", "--set", "n_val=20", "--set", "n_test=20")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    """One tiny study, made with -f json and without -q."""
    folder = tmp_path_factory.mktemp("options")
    url = f"sqlite:///{folder / 'seqtune.db'}"
    done = run_cli("optimize", DRIFT, "--storage", url, *TINY, "-f", "json", timeout=300)
    assert done.returncode == 0, done.stderr
    return {"url": url, "db": folder / "seqtune.db", "stdout": done.stdout}


def test_optimize_format_json_is_json_and_stdout_holds_nothing_else(tiny):
    rows = json.loads(tiny["stdout"])  # not one progress or log line besides
    assert [r["study"] for r in rows] == ["seeded-drift"]
    assert {"architecture", "trial", "metric", "val", "test", "epochs"} <= set(rows[0])


def test_set_reaches_the_stored_task(tiny):
    study = optuna.load_study(study_name="seeded-drift", storage=tiny["url"])
    task = study.user_attrs["task"]
    assert (task["n_train"], task["n_val"], task["n_test"]) == (50, 20, 20)


def test_space_format_json_equals_the_hidden_json_alias():
    new, old = run_cli("space", "seeded-drift", "-f", "json"), \
        run_cli("space", "seeded-drift", "--json")
    assert new.returncode == old.returncode == 0, new.stderr + old.stderr
    assert json.loads(new.stdout) == json.loads(old.stdout)
    assert json.loads(new.stdout)["architecture"]["name"] == "CategoricalDistribution"
    table = run_cli("space", "seeded-drift", "-f", "table")
    with pytest.raises(json.JSONDecodeError):
        json.loads(table.stdout)


def test_format_refuses_an_unknown_format_in_one_line():
    done = run_cli("space", "seeded-drift", "-f", "yaml")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "'yaml' is not one of 'table', 'json'" in done.stderr


@pytest.mark.parametrize("args, expect", [
    (("--set", "nope=1"), "--set: unknown setting 'nope' of task seeded"),
    (("--set", "n_train"), "--set: expected KEY=VALUE"),
    (("--set", "n_train=0"), "task.n_train: expected an integer"),
    (("--target", "Precipitation"), "--target: unknown setting 'target' of task seeded"),
])
def test_a_bad_setting_is_one_line_exit_2_and_the_storage_is_unchanged(tiny, args, expect):
    before = digest(tiny["db"])
    done = run_cli("optimize", DRIFT, "--storage", tiny["url"], *TINY, *args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and expect in lines[0], done.stderr
    assert done.stdout == "" and digest(tiny["db"]) == before


def test_target_is_the_forecast_column(tmp_path, shared_data):
    url = f"sqlite:///{tmp_path / 'rain.db'}"
    done = run_cli("optimize", RAIN, "--storage", url, "--csv",
                   str(shared_data / "Rainfall_data.csv"), "--target", "Nope")
    assert done.returncode == 2 and "missing column 'Nope'" in done.stderr, done.stderr
    assert not (tmp_path / "rain.db").exists()


def test_set_picks_one_value_of_a_sweep(tmp_path):
    """digitsum sweeps length: --set length=5 runs the one study digitsum-L5."""
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    done = run_cli("-q", "optimize", str(REPO / "studies" / "digitsum.toml"), "--storage", url,
                   "--n-trials", "1", "--max-epochs", "1", "--repeats", "0", "--workers", "1",
                   "--set", "length=5", "-f", "json", timeout=300)
    assert done.returncode == 0, done.stderr
    assert optuna.get_all_study_names(url) == ["digitsum-L5"]
    assert [r["study"] for r in json.loads(done.stdout)] == ["digitsum-L5"]


def test_run_refuses_a_setting_no_study_has(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    done = run_cli("run", "--set", "nope=1", "--storage", url)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "--set: no study here has a task setting 'nope'" in lines[0]
    assert not (tmp_path / "run.db").exists()
