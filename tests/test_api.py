"""The Python API: seqtune.optimize / leaderboard / report / train_and_score, and the
README's "From Python" blocks run as written (budgets cut to one short trial)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
from test_own_data import readme_blocks, series, write_newest_first

import seqtune
from seqtune.errors import SeqtuneError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def work(tmp_path):
    """The README's study file and a newest-first ``my_series.csv`` in ``tmp_path``."""
    [toml] = [code for language, code in readme_blocks("Your own data") if language == "toml"]
    (tmp_path / "my-series.toml").write_text(toml, encoding="utf-8")
    write_newest_first(series(), tmp_path / "my_series.csv")
    return tmp_path


def shrink(code: str) -> str:
    """The README's budgets cut to one trial of two epochs."""
    code = re.sub(r"n_trials=\d+", "n_trials=1", code)
    return re.sub(r"max_epochs=\d+", "max_epochs=2", code)


def test_import_seqtune_loads_nothing_heavy():
    code = ("import sys, seqtune; print(' '.join(m for m in ('torch', 'optuna', 'pandas', "
            "'plotly', 'seqtune.api') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == ""


def test_the_api_names_and_the_report_subpackage_are_one():
    import seqtune.report as subpackage
    from seqtune.report import write_report

    assert seqtune.report is subpackage and subpackage.write_report is write_report
    assert callable(seqtune.report)
    from seqtune.study import train_and_score

    assert seqtune.train_and_score is train_and_score
    assert {"optimize", "leaderboard", "report", "train_and_score"} <= set(dir(seqtune))


def test_the_readme_from_python_blocks_run_as_written(work):
    blocks = [code for language, code in readme_blocks("From Python") if language == "python"]
    assert len(blocks) == 2
    checks = ["assert finished == [0], finished",
              "assert isinstance(board, __import__('pandas').DataFrame)",
              "assert set(board['name']) >= {'AutoReg(12)', 'seasonal naive'}, board",
              "assert (__import__('pathlib').Path('reports') / 'index.html').is_file()"]
    for code, extra in zip(blocks, ("\n".join(checks), "assert task.season_length == 12"),
                           strict=True):
        result = subprocess.run([sys.executable, "-c", shrink(code) + "\n" + extra],
                                cwd=work, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        # the in-memory storage: no heartbeat thread failing on its own empty database
        for sign in ("no such table", "Exception in thread", "Traceback"):
            assert sign not in result.stderr, result.stderr[-3000:]


def test_optimize_with_callbacks_overrides_and_a_file_storage(work, monkeypatch):
    monkeypatch.chdir(work)
    url = f"sqlite:///{work / 'api.db'}"
    seen: list[tuple[str, int]] = []
    study = seqtune.optimize("my-series.toml", storage=url, n_trials=1, max_epochs=2,
                             repeats=0, study_name="from-python", season=6,
                             callbacks=[lambda s, t: seen.append((s.study_name, t.number))])
    assert isinstance(study, optuna.Study) and seen == [("from-python", 0)]
    assert study.user_attrs["task"]["season"] == 6  # a task setting given as a keyword
    board = seqtune.leaderboard(study)
    assert isinstance(board, pd.DataFrame) and board.index.name == "rank"
    assert {"kind", "name", "val_mse", "test_mse", "notes"} <= set(board.columns)
    assert "AutoReg(6)" in set(board["name"]) and board.attrs["metric"] == "mse"
    by_name = seqtune.leaderboard("from-python", storage=url)
    pd.testing.assert_frame_equal(board, by_name)
    index = seqtune.report(url, work / "out")
    assert index == work / "out" / "index.html" and (work / "out" / "study-from-python.html"
                                                     ).is_file()
    # a rerun resumes the same study, with the next trial
    again = seqtune.optimize("my-series.toml", storage=url, n_trials=2, max_epochs=2,
                             repeats=0, study_name="from-python", season=6)
    assert len([t for t in again.trials if t.state.is_finished()]) == 2


def test_bad_api_input_is_one_seqtune_error(work, monkeypatch):
    monkeypatch.chdir(work)
    memory = "sqlite:///:memory:"
    before = [s.study_name for s in seqtune.study.open_storage(memory).get_all_studies()]
    with pytest.raises(SeqtuneError, match="neither a study field"):
        seqtune.optimize("my-series.toml", storage=memory, n_trial=1)
    with pytest.raises(SeqtuneError, match="a sweep of 7 studies"):
        seqtune.optimize(REPO / "studies" / "digitsum.toml", storage=memory)
    with pytest.raises(SeqtuneError, match="in-memory storage is private"):
        seqtune.optimize("my-series.toml", storage=memory, workers=2)
    with pytest.raises(SeqtuneError, match="storage: expected an Optuna RDB URL"):
        seqtune.optimize("my-series.toml", storage=optuna.storages.InMemoryStorage())
    with pytest.raises(SeqtuneError, match="callbacks: expected a list"):
        seqtune.optimize("my-series.toml", storage=memory, callbacks=print)
    write_newest_first(series().drop(index=40), work / "my_series.csv")
    with pytest.raises(SeqtuneError, match="a gap or uneven step after 2004-04-01"):
        seqtune.optimize("my-series.toml", storage=memory)
    # nothing written
    assert [s.study_name for s in seqtune.study.open_storage(memory).get_all_studies()] == before
