"""DESIGN.md "Errors" as one table: every bad input, through the real CLI.

Each case is a fresh ``seqtune`` process (see ``cli_zygote.py``) against a
storage that already holds a finished study: an SQLite copy of its own, or
the live PostgreSQL server. Each must give exit status 2, exactly one line on
stderr with the expected phrase, no traceback, no password, and leave the
storage as it was: the SQLite folder byte for byte (no new files either), the
PostgreSQL database study for study, trial for trial.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from pg_server import PASSWORD, free_port, trial_rows

REPO = Path(__file__).resolve().parents[1]
STUDIES = REPO / "studies"
AS_NOBODY = "nobody" if os.geteuid() == 0 else None  # root ignores file permissions

TOML = {
    "malformed": "[study\nname=",
    "unknown_table": '[study]\nname="x"\n[task]\nname="seeded"\n[space]\narchitecture="gru"\n'
                     "[optimizer]\nname=1\n",
    "unknown_key": '[study]\nname="x"\nnme="y"\n[task]\nname="seeded"\n[space]\n'
                   'architecture="gru"\n',
    "unknown_task": '[study]\nname="x"\n[task]\nname="weather"\n[space]\narchitecture="gru"\n',
}
SEEDED = '[study]\nname="x"\n{study}[task]\nname="seeded"\n[train]\n{train}[space]\n{space}'
for key, study, train, space in [
    ("unknown_architecture", "", "", 'architecture=["lstm","transformer"]\n'),
    ("unknown_sampler", 'sampler="Nope"\n', "", 'architecture="gru"\n'),
    ("unknown_pruner", 'pruner="Nope"\n', "", 'architecture="gru"\n'),
    ("inverted_bounds", "", "", 'architecture="gru"\nhidden_size={low=64,high=8}\n'),
    ("empty_choices", "", "", 'architecture="gru"\nbatch_size=[]\n'),
    ("empty_range", "", "", 'architecture="gru"\nrollout={low=1,high=4,step=2}\n'),
    ("missing_bound", "", "", 'architecture="gru"\nlearning_rate={low=0.001}\n'),
    ("zero_size", "", "", 'architecture="gru"\nhidden_size=0\n'),
    ("unknown_parameter", "", "", 'architecture="gru"\ndropout=0.1\n'),
    ("zero_trials", "n_trials=0\n", "", 'architecture="gru"\n'),
    ("negative_epochs", "", "max_epochs=-1\n", 'architecture="gru"\n'),
]:
    TOML[key] = SEEDED.format(study=study, train=train, space=space)
for key, study, train, space in [
    ("grid_sampler", 'sampler="GridSampler"\n', "", 'architecture="gru"\n'),
    ("partial_fixed_sampler", 'sampler="PartialFixedSampler"\n', "", 'architecture="gru"\n'),
    ("base_sampler", 'sampler="BaseSampler"\n', "", 'architecture="gru"\n'),
    ("patient_pruner", 'pruner="PatientPruner"\n', "", 'architecture="gru"\n'),
    ("integer_sampler", "sampler=3\n", "", 'architecture="gru"\n'),
    ("sampler_arg_type", 'sampler_args={n_startup_trials="x"}\n', "", 'architecture="gru"\n'),
    ("pruner_arg_type", 'pruner_args={n_warmup_steps=1.5}\n', "", 'architecture="gru"\n'),
    ("float_seed", "seed=1.5\n", "", 'architecture="gru"\n'),
    ("string_seed", 'seed="a"\n', "", 'architecture="gru"\n'),
    ("nan_timeout", "timeout=nan\n", "", 'architecture="gru"\n'),
    ("zero_step", "", "", 'architecture="gru"\nhidden_size={low=8,high=16,step=0}\n'),
    ("negative_step", "", "", 'architecture="gru"\nhidden_size={low=8,high=16,step=-2}\n'),
    ("string_step", "", "", 'architecture="gru"\nlearning_rate={low=0.001,high=0.1,step="x"}\n'),
    ("step_and_log", "", "",
     'architecture="gru"\nlearning_rate={low=0.001,high=0.1,step=0.01,log=true}\n'),
    ("string_batch_size", "", "", 'architecture="gru"\nbatch_size="x"\n'),
    ("negative_weight_decay", "", "", 'architecture="gru"\nweight_decay={low=-0.1,high=0.1}\n'),
    ("start_outside", "", "",
     'architecture="gru"\nhidden_size={low=8,high=16}\n[start]\nhidden_size=64\n'),
    ("teacher_forcing_above_1", "", "", 'architecture="gru"\nteacher_forcing={low=0.0,high=2.0}\n'),
    ("rollout_above_horizon", "", "", 'architecture="gru"\nrollout={low=1,high=9}\n'),
    ("negative_grad_clip", "", "", 'architecture="gru"\ngrad_clip={low=-1.0,high=1.0}\n'),
    ("float_hidden_size", "", "", 'architecture="gru"\nhidden_size={low=8.5,high=16}\n'),
    ("window_in_seeded", "", "", 'architecture="gru"\nwindow=12\n'),
    ("huge_start_hidden_size", "", "",
     'architecture="gru"\nhidden_size={low=8,high=16}\n[start]\nhidden_size=100000\n'),
    # issue 34: a grid that misses a searched parameter, learning rates past 10
    ("grid_not_covering", 'sampler="GridSampler"\nsampler_args={search_space={hidden_size=[8]}}\n',
     "", 'architecture="gru"\nhidden_size=[8,16]\nlearning_rate={low=0.001,high=0.01}\n'),
    ("grid_outside_space",
     'sampler="GridSampler"\nsampler_args={search_space={hidden_size=[8,4096]}}\n', "",
     'architecture="gru"\nhidden_size=[8,16]\n'),
    ("grid_extra_parameter",
     'sampler="GridSampler"\nsampler_args={search_space={hidden_size=[8],num_layers=[1]}}\n',
     "", 'architecture="gru"\nhidden_size=[8,16]\n'),
    ("fixed_learning_rate_11", "", "", 'architecture="gru"\nlearning_rate=11.0\n'),
    ("learning_rate_range_past_10", "", "",
     'architecture="gru"\nlearning_rate={low=0.001,high=11.0}\n'),
]:
    TOML[key] = SEEDED.format(study=study, train=train, space=space)
DIGITSUM = '[study]\nname="{name}"\n[task]\nname="digitsum"\nmode="dense"\n{task}[space]\n{space}'
TOML["teacher_forcing_in_digitsum"] = DIGITSUM.format(
    name="x", task="length=5\n", space='architecture="gru"\nteacher_forcing={low=0.0,high=1.0}\n')
TOML["huge_length"] = DIGITSUM.format(name="x", task="length=1000000000\n",
                                      space='architecture="gru"\n')
TOML["sweep_collides"] = DIGITSUM.format(name="sw", task="", space='architecture="gru"\n') + \
    "[sweep]\nlength=[5, 6]\n"  # sw-L6 exists (direction minimize): refuse before sw-L5
TOML["window_above_max"] = ('[study]\nname="x"\n[task]\nname="rainfall"\n[space]\n'
                            'architecture="gru"\nwindow={low=6,high=60}\n')
TOML["digitsum"] = ('[study]\nname="x"\n[task]\nname="digitsum"\nmode="dense"\nlength=5\n'
                    '[space]\narchitecture="gru"\n')


@dataclass
class Case:
    """One bad input: the command line, the phrase its one stderr line must contain."""

    name: str
    args: list[str]
    expect: str
    postgres: bool = False
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    prepare: str = ""  # how to spoil the case's folder before the run (see _spoil)


def optimize(study: str, *extra: str, storage: str = "{db}") -> list[str]:
    return ["optimize", study, *extra, "--storage", storage]


DRIFT, RAIN = str(STUDIES / "seeded-drift.toml"), str(STUDIES / "rainfall.toml")
CASES = [
    # CSV (rainfall --csv): the file and the column are named
    Case("csv missing file", optimize(RAIN, "--csv", "{csv}/nope.csv"), "file not found"),
    Case("csv missing target column", optimize(RAIN, "--csv", "{csv}/no_target.csv"),
         "missing column 'Precipitation'"),
    Case("csv non-numeric cell", optimize(RAIN, "--csv", "{csv}/text.csv"),
         "'Precipitation', data row 7: 'abc' is not a number"),
    Case("csv NaN", optimize(RAIN, "--csv", "{csv}/nan.csv"),
         "'Precipitation', data row 9: missing value (NaN)"),
    Case("csv empty file", optimize(RAIN, "--csv", "{csv}/empty.csv"), "not a readable CSV"),
    Case("csv header only", optimize(RAIN, "--csv", "{csv}/header.csv"), "no data rows"),
    Case("csv too short for window + test", optimize(RAIN, "--csv", "{csv}/short.csv"),
         "series too short: 120 points"),
    # study TOML: the file and the field are named
    Case("toml missing file", optimize("{toml}/nope.toml"), "study file not found"),
    Case("toml malformed", optimize("{toml}/malformed.toml"), "malformed TOML"),
    Case("toml unknown table", optimize("{toml}/unknown_table.toml"),
         "unknown table(s) ['optimizer']"),
    Case("toml unknown key", optimize("{toml}/unknown_key.toml"), "[study] unknown key(s)"),
    Case("toml unknown task", optimize("{toml}/unknown_task.toml"),
         "task.name: unknown task 'weather'"),
    Case("toml unknown architecture", optimize("{toml}/unknown_architecture.toml"),
         "space.architecture: unknown architecture 'transformer'"),
    Case("toml unknown sampler", optimize("{toml}/unknown_sampler.toml"),
         "study.sampler: unknown sampler 'Nope'"),
    Case("toml unknown pruner", optimize("{toml}/unknown_pruner.toml"),
         "study.pruner: unknown pruner 'Nope'"),
    Case("toml inverted bounds", optimize("{toml}/inverted_bounds.toml"),
         "space.hidden_size: inverted bounds, low 64 > high 8"),
    Case("toml empty choices", optimize("{toml}/empty_choices.toml"),
         "space.batch_size: empty list of choices"),
    Case("toml empty range", optimize("{toml}/empty_range.toml"),
         "space.rollout: empty or uneven range"),
    Case("toml missing bound", optimize("{toml}/missing_bound.toml"),
         "space.learning_rate: expected a table with low, high"),
    Case("toml zero size", optimize("{toml}/zero_size.toml"),
         "space.hidden_size: must be positive"),
    Case("toml unknown parameter", optimize("{toml}/unknown_parameter.toml"),
         "space.dropout: unknown parameter"),
    Case("toml zero trials", optimize("{toml}/zero_trials.toml"),
         "study.n_trials: must be a positive integer"),
    Case("toml negative epochs", optimize("{toml}/negative_epochs.toml"),
         "train.max_epochs: must be a positive integer"),
    # command line usage
    Case("cli zero trials", optimize(DRIFT, "--n-trials", "0"), "--n-trials: must be a positive"),
    Case("cli trials not a number", optimize(DRIFT, "--n-trials", "abc"),
         "Invalid value for '--n-trials'"),
    Case("cli unknown option", optimize(DRIFT, "--nope"), "No such option: --nope"),
    Case("cli missing study file argument", ["optimize", "--storage", "{db}"],
         "Missing argument"),
    Case("cli unknown command", ["nope"], "No such command 'nope'"),
    Case("cli unknown sampler", optimize(DRIFT, "--sampler", "Nope"), "unknown sampler 'Nope'"),
    Case("cli unknown pruner", optimize(DRIFT, "--pruner", "Nope"), "unknown pruner 'Nope'"),
    Case("cli zero workers", optimize(DRIFT, "--workers", "0"), "Invalid value for '--workers'"),
    Case("cli grace period too short", optimize(DRIFT, "--grace-period", "5"),
         "--grace-period: must be longer than --heartbeat-interval"),
    Case("cli zero epochs", optimize(DRIFT, "--max-epochs", "0"), "--max-epochs: must be"),
    Case("cli negative timeout", optimize(DRIFT, "--timeout", "-1"), "--timeout: must be"),
    # --set KEY=VALUE (task settings) and its shorthands, on optimize and run
    Case("cli --set unknown key", optimize(DRIFT, "--set", "nope=1"),
         "--set: unknown setting 'nope' of task seeded"),
    Case("cli --set without a value", optimize(DRIFT, "--set", "n_train"),
         "--set: expected KEY=VALUE"),
    Case("cli --set beyond a limit", optimize(DRIFT, "--set", "n_train=1000000"),
         "task.n_train: expected an integer 1..100000"),
    Case("cli --set below the searched rollout", optimize(DRIFT, "--set", "horizon=2"),
         "at most task.horizon = 2"),
    Case("cli --target on a seeded study", optimize(DRIFT, "--target", "Temperature"),
         "--target: unknown setting 'target' of task seeded"),
    Case("cli --target missing column",
         optimize(RAIN, "--csv", "{csv}/changed/Rainfall_data.csv", "--target", "Nope"),
         "missing column 'Nope'"),
    Case("cli run --set no study has", ["run", "--studies", str(STUDIES), "--set", "nope=1",
                                        "--storage", "{db}"],
         "--set: no study here has a task setting 'nope'"),
    Case("cli run --set beyond a limit", ["run", "--studies", str(STUDIES), "--set",
                                          "n_train=0", "--storage", "{db}"],
         "task.n_train: expected an integer"),
    # SQLite storage
    Case("url malformed", optimize(DRIFT, storage="sqlite//nope"), "malformed URL"),
    Case("url unknown backend", optimize(DRIFT, storage="nosuchdb://h/x"), "cannot open"),
    Case("sqlite without a file", optimize(DRIFT, storage="sqlite:///"), "no database file"),
    Case("sqlite not a database", optimize(DRIFT, storage="sqlite:///{dir}/junk.db"),
         "is not an SQLite database", prepare="junk"),
    Case("sqlite path is a folder", optimize(DRIFT, storage="sqlite:///{dir}"),
         "is not a file"),
    Case("sqlite parent is a file", optimize(DRIFT, storage="sqlite:///{dir}/seqtune.db/x.db"),
         "cannot access"),
    Case("sqlite read-only file", optimize(DRIFT), "is read-only", user=AS_NOBODY,
         prepare="read-only file"),
    Case("sqlite read-only folder", optimize(DRIFT), "is not writable", user=AS_NOBODY,
         prepare="read-only folder"),
    Case("sqlite unreadable folder", optimize(DRIFT), "cannot access", user=AS_NOBODY,
         prepare="unreadable folder"),
    Case("study exists with another task",
         optimize(str(STUDIES / "seeded-ar2.toml"), "--study-name", "pre"),
         "exists with another task"),
    Case("study exists with another direction",
         optimize("{toml}/digitsum.toml", "--study-name", "pre"),
         "exists with direction minimize, but task 'digitsum' needs maximize"),
    Case("study exists with other data",
         optimize(RAIN, "--study-name", "rain", "--csv", "{csv}/changed/Rainfall_data.csv"),
         "exists with different data"),
    # PostgreSQL storage (the password must never show)
    Case("pg wrong password", optimize(DRIFT, storage="{pg_bad_password}"),
         "password authentication failed", postgres=True),
    Case("pg wrong password via OPTUNA_STORAGE", ["optimize", DRIFT],
         "password authentication failed", postgres=True,
         env={"OPTUNA_STORAGE": "{pg_bad_password}"}),
    Case("pg no such database", optimize(DRIFT, storage="{pg_no_database}"),
         'database "nope" does not exist', postgres=True),
    Case("pg unreachable (closed port)", optimize(DRIFT, storage="{pg_closed_port}"),
         "Connection refused", postgres=True),
    Case("pg unreachable (server never answers)", optimize(DRIFT, storage="{pg_silent}"),
         "timeout expired", postgres=True),
    Case("pg malformed URL", optimize(DRIFT, storage="{pg_malformed}"), "malformed URL",
         postgres=True),
    Case("pg study exists with another task",
         optimize(str(STUDIES / "seeded-ar2.toml"), "--study-name", "pre", storage="{pg}"),
         "exists with another task", postgres=True),
    Case("pg study exists with another direction",
         optimize("{toml}/digitsum.toml", "--study-name", "pre", storage="{pg}"),
         "exists with direction minimize", postgres=True),
    Case("pg bad study file", optimize("{toml}/inverted_bounds.toml", storage="{pg}"),
         "inverted bounds", postgres=True),
    Case("pg bad CSV", optimize(RAIN, "--csv", "{csv}/nan.csv", storage="{pg}"),
         "missing value (NaN)", postgres=True),
    # passwords: in the query string, with a raw '@' (issue 15)
    Case("pg password in the query string", optimize(DRIFT, storage="{pg_query_password}"),
         "password authentication failed", postgres=True),
    Case("pg password with a raw @", optimize(DRIFT, storage="{pg_at_password}"),
         "percent-encode it", postgres=True),
    Case("pg password with a raw @ (leaderboard)",
         ["leaderboard", "pre", "--storage", "{pg_at_password}"], "percent-encode it",
         postgres=True),
    Case("pg query password (leaderboard)",
         ["leaderboard", "pre", "--storage", "{pg_query_password}"],
         "password authentication failed", postgres=True),
    # unreachable PostgreSQL for every command that reads a storage
    *[Case(f"pg unreachable ({command[0]})", [*command, "--storage", "{pg_closed_port}"],
           "Connection refused", postgres=True)
      for command in (["leaderboard", "pre"], ["report", "--out", "{dir}/r"],
                      ["predict", "pre", "--seq", "1,2,3,4,5"],
                      ["postmortem", "--max-epochs", "1"])],
    # samplers and pruners that need arguments or are not classes, arguments of the wrong type
    *[Case(f"toml {key.replace('_', ' ')}", optimize(f"{{toml}}/{key}.toml"), expect)
      for key, expect in [
          ("grid_sampler", "GridSampler cannot be built"),
          ("partial_fixed_sampler", "PartialFixedSampler cannot be built"),
          ("base_sampler", "BaseSampler cannot be built"),
          ("patient_pruner", "PatientPruner cannot be built"),
          ("integer_sampler", "unknown sampler 3"),
          ("sampler_arg_type", "study.sampler_args.n_startup_trials: expected int"),
          ("pruner_arg_type", "study.pruner_args.n_warmup_steps: expected int"),
          ("float_seed", "study.seed: expected an integer"),
          ("string_seed", "study.seed: expected an integer"),
          ("nan_timeout", "study.timeout: must be positive finite"),
          ("zero_step", "space.hidden_size: step must be a positive integer"),
          ("negative_step", "space.hidden_size: step must be a positive integer"),
          ("string_step", "space.learning_rate: step must be a positive number"),
          ("step_and_log", "space.learning_rate: step and log cannot be combined"),
          ("string_batch_size", "space.batch_size: expected an integer"),
          ("negative_weight_decay", "space.weight_decay: must be >= 0"),
          ("start_outside", "start.hidden_size: 64 is outside [space]"),
          ("teacher_forcing_above_1", "space.teacher_forcing: at most 1"),
          ("rollout_above_horizon", "space.rollout: at most task.horizon = 5"),
          ("negative_grad_clip", "space.grad_clip: must be >= 0"),
          ("float_hidden_size", "space.hidden_size: an integer parameter needs integer"),
          ("window_in_seeded", "space.window: task 'seeded' does not use window"),
          ("huge_start_hidden_size", "start.hidden_size: at most 1024"),
          ("teacher_forcing_in_digitsum", "task 'digitsum' does not use teacher_forcing"),
          ("huge_length", "task.length: expected an integer 3..1000"),
          ("window_above_max", "space.window: at most task.max_window = 36"),
          ("sweep_collides", "'sw-L6'"),
          ("grid_not_covering", "search_space: no values for learning_rate, searched in"),
          ("grid_outside_space", "search_space.hidden_size: 4096 is outside [space]"),
          ("grid_extra_parameter", "search_space: num_layers not searched in [space]"),
          ("fixed_learning_rate_11", "space.learning_rate: at most 10"),
          ("learning_rate_range_past_10", "space.learning_rate: at most 10"),
      ]],
    # issue 34: counts and intervals without a bound ran forever or overflowed a thread
    Case("cli repeats 1000000", optimize(DRIFT, "--repeats", "1000000"),
         "Invalid value for '--repeats': Input should be less than or equal to 100"),
    Case("cli heartbeat 10**15", optimize(DRIFT, "--heartbeat-interval", str(10**15)),
         "Invalid value for '--heartbeat-interval'"),
    Case("cli run repeats 1000000", ["run", "--repeats", "1000000", "--storage", "{db}"],
         "Invalid value for '--repeats'"),
    # issue 34: SQLite takes no credentials (the driver ignored them silently)
    Case("sqlite URL with a password", optimize(DRIFT, storage="{db}?password=hunter22"),
         "SQLite takes no credentials; remove 'password' from the URL"),
    Case("sqlite URL with an option the driver ignores",
         ["leaderboard", "pre", "--storage", "{db}?nope=1"], "unknown SQLite option(s) 'nope'"),
    # issue 34: stored attrs edited by hand: one line naming the study and the attr
    *[Case(f"hand-edited {attr} ({command[0]})", [*command, "--storage", "{db}"],
           f"study 'pre': stored attr '{attr}", prepare=f"attr {attr}")
      for attr in ("task", "metric", "data_fingerprint", "baselines", "repeats_",
                   "best_checkpoint")
      for command in (["leaderboard", "pre"], ["predict", "pre", "--seq", "1,2,3,4,5"])],
    Case("hand-edited metric (optimize resumes)",
         optimize(DRIFT, "--study-name", "pre", "--n-trials", "2"),
         "study 'pre': stored attr 'metric'", prepare="attr metric"),
    Case("checkpoint attr lacks keys", ["predict", "pre", "--seq", "1,2,3,4,5", "--storage",
                                        "{db}"], "stored attr 'best_checkpoint' is {'trial': 0}",
         prepare="attr best_checkpoint lacks keys"),
    Case("checkpoint artifact id climbs", ["predict", "pre", "--seq", "1,2,3,4,5", "--storage",
                                           "{db}"], "stored attr 'best_checkpoint'",
         prepare="attr best_checkpoint climbs"),
    Case("checkpoint artifact missing", ["predict", "pre", "--seq", "1,2,3,4,5", "--storage",
                                         "{db}"], "no artifact 00000000",
         prepare="attr best_checkpoint missing"),
    Case("checkpoint is a folder", ["predict", "pre", "--seq", "1,2,3,4,5", "--storage",
                                    "{db}"], "is a folder, not a checkpoint file",
         prepare="checkpoint folder"),
    Case("cli seed -1", optimize(DRIFT, "--seed", "-1"), "--seed: expected an integer"),
    Case("cli seed above 2**32", optimize(DRIFT, "--seed", str(2**32 + 1)),
         "--seed: expected an integer"),
    Case("cli timeout nan", optimize(DRIFT, "--timeout", "nan"), "--timeout: must be positive"),
    Case("cli timeout inf", optimize(DRIFT, "--timeout", "inf"), "--timeout: must be positive"),
    Case("cli sampler needs arguments", optimize(DRIFT, "--sampler", "GridSampler")
         , "GridSampler cannot be built"),
    Case("cli artifact dir is a file", optimize(DRIFT, "--artifact-dir", "{dir}/seqtune.db"),
         "is a file, not a folder"),
    Case("cli report out is a file", ["report", "--out", "{dir}/seqtune.db", "--storage", "{db}"],
         "is a file, not a folder"),
    # CSV contents
    Case("csv overflowing values", optimize(RAIN, "--csv", "{csv}/overflow.csv"),
         "a value of magnitude 1.7e+308"),
    Case("csv duplicate columns", optimize(RAIN, "--csv", "{csv}/duplicate.csv"),
         "duplicate column name(s) ['Precipitation']"),
    Case("csv 50 MB", optimize(RAIN, "--csv", "{csv}/huge.csv"), "at most 16 MiB"),
    # predict: input and checkpoints
    Case("predict --file not UTF-8", ["predict", "pre", "--file", "{csv}/latin1.txt",
                                      "--storage", "{db}"], "not UTF-8 text"),
    Case("predict --steps huge", ["predict", "rain", "--csv", "{csv}/changed/Rainfall_data.csv",
                                  "--steps", "1000000000", "--storage", "{db}"],
         "--steps: must be an integer 1..10000"),
    *[Case(f"predict checkpoint {how}", ["predict", "pre", "--seq", "1,2,3,4,5", "--storage",
                                        "{db}"], expect, prepare=f"checkpoint {how}")
      for how, expect in [("garbage", "not a seqtune checkpoint (unreadable"),
                          ("raw pickle", "not a seqtune checkpoint (unreadable"),
                          ("foreign torch.save", "not a seqtune checkpoint (expected format"),
                          ("missing keys", "Missing key(s) in state_dict"),
                          ("mis-shaped", "size mismatch"),
                          ("huge hidden_size", "model.hidden_size: at most 1024")]],
    Case("sqlite foreign alembic version", ["leaderboard", "pre", "--storage", "{db}"],
         "no longer compatible with the table schema", prepare="alembic"),
]


class Zygote:
    """The ``cli_zygote.py`` helper process: one fresh ``seqtune`` process per case."""

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "OPTUNA_STORAGE"}
        self.env = env
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name(
            "cli_zygote.py"))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=env, cwd=REPO)

    def run(self, cases: list[dict[str, Any]], parallel: int = 1) -> list[dict[str, Any]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cases": cases, "parallel": parallel}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(30)


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a hash of its bytes."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        out[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _let_nobody_reach_the_code() -> None:
    """Cases run as ``nobody`` import code lazily from this checkout and its .venv; a
    checkout under a private folder (``mktemp -d`` is 0700, as in a fresh CI clone)
    would hide it. Grant search (x) permission on such ancestors, nothing more."""
    if AS_NOBODY is None:
        return
    for folder in (REPO, *REPO.parents):
        mode = folder.stat().st_mode
        if not mode & 0o001:
            folder.chmod(mode | 0o001)


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    _let_nobody_reach_the_code()
    helper = Zygote()
    yield helper
    helper.close()


@pytest.fixture(scope="module")
def base(shared_data) -> Iterator[Path]:
    """A world-readable folder (cases may run as ``nobody``) with the bad inputs."""
    root = Path(tempfile.mkdtemp(prefix="seqtune-errors-"))
    root.chmod(0o755)
    (root / "toml").mkdir()
    for key, text in TOML.items():
        (root / "toml" / f"{key}.toml").write_text(text)
    csv = root / "csv"
    (csv / "changed").mkdir(parents=True)
    lines = (shared_data / "Rainfall_data.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    spoiled = {
        "no_target": [header.replace("Precipitation", "Rain"), *rows],
        "text": [header, *rows[:6], rows[6].rsplit(",", 1)[0] + ",abc", *rows[7:]],
        "nan": [header, *rows[:8], rows[8].rsplit(",", 1)[0] + ",", *rows[9:]],
        "header": [header],
        "short": [header, *rows[:120]],
    }
    for key, content in spoiled.items():
        (csv / f"{key}.csv").write_text("\n".join(content) + "\n")
    (csv / "empty.csv").write_text("")
    (csv / "overflow.csv").write_text("Date,Precipitation\n" + "".join(
        f"{i},{(-1) ** i * 1.7e308}\n" for i in range(300)))
    (csv / "duplicate.csv").write_text("\n".join([header + ",Precipitation",
                                                  *(r + ",1" for r in rows)]) + "\n")
    with (csv / "huge.csv").open("w") as fh:  # 50 MB, sparse: refused by its size
        fh.write(header + "\n")
        fh.truncate(50 * 10**6)
    (csv / "latin1.txt").write_bytes("0,1,2,3,4 \u00e9t\u00e9\n".encode("latin-1"))
    shutil.copy(shared_data / "Rainfall_data.csv", csv / "changed")
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def prepopulate(zygote: Zygote, base: Path, sqlite_url: str, pg_url: str) -> None:
    """Finished studies written by the CLI itself, in parallel: a seeded study ``pre``
    in both storages, and in SQLite a rainfall study ``rain`` whose CSV then changes."""
    quick = ["--n-trials", "1", "--max-epochs", "1", "--sampler", "RandomSampler"]
    runs = [optimize(DRIFT, "--study-name", "pre", *quick, storage=sqlite_url),
            optimize(DRIFT, "--study-name", "pre", *quick, storage=pg_url),
            optimize(RAIN, "--study-name", "rain", "--csv",
                     str(base / "csv/changed/Rainfall_data.csv"), *quick, storage=sqlite_url)]
    outs = [base / f"prepopulate{i}.txt" for i in range(len(runs))]
    results = zygote.run([{"args": ["-q", *args], "env": zygote.env, "cwd": str(base),
                           "stdout": str(out), "stderr": str(out)}
                          for args, out in zip(runs, outs, strict=True)], parallel=3)
    for result, out in zip(results, outs, strict=True):
        assert result["status"] == 0, out.read_text()
    changed = base / "csv/changed/Rainfall_data.csv"  # same file name, one value changed
    changed.write_text(changed.read_text().replace(",0.11\n", ",0.12\n", 1))


def _silent_server() -> socket.socket:
    """Accepts TCP connections and never answers: a hung database server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


