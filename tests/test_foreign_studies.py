"""Studies seqtune did not make never crash a command.

One storage holds a small seqtune study (plus one trial told into it by
``optuna tell``), an ask/tell study made with the real ``optuna`` CLI, an
``optuna create-study`` study with no trials and a post-mortem grid.
``leaderboard``, ``predict`` and ``report`` either answer sensibly or refuse
with one line and exit status 2: never a traceback, never a row named ``?``,
"None epochs" or "better than every baseline" without baselines.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from optuna.distributions import distribution_to_json
from test_errors import Zygote

from seqtune.config import load_config
from seqtune.space import distributions

REPO = Path(__file__).resolve().parents[1]
OPTUNA = str(Path(sys.executable).with_name("optuna"))
TINY = """
[study]
name = "tiny"
n_trials = 2
sampler = "RandomSampler"
pruner = "none"

[task]
name = "seeded"
rule = "drift"
n_train = 200

[train]
max_epochs = 2
patience = 2

[space]
architecture = ["gru"]
hidden_size = 16
num_layers = 1
learning_rate = { low = 1e-3, high = 1e-2, log = true }
batch_size = 128
grad_clip = 1.0
teacher_forcing = 0.0
rollout = 5
"""
FOREIGN = ("asktell", "empty")
POSTMORTEM = "postmortem-cap1-drift"


def optuna_cli(url: str, *args: str) -> str:
    done = subprocess.run([OPTUNA, *args, "--storage", url], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done.stdout


def ask_and_tell(url: str, study: str, space: str | None, value: float) -> None:
    """One ``optuna ask`` and ``optuna tell`` round, as a shell loop does it."""
    asked = json.loads(optuna_cli(url, "ask", "--study-name", study, "-f", "json",
                                  *(["--search-space", space] if space else [])))
    optuna_cli(url, "tell", "--study-name", study, "--trial-number", str(asked["number"]),
               "--values", str(value))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, zygote) -> tuple[Path, str]:
    """The folder and URL of a storage holding every kind of study (about 25 s)."""
    base = tmp_path_factory.mktemp("mixed")
    url = f"sqlite:///{base / 'mixed.db'}"
    (base / "tiny.toml").write_text(TINY)
    runs = [["optimize", str(base / "tiny.toml"), "--repeats", "1", "--workers", "1"],
            ["postmortem", "--rule", "drift", "--max-epochs", "1", "--seeds", "1",
             "--draws", "1", "--no-factorial", "--workers", "1"]]
    results = zygote.run([{"args": ["-q", *args, "--storage", url], "env": zygote.env,
                           "cwd": str(REPO), "stdout": str(base / f"out{i}"),
                           "stderr": str(base / f"err{i}")} for i, args in enumerate(runs)],
                         parallel=2)
    for i, result in enumerate(results):
        assert result["status"] == 0, (base / f"err{i}").read_text()
    space = json.dumps({name: json.loads(distribution_to_json(dist)) for name, dist in
                        distributions(load_config(REPO / "studies/seeded-drift.toml").space)
                        .items()})
    for name in FOREIGN:
        optuna_cli(url, "create-study", "--study-name", name, "--direction", "minimize")
    ask_and_tell(url, "asktell", space, 0.25)
    ask_and_tell(url, "tiny", None, 0.001)  # a told trial inside a seqtune study
    return base, url


def run_all(zygote: Zygote, base: Path, commands: list[list[str]]
            ) -> list[tuple[int, str, str]]:
    cases = [{"args": args, "env": zygote.env, "cwd": str(REPO), "timeout": 120,
              "stdout": str(base / f"cmd{i}.out"), "stderr": str(base / f"cmd{i}.err")}
             for i, args in enumerate(commands)]
    results = zygote.run(cases, parallel=2)
    return [(r["status"], Path(c["stdout"]).read_text(), Path(c["stderr"]).read_text())
            for r, c in zip(results, cases, strict=True)]


NONSENSE = ("None epochs", "Traceback", "│ ?", " ? ", "trial 0, None")


def test_leaderboard_and_predict_answer_or_refuse_in_one_line(mixed, zygote):
    base, url = mixed
    names = ["tiny", *FOREIGN, POSTMORTEM]
    commands = [[command, name, "--storage", url, *extra] for name in names
                for command, extra in (("leaderboard", []), ("leaderboard", ["-f", "json"]),
                                       ("predict", ["--seq", "0.1 0.2 0.3 0.4 0.5"]))]
    for args, (status, out, err) in zip(commands, run_all(zygote, base, commands),
                                        strict=True):
        shown = f"{args[:2]}: exit {status}\n{out}\n{err}"
        assert not any(bad in out + err for bad in NONSENSE), shown
        if args[1] == "tiny":
            assert status == 0, shown
            continue
        assert status == 2 and out == "", shown
        assert len(err.strip().splitlines()) == 1, shown
        assert ("post-mortem grid" if args[1] == POSTMORTEM else "holds no seqtune results") \
            in err, shown
    board = json.loads(run_all(zygote, base, [["leaderboard", "tiny", "--storage", url,
                                               "-f", "json"]])[0][1])
    assert [r["name"] for r in board["rows"] if r["kind"] == "tuned model"] == ["gru"]
    assert any("1 complete trial without seqtune's metrics" in n for n in board["notes"])


def page_text(path: Path) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", path.read_text(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def test_report_renders_every_kind_of_study(mixed, zygote):
    base, url = mixed
    out = base / "report"
    (status, _, err), = run_all(zygote, base, [["report", "--storage", url, "--out",
                                                str(out)]])
    assert status == 0, err
    pages = {p.name: page_text(p) for p in out.glob("*.html")}
    assert set(pages) == {"index.html", "postmortem.html", "study-tiny.html",
                          "study-asktell.html", "study-empty.html"}
    for name, text in pages.items():
        assert not any(bad in text for bad in ("None epochs", "trial 0, None", " ? ", "null")), \
            name
        if "no baselines stored" in text:
            assert "better than every baseline" not in text, name
    index = pages["index.html"]
    for name in FOREIGN:
        assert f"{name} none stored (not made by seqtune)" in index
    assert "Task: none stored (not made by seqtune)" in pages["study-asktell.html"]
    assert POSTMORTEM in pages["postmortem.html"]


#: widest line ``optuna studies`` may print. Its fixed columns (name, direction,
#: n_trials, datetime_start, borders) take about 80 characters; the user attrs
#: keep identifiers only: the task config (up to ~230 for a rainfall CSV with
#: exogenous columns), metric, data fingerprint, version and the best
#: checkpoint's pointer. Blobs (baselines, repeats, verdicts, post-mortem
#: settings and text: kilobytes each) go to :mod:`seqtune.blobs`.
STUDIES_LINE = 512


def test_optuna_studies_table_stays_readable(mixed):
    _, url = mixed
    lines = optuna_cli(url, "studies").splitlines()
    widths = {line.split("|")[1].strip(): len(line) for line in lines if line.startswith("| ")}
    print(f"\n`optuna studies` line widths: {widths}")
    assert {"tiny", POSTMORTEM, *FOREIGN} <= set(widths)
    assert max(len(line) for line in lines) <= STUDIES_LINE
