"""A generated error matrix: drawn study files, CSV contents and command lines.

For every draw the real ``seqtune`` entry point (a forked process of
``cli_zygote.py``, bounded by a timeout) must either succeed (exit 0; with
``--json`` its stdout is JSON) or refuse with exactly one line on stderr and
exit status 2, leaving the storage folder as it was. Never a traceback
(``--debug`` aside, which may show one for a refusal), never a hang, and never
the storage password on either stream, ``--debug`` included. Draws are cheap:
tiny tasks, one trial of one epoch, no repeats; ``derandomize`` makes the
draws the same on every run.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_errors import REPO, Zygote, tree

SECRET = "Gen-Secret-9fQ2"
#: seconds a draw may take (one tiny trial) before it counts as a hang
TIMEOUT = 90
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)
QUICK = ["--max-epochs", "1", "--n-trials", "1", "--workers", "1", "--repeats", "0"]


@pytest.fixture(scope="module")
def zygote():
    helper = Zygote()
    yield helper
    helper.close()


def toml_value(value: Any) -> str:
    """``value`` as TOML (bool, int, float with nan/inf, str, list, inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml(doc: dict[str, dict[str, Any]]) -> str:
    return "".join(f"[{table}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in body.items())
                   for table, body in doc.items())


hostile = st.one_of(
    st.integers(-3, 40), st.sampled_from([0, -1, 2**33, 10**6, 1.5, 0.5, 2.0, 1e308,
                                          -0.1, math.nan, math.inf, "x", True]))
sizes = st.one_of(st.sampled_from([4, 8]), hostile)


@st.composite
def entries(draw: Any, values: st.SearchStrategy) -> Any:
    kind = draw(st.sampled_from(["fixed", "choices", "range"]))
    if kind == "fixed":
        return draw(values)
    if kind == "choices":
        return draw(st.lists(values, min_size=0, max_size=3))
    table = {"low": draw(values), "high": draw(values)}
    if draw(st.booleans()):
        table["log"] = draw(st.one_of(st.booleans(), hostile))
    if draw(st.booleans()):
        table["step"] = draw(hostile)
    return table


@st.composite
def study_files(draw: Any) -> str:
    task = draw(st.sampled_from(["seeded", "digitsum", "weather"]))
    task_table: dict[str, Any] = {"name": task}
    if task == "seeded":
        task_table.update(n_train=64, n_val=16, n_test=16,
                          horizon=draw(st.sampled_from([5, 3, 0, 2000, "x"])))
    elif task == "digitsum":
        task_table.update(mode="dense", n_train=64,
                          length=draw(st.sampled_from([5, 6, 2, 10**9, 7.5])))
    study: dict[str, Any] = {"name": "gen", "seed": draw(st.one_of(st.just(0), hostile))}
    study["sampler"] = draw(st.sampled_from(["RandomSampler", "TPESampler", "GridSampler",
                                             "BaseSampler", 3, "Nope"]))
    study["pruner"] = draw(st.sampled_from(["none", "MedianPruner", "PatientPruner", 1.5]))
    if draw(st.booleans()):
        study["sampler_args"] = {"n_startup_trials": draw(hostile)}
    if draw(st.booleans()):
        study["timeout"] = draw(st.one_of(st.just(30), hostile))
    space: dict[str, Any] = {"architecture": draw(st.one_of(
        st.sampled_from(["gru", "rnn", ["gru", "lstm"], "transformer", []]), hostile))}
    params = {"hidden_size": sizes, "num_layers": st.one_of(st.just(1), hostile),
              "learning_rate": st.one_of(st.just(0.01), hostile),
              "weight_decay": hostile, "batch_size": st.one_of(st.just(16), hostile),
              "grad_clip": hostile, "teacher_forcing": hostile, "rollout": hostile,
              "window": hostile}
    for name in draw(st.lists(st.sampled_from(sorted(params)), max_size=3, unique=True)):
        space[name] = draw(entries(params[name]))
    doc = {"study": study, "task": task_table, "space": space}
    if draw(st.booleans()):
        doc["start"] = {draw(st.sampled_from(sorted(params))): draw(sizes)}
    if task == "digitsum" and draw(st.booleans()):
        doc["sweep"] = {"length": draw(st.lists(st.sampled_from([5, 6, 10**9, -1]),
                                                max_size=2))}
    return toml(doc)


cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.sampled_from(["", "abc", "1e308", "-1.7e308", "NaN", "1,5", '"'
                                   , "\x00"]),
                  st.integers(-10**6, 10**6).map(str))


@st.composite
def csv_files(draw: Any) -> bytes:
    header = draw(st.sampled_from([["Date", "Precipitation"], ["Date", "Rain"],
                                   ["Precipitation", "Precipitation"], []]))
    rows = draw(st.lists(st.lists(cells, min_size=1, max_size=3), max_size=40))
    text = "\n".join([",".join(header), *(",".join(r) for r in rows)]) + "\n"
    raw = text.encode("utf-8", errors="surrogatepass")
    return raw + draw(st.sampled_from([b"", b"\xff\xfe", b"\n\n"]))