#: hand edits of the stored attrs of study ``pre``: (user attr?, key, value); a key
#: ending in ``_`` names the first stored key it begins
HAND_EDITS = {
    "attr task": (True, "task", "x"), "attr metric": (True, "metric", ["mse"]),
    "attr data_fingerprint": (True, "data_fingerprint", 5),
    "attr baselines": (False, "seqtune:baselines", {"key": {}, "results": [{"name": 1}]}),
    "attr repeats_": (False, "seqtune:repeats_", {"trial": 0, "seeds": [1], "test_mse": "x"}),
    "attr best_checkpoint": (True, "best_checkpoint", "x"),
    "attr best_checkpoint lacks keys": (True, "best_checkpoint", {"trial": 0}),
}


def _edit_attrs(folder: Path, how: str) -> None:
    """A hand edit of ``pre``'s attrs (as `optuna`'s API or SQL by hand would make it)."""
    url = f"sqlite:///{folder / 'seqtune.db'}"
    study = optuna.load_study(study_name="pre", storage=url)
    storage, sid = study._storage, study._study_id
    if how in HAND_EDITS:
        user, key, value = HAND_EDITS[how]
        stored = study.user_attrs if user else storage.get_study_system_attrs(sid)
        key = next(k for k in stored if k.startswith(key)) if key.endswith("_") else key
        if user:
            study.set_user_attr(key, value)
        else:
            storage.set_study_system_attr(sid, key, value)
        return
    record = dict(study.user_attrs["best_checkpoint"])
    record["artifact_id"] = {"attr best_checkpoint climbs": "../seqtune.db",
                             "attr best_checkpoint missing": "0" * 8 + "-0000"}[how]
    study.set_user_attr("best_checkpoint", record)


