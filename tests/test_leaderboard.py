"""Baselines stored with the study (read back by Optuna's API and its CLI) and
``seqtune leaderboard`` built from them and the trials."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from seqtune.baselines import (
    ATTR,
    baselines_key,
    ensure_baselines,
    evaluate_baselines,
    stored_baselines,
)
from seqtune.blobs import get_blob, put_blob
from seqtune.cli._leaderboard import load_study
from seqtune.config import load_config
from seqtune.errors import SeqtuneError
from seqtune.study import leaderboard, optimize, prepare_study
from seqtune.study._refit import PROTOCOL, repeats_attr
from seqtune.study._summary import best_per_architecture
from seqtune.tasks import make_task

REPO = Path(__file__).resolve().parents[1]
LOGISTIC_ROWS = ["logistic regression, all positions", "logistic regression, selected positions"]
TINY = {"n_trials": 2, "max_epochs": 3, "patience": 3, "timeout": None}


def study_config(name: str, **overrides):
    return load_config(REPO / "studies" / f"{name}.toml").with_overrides(**{**TINY, **overrides})


@pytest.fixture(scope="module")
def digitsum_study(tmp_path_factory) -> tuple[str, optuna.Study]:
    """A tiny real study: two trials of the book's DigitSum at L = 5."""
    url = f"sqlite:///{tmp_path_factory.mktemp('lb') / 'studies.db'}"
    (config,) = study_config("digitsum", sweep={"length": [5]}, max_epochs=2).expand()
    return url, optimize(config, url, show_progress_bar=False)


def test_baselines_are_stored_and_read_back_by_optuna_and_its_cli(digitsum_study):
    url, study = digitsum_study
    task = make_task(study.user_attrs["task"])
    expected = [r.to_dict() for r in evaluate_baselines(task)]

    storage = optuna.storages.get_storage(url)  # Optuna alone reads them back
    stored = storage.get_study_system_attrs(storage.get_study_id_from_name(study.study_name))
    assert stored[f"seqtune:{ATTR}"] == {"key": baselines_key(task), "results": expected}
    assert [r["name"] for r in expected] == ["majority class", *LOGISTIC_ROWS]

    listed = subprocess.run(
        [str(Path(sys.executable).with_name("optuna")), "studies", "--storage", url,
         "-f", "json"], capture_output=True, text=True, check=True, timeout=120)
    (entry,) = [s for s in json.loads(listed.stdout) if s["name"] == study.study_name]
    assert ATTR not in entry["user_attrs"]  # out of `optuna studies`' table


def test_baselines_are_computed_once_per_task_config_and_data(sqlite_url):
    config = study_config("seeded-ar2")
    study, task = prepare_study(config, sqlite_url)
    first = ensure_baselines(study, task)
    assert first == [r.to_dict() for r in evaluate_baselines(task)]
    # a matching key returns what is stored, without recomputing
    marked = [{**r, "note": "stored"} for r in first]
    put_blob(study, ATTR, {"key": baselines_key(task), "results": marked})
    assert ensure_baselines(study, task) == marked
    # a key from other data is recomputed and replaced
    put_blob(study, ATTR, {"key": {**baselines_key(task), "data_fingerprint": "old"},
                           "results": marked})
    assert ensure_baselines(study, task) == first
    assert get_blob(optuna.load_study(study_name=config.name, storage=sqlite_url), ATTR)[
        "key"] == baselines_key(task)


def test_baselines_stored_as_a_user_attr_by_earlier_versions_are_still_read(sqlite_url):
    study, task = prepare_study(study_config("seeded-ar2"), sqlite_url)
    marked = [{"name": "old", "val": {}, "test": {}, "note": "stored before"}]
    study.set_user_attr(ATTR, {"key": baselines_key(task), "results": marked})
    assert stored_baselines(study) == marked == ensure_baselines(study, task)


