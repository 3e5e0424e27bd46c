"""A third-party task registered through the ``seqtune.tasks`` entry point group:
a fake installed distribution on ``PYTHONPATH`` (a ``.dist-info`` folder and
its module), then ``seqtune optimize`` and ``seqtune report`` on it, nothing in
seqtune changed; a broken plugin is one line."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import optuna
import pytest

import seqtune

TINY = ["--n-trials", "1", "--max-epochs", "2", "--repeats", "0", "--workers", "1"]

TINYTASK = '''
"""A tiny classification task: the label is the first token."""
from typing import Any, ClassVar

import numpy as np

from seqtune.tasks import Split, Splits, Task


class TinyTask(Task):
    name: ClassVar[str] = "tiny"
    metric: ClassVar[str] = "accuracy"
    direction: ClassVar[str] = "maximize"
    model_kind = "classifier"

    def __init__(self, n: int = 24, seed: int = 0) -> None:
        self.n, self.seed = n, seed
        x = np.random.default_rng(seed).integers(0, 3, size=(3 * n, 4))
        self._splits = Splits(*(Split(x[i * n:(i + 1) * n], x[i * n:(i + 1) * n, 0])
                                for i in range(3)))

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "n": self.n, "seed": self.seed}

    def splits(self, **data_params: Any) -> Splits:
        return self._splits

    def model_spec(self) -> dict[str, Any]:
        return {"vocab_size": 3, "n_classes": 3}

    def metric_points(self, split: Split, predictions: np.ndarray) -> np.ndarray:
        labels = predictions.argmax(axis=1) if predictions.ndim == 2 else predictions
        return (labels == split.targets).astype(float)

    def score(self, split: Split, predictions: np.ndarray) -> dict[str, float]:
        return {"accuracy": float(self.metric_points(split, predictions).mean())}
'''

STUDY = '''
[study]
name = "tiny-study"
n_trials = 1

[task]
name = "tiny"
n = 24

[train]
max_epochs = 2
patience = 2

[space]
architecture = "gru"
hidden_size = 4
learning_rate = 0.01
batch_size = 8
'''


def install(site: Path, module: str, entry: str = "tiny = tinytask:TinyTask") -> Path:
    """A distribution ``tinytask 0.1`` in ``site``, as pip would leave it."""
    info = site / "tinytask-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinytask\nVersion: 0.1\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[seqtune.tasks]\n{entry}\n", encoding="utf-8")
    (site / "tinytask.py").write_text(textwrap.dedent(module), encoding="utf-8")
    return site


def _env(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site),
                                                        os.environ.get("PYTHONPATH")]))}


def test_a_task_from_an_entry_point_runs_a_study_and_a_report(tmp_path, cli):
    site = install(tmp_path / "site", TINYTASK)
    work = tmp_path / "work"
    work.mkdir()
    (work / "tiny.toml").write_text(STUDY, encoding="utf-8")
    result = cli("optimize", "tiny.toml", *TINY, cwd=work, env=_env(site))
    assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.load_study(study_name="tiny-study",
                              storage=f"sqlite:///{work / 'storage' / 'seqtune.db'}")
    assert study.user_attrs["task"] == {"name": "tiny", "n": 24, "seed": 0}
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
    result = cli("report", cwd=work, env=_env(site))
    assert result.returncode == 0, result.stderr[-3000:]
    page = work / "reports" / "study-tiny-study.html"
    assert page.is_file(), sorted(p.name for p in (work / "reports").iterdir())
    assert "tiny-study" in page.read_text(encoding="utf-8")
    assert "tiny-study" in (work / "reports" / "index.html").read_text(encoding="utf-8")


def test_without_the_plugin_the_task_is_unknown(tmp_path, cli):
    (tmp_path / "tiny.toml").write_text(STUDY, encoding="utf-8")
    result = cli("optimize", "tiny.toml", *TINY, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown task 'tiny'" in lines[0], lines
    assert "sequences" in lines[0]


@pytest.mark.parametrize(("module", "expected"), [
    ("import no_such_module_anywhere\n", ["tinytask:TinyTask", "no_such_module_anywhere"]),
    ("TinyTask = 42\n", ["not a seqtune.tasks.Task subclass"]),
], ids=["fails-to-import", "not-a-task"])
def test_a_broken_plugin_is_one_line_and_the_others_still_work(tmp_path, cli, module,
                                                               expected):
    site = install(tmp_path / "site", module)
    (tmp_path / "tiny.toml").write_text(STUDY, encoding="utf-8")
    result = cli("optimize", "tiny.toml", *TINY, cwd=tmp_path, env=_env(site))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and all(text in lines[0] for text in expected), lines
    assert "Traceback" not in result.stdout + result.stderr
    # a built-in task is unaffected: its help and study checks still run
    result = cli("optimize", "--help", cwd=tmp_path, env=_env(site))
    assert result.returncode == 0, result.stderr


BUILTIN = "seeded|rainfall|digitsum|sequences|forecast"
#: what a branch on a task looks like: a name compared, a class tested, a task's
#: module imported
BRANCHES = (re.compile(rf"""(==|!=)\s*["']({BUILTIN})["']|["']({BUILTIN})["']\s*(==|!=)"""),
            re.compile(r"isinstance\([^)]*(Seeded|Rainfall|DigitSum|Sequences|Forecast)Task"),
            re.compile(rf"^\s*from seqtune\.tasks\.({BUILTIN})\b", re.MULTILINE))


def test_the_core_never_branches_on_a_task():
    """Study, trainer, report, CLI, baselines: they call the task's hooks, so a
    new task changes no file outside its package and the registry (the Flux
    post-mortem is the seeded task's own experiment)."""
    package = Path(seqtune.__file__).parent
    core = [p for p in package.rglob("*.py")
            if p.relative_to(package).parts[0] not in ("tasks", "postmortem")]
    assert len(core) > 30
    found = [f"{p.relative_to(package)}: {m.group(0).strip()}" for p in core
             for pattern in BRANCHES for m in pattern.finditer(p.read_text(encoding="utf-8"))]
    assert found == []
    # the check itself sees a branch
    assert BRANCHES[0].search('if task["name"] == "rainfall":')