def _prepare(folder: Path, how: str) -> None:
    """Spoil a case's copy before the "before" snapshot: its checkpoints or schema."""
    if how.startswith("attr "):
        _edit_attrs(folder, how)
        return
    if how == "checkpoint folder":
        study = optuna.load_study(study_name="pre", storage=f"sqlite:///{folder / 'seqtune.db'}")
        path = folder / "artifacts" / study.user_attrs["best_checkpoint"]["artifact_id"]
        path.unlink()
        path.mkdir()
        return
    if how == "alembic":  # another program's (or a future Optuna's) schema version
        with sqlite3.connect(folder / "seqtune.db") as db:
            db.execute("UPDATE alembic_version SET version_num = 'v99.0.0.foreign'")
        return
    if not how.startswith("checkpoint "):
        return
    how = how.removeprefix("checkpoint ")
    for path in (folder / "artifacts").iterdir():
        try:
            good = torch.load(path, weights_only=True)
        except pickle.UnpicklingError:
            continue  # another artifact (JSON), not a checkpoint
        if not isinstance(good, dict) or "state_dict" not in good:
            continue
        if how == "garbage":
            path.write_bytes(b"\x00garbage\xff" * 64)
        elif how == "raw pickle":
            path.write_bytes(pickle.dumps({"format": "seqtune-checkpoint-1"}))
        elif how == "foreign torch.save":
            torch.save({"weights": torch.zeros(3)}, path)
        elif how == "missing keys":
            torch.save({**good, "state_dict": dict(list(good["state_dict"].items())[1:])}, path)
        elif how == "mis-shaped":
            torch.save({**good, "state_dict": {k: torch.zeros(2, 2)
                                               for k in good["state_dict"]}}, path)
        elif how == "huge hidden_size":
            torch.save({**good, "model": {**good["model"], "hidden_size": 10**6}}, path)


