"""Hostile storages that must run cleanly: stored names never used as paths, strict
JSON out of non-finite weights, a report that skips (and lists) what it cannot
read, a trial left RUNNING by a dead process. (Those that must be refused in one
line are in ``test_errors.py``.)

One small seqtune study is made once; each case edits a copy of its folder and
runs the real entry point on it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import optuna
import pytest
import torch
from test_errors import Zygote
from test_foreign_studies import TINY

from seqtune import jsontext


@pytest.fixture(scope="module")
def made(tmp_path_factory, zygote) -> Path:
    """A folder with ``seqtune.db`` (study ``tiny``: trials, repeats, a checkpoint)."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "tiny.toml").write_text(TINY)
    (result,) = zygote.run([{"args": ["-q", "optimize", str(folder / "tiny.toml"), "--repeats",
                                      "1", "--workers", "1", "--storage", _url(folder)],
                             "env": zygote.env, "cwd": str(folder),
                             "stdout": str(folder / "out"), "stderr": str(folder / "err")}])
    assert result["status"] == 0, (folder / "err").read_text()
    return folder


def _url(folder: Path) -> str:
    return f"sqlite:///{folder / 'seqtune.db'}"


def _copy(made: Path, tmp_path: Path) -> tuple[Path, optuna.Study]:
    folder = tmp_path / "db"
    shutil.copytree(made, folder)
    return folder, optuna.load_study(study_name="tiny", storage=_url(folder))


def _cli(zygote: Zygote, folder: Path, *args: str, timeout: float = 120
         ) -> tuple[int, str, str]:
    out, err = folder.parent / "out.txt", folder.parent / "err.txt"
    (result,) = zygote.run([{"args": [*args, "--storage", _url(folder)], "env": zygote.env,
                             "cwd": str(folder.parent), "timeout": timeout,
                             "stdout": str(out), "stderr": str(err)}])
    assert not result.get("timed_out"), f"hung over {timeout} s: {err.read_text()[-2000:]}"
    return result["status"], out.read_text(), err.read_text()


def _strict(text: str) -> dict:
    """``text`` as JSON that any reader takes: no NaN, Infinity or -Infinity."""
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("filename", ["/{outside}/written.pt",
                                      "../../../../../../../../{outside}/written.pt"])
def test_a_stored_checkpoint_file_name_is_never_a_path(made, zygote, tmp_path, filename):
    folder, study = _copy(made, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    record = study.user_attrs["best_checkpoint"]
    study.set_user_attr("best_checkpoint", {**record, "filename": filename.format(
        outside=str(outside).lstrip("/"))})
    status, out, err = _cli(zygote, folder, "predict", "tiny", "--seq", "0.1,0.2,0.3,0.4,0.5",
                            "-f", "json")
    assert status == 0, err
    assert _strict(out)["predictions"]
    assert not list(outside.iterdir()), "predict wrote outside its folder"


@pytest.mark.parametrize("weight", [float("nan"), float("inf")])
def test_json_output_stays_strict_with_non_finite_predictions(made, zygote, tmp_path, weight):
    folder, study = _copy(made, tmp_path)
    path = folder / "artifacts" / study.user_attrs["best_checkpoint"]["artifact_id"]
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["state_dict"] = {k: torch.full_like(v, weight)
                                for k, v in checkpoint["state_dict"].items()}
    torch.save(checkpoint, path)
    status, out, err = _cli(zygote, folder, "predict", "tiny", "--seq", "0.1,0.2,0.3,0.4,0.5",
                            "-f", "json")
    assert status == 0, err
    values = _strict(out)["predictions"][0]["prediction"]
    assert values and all(v is None for v in values)  # non-finite: null, as pandas writes it


def test_strict_json_turns_every_non_finite_number_into_null():
    nested = {"a": [1.0, float("nan"), {"b": float("inf")}], "c": (float("-inf"), 2), "d": "x"}
    assert json.loads(jsontext.dumps(nested)) == {"a": [1.0, None, {"b": None}],
                                                  "c": [None, 2], "d": "x"}


def test_report_skips_and_lists_the_studies_it_cannot_read(made, zygote, tmp_path):
    folder, study = _copy(made, tmp_path)
    url = _url(folder)
    multi = optuna.create_study(study_name="two-objectives", storage=url,
                                directions=["minimize", "maximize"])
    multi.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=2)
    optuna.copy_study(from_study_name="tiny", from_storage=url, to_storage=url,
                      to_study_name="edited")
    optuna.load_study(study_name="edited", storage=url).set_user_attr("metric", ["mse"])
    status, out, err = _cli(zygote, folder, "report", "--out", str(tmp_path / "reports"))
    assert status == 0, err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 2 and "Traceback" not in err
    assert "study 'two-objectives' has 2 objectives" in warnings[1 - ("edited" in warnings[1])]
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "Studies not shown" in index and "stored attr &#39;metric&#39;" in index
    assert (tmp_path / "reports" / "study-tiny.html").is_file()
    assert not (tmp_path / "reports" / "study-edited.html").exists()


def test_a_trial_left_running_without_a_heartbeat_neither_counts_nor_blocks(
        made, zygote, tmp_path):
    """``optuna ask`` (or a process that died with heartbeats off) leaves a RUNNING
    trial that no worker will ever fail: waiting for it hung ``optimize``."""
    folder, study = _copy(made, tmp_path)
    done = len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    orphan = study.ask()
    with sqlite3.connect(folder / "seqtune.db") as db:  # asked an hour ago
        db.execute("UPDATE trials SET datetime_start = datetime(datetime_start, '-1 hour') "
                   "WHERE trial_id = ?", (orphan._trial_id,))
    (folder.parent / "tiny.toml").write_text(TINY.replace('n_trials = 2', 'n_trials = 4'))
    status, _, err = _cli(zygote, folder, "-q", "optimize", str(folder.parent / "tiny.toml"),
                          "--repeats", "0", "--workers", "1", timeout=90)
    assert status == 0, err
    assert f"trial(s) {orphan.number} RUNNING without a heartbeat" in err
    study = optuna.load_study(study_name="tiny", storage=_url(folder))
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 4 > done
    assert study.trials[orphan.number].state == optuna.trial.TrialState.RUNNING  # left alone


def test_only_an_old_trial_that_never_had_a_heartbeat_is_abandoned(made, tmp_path):
    """A trial with a heartbeat (a worker busy elsewhere), or one just started, still
    counts and is waited for."""
    from seqtune.study._optimize import abandoned_trials
    from seqtune.study._storage import open_storage

    folder, _ = _copy(made, tmp_path)
    study = optuna.load_study(study_name="tiny", storage=open_storage(_url(folder)))
    young, beating, old = study.ask(), study.ask(), study.ask()
    with sqlite3.connect(folder / "seqtune.db") as db:
        db.executemany("UPDATE trials SET datetime_start = datetime(datetime_start, '-1 hour') "
                       "WHERE trial_id = ?", [(beating._trial_id,), (old._trial_id,)])
    study._storage.record_heartbeat(beating._trial_id)
    assert [t.number for t in abandoned_trials(study)] == [old.number]
    assert young.number not in [t.number for t in abandoned_trials(study)]