storages = st.sampled_from([
    "sqlite:///{dir}/db/seqtune.db",
    f"postgresql://seqtune:{SECRET}@127.0.0.1:1/x",
    f"postgresql+psycopg2://seqtune@127.0.0.1:1/x?password={SECRET}",
    f"postgresql://seqtune:{SECRET}@ret@127.0.0.1:1/x",
    f"postgresql://seqtune:{SECRET}@127.0.0.1:port/x",
    f"nosuchdb://seqtune:{SECRET}@h/x",
])


@st.composite
def options(draw: Any) -> list[str]:
    args: list[str] = []
    for option, values in [
        ("--seed", st.one_of(st.integers(-5, 2**40), st.just(0)).map(str)),
        ("--timeout", st.sampled_from(["nan", "inf", "-1", "0", "30", "x", "1e999"])),
        ("--n-trials", st.sampled_from(["-1", "0", "1", "x"])),
        ("--sampler", st.sampled_from(["RandomSampler", "GridSampler", "BaseSampler", "3"])),
        ("--pruner", st.sampled_from(["none", "PatientPruner", "HyperbandPruner"])),
        ("--workers", st.sampled_from(["1", "0", "x", "-2"])),
    ]:
        if draw(st.booleans()):
            args += [option, draw(values)]
    return args


class Draws:
    """Runs drawn command lines and checks what each must do."""

    def __init__(self, zygote: Zygote) -> None:
        self.zygote = zygote
        self.root = Path(tempfile.mkdtemp(prefix="seqtune-generated-"))
        self.count = 0
        self.statuses: dict[int, int] = {}

    def check(self, args: list[str], files: dict[str, bytes], storage: str) -> None:
        self.count += 1
        work = self.root / f"draw{self.count}"
        (work / "db").mkdir(parents=True)
        for name, content in files.items():
            (work / name).write_bytes(content)
        fill = {"dir": str(work)}
        argv = [a.format(**fill) for a in args] + ["--storage", storage.format(**fill)]
        debug = "--debug" in argv
        before = tree(work / "db")
        spec = {"args": argv, "cwd": str(work), "env": self.zygote.env, "timeout": TIMEOUT,
                "stdout": str(work / "out.txt"), "stderr": str(work / "err.txt")}
        (result,) = self.zygote.run([spec])
        self.statuses[result.get("status", -1)] = self.statuses.get(result.get("status", -1),
                                                                     0) + 1
        out, err = (work / "out.txt").read_text(), (work / "err.txt").read_text()
        shown = f"seqtune {' '.join(argv)}\n{(work / 'err.txt').read_text()[-3000:]}"
        assert not result.get("timed_out"), f"hung over {TIMEOUT} s: {shown}"
        assert SECRET not in out + err, f"password printed: {shown}"
        if result["status"] == 0:
            if "--json" in argv:
                json.loads(out)  # nothing but JSON on stdout
        elif debug:
            assert result["status"] in (1, 2), shown
        else:
            lines = err.strip().splitlines()
            assert result["status"] == 2 and len(lines) == 1, shown
            assert "Traceback" not in err, shown
            assert tree(work / "db") == before, f"storage changed: {shown}"
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def draws(zygote):
    runner = Draws(zygote)
    yield runner
    print(f"\ngenerated matrix: {runner.count} draws, exit statuses {runner.statuses}")
    shutil.rmtree(runner.root, ignore_errors=True)


@SETTINGS
@given(study=study_files(), debug=st.booleans(), as_json=st.booleans())
def test_drawn_study_files(draws, study, debug, as_json):
    draws.check([*(["--debug"] if debug else []), "optimize", "{dir}/study.toml", *QUICK,
                 *(["--json"] if as_json else [])], {"study.toml": study.encode()},
                "sqlite:///{dir}/db/seqtune.db")


@settings(SETTINGS, max_examples=10)
@given(csv=csv_files(), window=st.sampled_from([2, 3, 0, 5000]))
def test_drawn_csv_contents(draws, csv, window):
    study = toml({"study": {"name": "gen"}, "task": {"name": "rainfall", "val_size": 5,
                                                     "test_size": 5, "max_window": window},
                  "space": {"architecture": "gru", "hidden_size": 4, "window": 2}})
    draws.check(["optimize", "{dir}/study.toml", "--csv", "{dir}/data.csv", *QUICK],
                {"study.toml": study.encode(), "data.csv": csv},
                "sqlite:///{dir}/db/seqtune.db")


@settings(SETTINGS, max_examples=14)
@given(extra=options(), storage=storages, debug=st.booleans(),
       command=st.sampled_from(["optimize", "leaderboard", "predict", "report"]))
def test_drawn_command_lines(draws, extra, storage, debug, command):
    study = (REPO / "studies" / "seeded-drift.toml").read_text().replace(
        "[task]\n", "[task]\nn_train = 64\nn_val = 16\nn_test = 16\n", 1)
    drawn = set(extra[::2])
    defaults = [a for option, value in zip(QUICK[::2], QUICK[1::2], strict=True)
                if option not in drawn for a in (option, value)]
    args = {"optimize": ["optimize", "{dir}/study.toml", *defaults, *extra, "--json"],
            "leaderboard": ["leaderboard", "gen", "-f", "json"],
            "predict": ["predict", "gen", "--seq", "1,2,3,4,5"],
            "report": ["report", "--out", "{dir}/reports"]}[command]
    draws.check([*(["--debug"] if debug else []), *args], {"study.toml": study.encode()},
                storage)