def _spoil(folder: Path, how: str) -> None:
    """File modes are spoiled after the "before" snapshot (root reads them anyway)."""
    db = folder / "seqtune.db"
    if how == "read-only file":
        db.chmod(0o444)
    elif how == "read-only folder":
        db.chmod(0o666)
        folder.chmod(0o555)
    elif how == "unreadable folder":
        folder.chmod(0o000)


def test_every_bad_input_gets_one_line_exit_2_and_leaves_the_storage_alone(
        zygote, base, postgres, shared_data):
    started = time.monotonic()
    sqlite_pre = base / "pre" / "seqtune.db"
    sqlite_pre.parent.mkdir()
    sqlite_pre.parent.chmod(0o755)
    pg_url = postgres.create_database("errors")
    prepopulate(zygote, base, f"sqlite:///{sqlite_pre}", pg_url)
    optuna.create_study(study_name="sw-L6", storage=f"sqlite:///{sqlite_pre}")  # a sweep hits it
    print(f"\nprepopulated in {time.monotonic() - started:.1f} s")
    silent = _silent_server()
    words = {
        "csv": str(base / "csv"), "toml": str(base / "toml"), "pg": pg_url,
        "pg_bad_password": postgres.url("errors", password="wrong-" + PASSWORD),
        "pg_no_database": postgres.url("nope"),
        "pg_closed_port": postgres.url("errors", port=free_port()),
        "pg_silent": postgres.url("errors", port=silent.getsockname()[1]),
        "pg_malformed": postgres.url("errors").replace(f":{postgres.port}/", ":port/"),
        "pg_query_password": f"postgresql+psycopg2://seqtune@127.0.0.1:{postgres.port}/errors"
                             f"?password=wrong-{PASSWORD}",
        "pg_at_password": postgres.url("errors", password=f"{PASSWORD}@x"),
    }
    prepared = []
    for index, case in enumerate(CASES):
        work = base / f"case{index:02d}"  # the working directory; the storage in db/
        folder = work / "db"
        shutil.copytree(sqlite_pre.parent, folder)
        for path in (work, folder):
            path.chmod(0o755)
        (folder / "seqtune.db").chmod(0o644)
        fill = {**words, "dir": str(folder), "db": f"sqlite:///{folder / 'seqtune.db'}"}
        spec = {"args": [a.format(**fill) for a in case.args], "cwd": str(work),
                "env": {**zygote.env, **{k: v.format(**fill) for k, v in case.env.items()}},
                "stdout": str(base / f"out{index:02d}.txt"),
                "stderr": str(base / f"err{index:02d}.txt"), "user": case.user}
        if case.prepare == "junk":
            (folder / "junk.db").write_text("not a database")
        _prepare(folder, case.prepare)
        prepared.append((case, work, spec, tree(work)))
        _spoil(folder, case.prepare)

    pg_before = trial_rows(pg_url)
    try:  # all at once: nothing deletes, so an unchanged end state means no case wrote
        results = zygote.run([p[2] for p in prepared], parallel=4)
    finally:
        silent.close()
        for _, work, _, _ in prepared:
            (work / "db").chmod(0o755)
            for path in (work / "db").iterdir():
                path.chmod(0o644 if path.is_file() else 0o755)

    print(f"cases done at {time.monotonic() - started:.1f} s")
    pg_unchanged = trial_rows(pg_url) == pg_before
    problems, unchanged = [], 0
    for (case, work, spec, before), result in zip(prepared, results, strict=True):
        out, err = Path(spec["stdout"]).read_text(), Path(spec["stderr"]).read_text()
        lines = err.strip().splitlines()
        same = tree(work) == before and (pg_unchanged or not case.postgres)
        unchanged += same
        wrong = [what for what, bad in [
            (f"exit status {result['status']}", result["status"] != 2),
            (f"{len(lines)} stderr lines", len(lines) != 1),
            (f"no {case.expect!r}", not lines or case.expect not in lines[0]),
            ("a traceback", "Traceback" in err),
            ("the password", PASSWORD in out + err),
            ("storage changed", not same),
            (f"took {result['seconds']} s", result["seconds"] > 30),
        ] if bad]
        if wrong:
            problems.append(f"{case.name}: {', '.join(wrong)}\n    stderr: {err.strip()}")
    timings = {p[0].name: r["seconds"] for p, r in zip(prepared, results, strict=True)
               if p[0].name.startswith("pg unreachable")}
    print(f"\nerror matrix: {len(CASES)} bad inputs, {len(CASES) - len(problems)} handled, "
          f"{unchanged} left the storage unchanged; unreachable PostgreSQL: {timings}")
    assert not problems, "\n".join(problems)
    assert unchanged == len(CASES) and pg_unchanged


