"""Progress of ``postmortem`` and ``run`` on stderr (which study or configuration,
how many left, time elapsed); stdout keeps the results only; ``-q`` silences it."""

from __future__ import annotations

import re

from conftest import run_cli

from seqtune.cli._app import state
from seqtune.cli._postmortem import JobProgress

TINY_STUDY = """
[study]
name = "{name}"
n_trials = 1
sampler = "RandomSampler"
pruner = "none"

[task]
name = "seeded"
rule = "drift"
n_train = 50
n_val = 20
n_test = 20

[train]
max_epochs = 2
patience = 2

[space]
architecture = ["gru"]
hidden_size = 8
num_layers = 1
learning_rate = 0.01
batch_size = 32
grad_clip = 1.0
teacher_forcing = 0.0
rollout = 5
"""
JOB_LINE = re.compile(r"^post-mortem: job (\d+)/(\d+) done \(drift, draw 0: (.+)\); (\d+) left, "
                      r"\d+ s elapsed$")


def test_postmortem_reports_each_finished_job_on_stderr(tmp_path):
    done = run_cli("postmortem", "--rule", "drift", "--max-epochs", "1", "--seeds", "1",
                   "--no-factorial", "--workers", "1",
                   "--storage", f"sqlite:///{tmp_path / 'pm.db'}", timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [m for line in done.stderr.splitlines() if (m := JOB_LINE.match(line))]
    total = int(lines[0][2])
    assert [int(m[1]) for m in lines] == list(range(1, total + 1))
    assert [int(m[4]) for m in lines] == list(range(total - 1, -1, -1))
    names = " / ".join(m[3] for m in lines).split(" / ")
    assert {"original", "all-fixes", "tuned"} <= set(names)
    assert "post-mortem: job" not in done.stdout and "rule drift" in done.stdout


def test_quiet_silences_the_postmortem_progress(capsys, monkeypatch):
    monkeypatch.setitem(state, "quiet", True)
    bar = JobProgress()
    bar("drift, draw 0: original", 1, 2)
    bar.close()
    assert capsys.readouterr() == ("", "")
    monkeypatch.setitem(state, "quiet", False)
    JobProgress()("drift, draw 0: original", 1, 2)
    out, err = capsys.readouterr()
    assert out == "" and "job 1/2 done (drift, draw 0: original); 1 left" in err


def test_run_says_which_study_how_many_left_and_time_on_stderr_only(tmp_path):
    studies = tmp_path / "studies"
    studies.mkdir()
    for name in ("tiny-a", "tiny-b"):
        (studies / f"{name}.toml").write_text(TINY_STUDY.format(name=name))
    args = ("run", "--studies", str(studies), "--storage", f"sqlite:///{tmp_path / 'r.db'}",
            "--workers", "1", "--repeats", "0")
    done = run_cli(*args, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("run: ")]
    assert re.match(r"run: study 1/2 tiny-a \(1 trial; 1 study left; \d+ s elapsed\)",
                    progress[0]), progress
    assert progress[1].startswith("run: study 2/2 tiny-b (1 trial; 0 studies left;")
    assert progress[-1].startswith("run: report (")
    assert "run: " not in done.stdout and "best trial per task" in done.stdout
    assert re.search(r"done in \d+ s \(tiny-a \d+ s, tiny-b \d+ s, leaderboards \d+ s, "
                     r"post-mortem \d+ s, report \d+ s\); storage ", done.stdout), done.stdout
    assert (tmp_path / "reports" / "index.html").is_file()
    quiet = run_cli("-q", *args, cwd=tmp_path, timeout=300)
    assert quiet.returncode == 0 and "run: " not in quiet.stderr, quiet.stderr