def test_leaderboard_ranks_tuned_models_with_every_baseline(digitsum_study, cli):
    url, study = digitsum_study
    done = cli("leaderboard", study.study_name, "--storage", url, "--format", "json")
    assert done.returncode == 0, done.stderr
    board = json.loads(done.stdout)
    rows = board["rows"]
    assert board["metric"] == "accuracy" and board["direction"] == "maximize"
    tuned = {t.params["architecture"] for t in study.trials
             if t.state == optuna.trial.TrialState.COMPLETE}
    assert {r["name"] for r in rows if r["kind"] == "tuned model"} == tuned
    assert {r["name"] for r in rows if r["kind"] == "baseline"} == {"majority class",
                                                                    *LOGISTIC_ROWS}
    assert [r["val_accuracy"] for r in rows] == sorted((r["val_accuracy"] for r in rows),
                                                       reverse=True)
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    # the verdict names exactly the baselines that beat the val-picked model on test
    pick = next(r for r in rows if r["kind"] == "tuned model")
    winners = [r["name"] for r in rows if r["kind"] == "baseline"
               and r["test_accuracy"] > pick["test_accuracy"]]
    verdict = board["notes"][0]
    assert f"picked on val, {pick['name']}" in verdict
    assert all(w in verdict for w in winners)
    assert ("beats every baseline" in verdict) == (not winners)


def test_a_repeats_interval_stays_within_what_accuracy_can_take(digitsum_study, tmp_path):
    """Five seeds at 0.99-1.0: the t interval's upper end (1.004) is cut to 1."""
    url, study = digitsum_study
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    optuna.copy_study(from_study_name=study.study_name, from_storage=url, to_storage=copy)
    study = optuna.load_study(study_name=study.study_name, storage=copy)
    best = best_per_architecture(study)[0]
    put_blob(study, repeats_attr(best["architecture"]),
             {"trial": best["trial"], "protocol": PROTOCOL, "epochs": 2,
              "seeds": [0, 1, 2, 3, 4], "test_accuracy": [1.0, 1.0, 0.99, 1.0, 1.0]})
    row = next(r for r in leaderboard(study).rows if r["name"] == best["architecture"])
    low, high = row["repeats"]["interval"]["accuracy"]
    assert row["test"]["accuracy"] == pytest.approx(0.998) and 0.99 < low < 0.998
    assert high == 1.0 and f"95 % interval {low:.4g} .. 1" in row["note"]
    assert f"95 % interval {low:.4g} .. 1.0" not in row["note"]


def test_leaderboard_formats_agree(digitsum_study):
    board = leaderboard(digitsum_study[1])
    table = list(csv.reader(io.StringIO(board.to_csv())))
    assert table[0] == board.columns() == ["rank", "kind", "name", "val_accuracy",
                                           "test_accuracy", "notes"]
    assert len(table) == len(board.rows) + 1
    markdown = board.to_markdown().splitlines()
    assert markdown[2] == "| " + " | ".join(board.columns()) + " |"
    assert all(f"- {note}" in markdown for note in board.notes)


def test_terminal_table_prints_notes_verbatim(digitsum_study, cli):
    """Square brackets in notes (a_s[d1]) are text, not terminal markup."""
    url, study = digitsum_study
    done = cli("leaderboard", study.study_name, "--storage", url, env={"COLUMNS": "400"})
    assert done.returncode == 0, done.stderr
    selected = next(r for r in leaderboard(study).records()
                    if r["name"] == "logistic regression, selected positions")
    assert "a_s[d1] + b_s[d2]" in selected["notes"]
    assert f"{selected['rank']}. {selected['name']}: {selected['notes']}" in done.stdout


def test_leaderboard_says_when_a_baseline_is_exact_and_when_fits_differ(sqlite_url):
    seeded, task = prepare_study(study_config("seeded-drift"), sqlite_url)
    ensure_baselines(seeded, task)
    board = leaderboard(seeded)
    assert board.rows[0]["name"] == "least squares" and board.rows[0]["note"].startswith("exact")
    assert board.notes == ("no complete trial yet: the table holds baselines only",)

    rainfall, task = prepare_study(study_config("rainfall"), sqlite_url)
    ensure_baselines(rainfall, task)
    notes = leaderboard(rainfall).notes
    refit = next(n for n in notes if n.startswith("fitted on train+val before their test"))
    for name in ("AutoReg(12)", "AutoReg(BIC)", "seasonal mean", "ridge"):
        assert name in refit
    assert "persistence" not in refit and "train only" in refit


def test_leaderboard_of_an_unknown_study_is_one_line_and_writes_nothing(digitsum_study, cli,
                                                                       tmp_path):
    url, _ = digitsum_study
    done = cli("leaderboard", "no-such-study", "--storage", url)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "'no-such-study' not found" in done.stderr
    missing = tmp_path / "typo.db"
    with pytest.raises(SeqtuneError, match="does not exist"):
        load_study("seeded-drift", f"sqlite:///{missing}")
    assert not missing.exists()