def test_debug_shows_the_traceback_and_the_console_script_agrees(zygote, base, tmp_path):
    """``--debug`` is the one way to see a traceback; a forked case behaves exactly
    like the installed console script."""
    args = optimize("{toml}/unknown_task.toml".format(toml=base / "toml"),
                    storage=f"sqlite:///{tmp_path / 'x.db'}")
    spec = {"cwd": str(tmp_path), "env": zygote.env, "stdout": str(tmp_path / "out"),
            "stderr": str(tmp_path / "err")}
    debug = zygote.run([{**spec, "args": ["--debug", *args]}])[0]
    assert debug["status"] == 1 and "Traceback" in (tmp_path / "err").read_text()
    assert "unknown task 'weather'" in (tmp_path / "err").read_text()

    plain = zygote.run([{**spec, "args": args}])[0]
    started = time.monotonic()
    script = subprocess.run([str(Path(sys.executable).with_name("seqtune")), *args],
                            capture_output=True, text=True, env=zygote.env, cwd=tmp_path,
                            timeout=120)
    print(f"\nconsole script {time.monotonic() - started:.1f} s vs forked {plain['seconds']} s")
    assert (script.returncode, script.stderr) == (plain["status"], (tmp_path / "err").read_text())
    assert not list(tmp_path.glob("*.db"))
