"""What every section shares: figures with targets, the seqtune command, temporary
storages, study files with overrides, progress lines and machine facts."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import resource
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
STUDIES = REPO / "studies"


@dataclass
class Figure:
    """One measured number, the target it is held to and whether it meets it."""

    section: str
    name: str
    value: float | None
    unit: str = ""
    #: e.g. ">= 5"; empty for an informational figure
    target: str = ""
    #: None: no target (or nothing measured)
    passed: bool | None = None
    note: str = ""
    #: decimals shown; None: 4 significant digits
    digits: int | None = 2

    def __post_init__(self) -> None:
        if self.value is not None and math.isnan(self.value):
            self.value = None

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return "MISS" if self.target and self.value is None else "-"
        return "PASS" if self.passed else "MISS"

    def shown(self) -> str:
        if self.value is None or math.isnan(self.value):
            return "n/a"
        number = f"{self.value:.4g}" if self.digits is None else f"{self.value:.{self.digits}f}"
        return f"{number}{' ' + self.unit if self.unit else ''}"


def check(value: float | None, op: str, threshold: float) -> bool | None:
    """``value op threshold`` for ``op`` in ``>=``, ``<=``; None when nothing was measured.
    A value equal to the threshold up to float round-off meets it (a mean of
    accuracies in hundredths that is 0.99 adds up to 0.98999...)."""
    if value is None:
        return None
    if math.isclose(value, threshold, rel_tol=1e-9):
        return True
    return value >= threshold if op == ">=" else value <= threshold


def target_figure(section: str, name: str, value: float | None, op: str, threshold: float,
                  unit: str = "", note: str = "", digits: int | None = 2) -> Figure:
    """A figure held to ``op threshold`` (e.g. ``">=", 5``)."""
    shown = f"{op} {threshold:g}{' ' + unit if unit else ''}"
    return Figure(section, name, value, unit, shown, check(value, op, threshold), note, digits)


@dataclass
class Context:
    """Per-invocation settings every section reads."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    def sqlite_url(self, name: str) -> str:
        """A fresh SQLite storage in the temporary folder (removed if it exists)."""
        path = self.workdir / name / "studies.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"


def sqlite_study_exists(url: str, name: str) -> bool:
    """Whether the SQLite storage at ``url`` holds study ``name``, read without
    creating the file or its schema."""
    path = Path(url.removeprefix("sqlite:///"))
    if not path.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as con:
            row = con.execute("SELECT 1 FROM studies WHERE study_name = ?", (name,)).fetchone()
    except sqlite3.Error:
        return False
    return row is not None


def progress(message: str) -> None:
    """One timestamped progress line on stderr."""
    print(f"[benchmarks {dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def seqtune_command() -> list[str]:
    """The installed ``seqtune`` console script beside this Python, as the tests use it."""
    exe = Path(sys.executable).with_name("seqtune")
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "from seqtune.cli import main; main()"]


def child_env() -> dict[str, str]:
    """The environment for seqtune subprocesses: never the user's OPTUNA_STORAGE."""
    env = dict(os.environ)
    env.pop("OPTUNA_STORAGE", None)
    return env


@dataclass
class Completed:
    """A finished seqtune subprocess."""

    args: list[str]
    returncode: int
    seconds: float
    #: peak resident set of the process (and the children it waited for), MB
    max_rss_mb: float
    log: Path

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM (seqtune fails its running trial and exits), SIGKILL after ``grace``
    seconds or on a second interrupt."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        proc.kill()
        proc.wait()


def run_seqtune(args: Sequence[str], log: Path, cwd: Path = REPO,
                poll: Callable[[float], bool] | None = None, poll_every: float = 5.0,
                stop_grace: float = 90.0) -> Completed:
    """Run ``seqtune ARGS``, output to ``log``; return its wall time and peak RSS.

    ``poll(elapsed)`` is called every ``poll_every`` seconds while it runs; when it
    returns True the process gets SIGTERM (seqtune fails the running trial and
    exits 143), then SIGKILL after ``stop_grace`` seconds.
    """
    full = [*seqtune_command(), *args]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        out.write(f"$ {shlex.join(full)}\n")
        out.flush()
        started = time.perf_counter()
        proc = subprocess.Popen(full, cwd=cwd, env=child_env(), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        stopped_at: float | None = None
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    break
                elapsed = time.perf_counter() - started
                if stopped_at is None and poll is not None and poll(elapsed):
                    stopped_at = elapsed
                    proc.send_signal(signal.SIGTERM)
                elif stopped_at is not None and elapsed - stopped_at > stop_grace:
                    proc.kill()
                time.sleep(0.2 if poll is None else poll_every)
        except BaseException:  # interrupted: stop seqtune the way it expects, then go
            _stop(proc, stop_grace)
            raise
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    return Completed(full, proc.returncode, seconds, usage.ru_maxrss / 1024, log)


def require_ok(done: Completed, allowed: Sequence[int] = (0,)) -> None:
    """Raise with the log's tail when a seqtune run ended with another status."""
    if done.returncode not in allowed:
        raise RuntimeError(f"{shlex.join(done.args)} exited with status {done.returncode} "
                           f"(log {done.log}):\n{done.tail()}")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def study_file_with(source: Path, dest: Path, **tables: dict[str, Any]) -> Path:
    """Copy a study file to ``dest`` with keys of some tables replaced
    (``sweep={"length": [35]}``); the study files hold only flat tables."""
    doc = tomllib.loads(source.read_text(encoding="utf-8"))
    for table, values in tables.items():
        doc.setdefault(table, {}).update(values)
    lines = []
    for table, values in doc.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("\n".join(lines), encoding="utf-8")
    return dest


def study_names(study_file: Path) -> list[str]:
    """The Optuna study names a study file creates (one per sweep value)."""
    from seqtune.config import load_config

    return [c.name for c in load_config(study_file).expand()]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def busy_warning() -> str | None:
    """A warning when other work already loads the CPUs this process may use."""
    if not hasattr(os, "getloadavg"):
        return None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count() or 1
    load = os.getloadavg()[0]
    if load <= 0.5 * usable:
        return None
    return (f"the machine was busy when the benchmarks started (1-minute load {load:.2f} on "
            f"{usable} usable CPUs): wall times, and anything that depends on torch using "
            "several threads (one worker, the parallel ratio), are not representative")


def machine_facts() -> dict[str, str]:
    """CPU, cores usable, load, library versions, date: what the figures depend on."""
    import optuna
    import torch

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                                capture_output=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    mem = resource.getpagesize() * os.sysconf("SC_PHYS_PAGES") / 2**30 \
        if hasattr(os, "sysconf") else 0.0
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "logical CPUs": str(os.cpu_count()),
        "CPUs usable (sched_getaffinity)": str(usable if usable is not None else "?"),
        "load average at start (1, 5, 15 min)": load,
        "memory": f"{mem:.1f} GiB",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch threads (default)": str(torch.get_num_threads()),
        "optuna": optuna.__version__,
        "os": platform.platform(),
        "commit": commit or "?",
    }


@dataclass
class StudyTrials:
    """The finished (complete or pruned) trials of one study, oldest first."""

    name: str
    direction: str
    trials: list[Any]

    @property
    def values(self) -> list[float]:
        return [t.value for t in self.trials if t.value is not None]

    @property
    def best(self) -> float | None:
        values = self.values
        if not values:
            return None
        return max(values) if self.direction == "maximize" else min(values)


def finished_trials(url: str, names: Sequence[str]) -> list[StudyTrials]:
    """Read the studies ``names`` back from the storage with Optuna alone."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = []
    for name in names:
        study = optuna.load_study(study_name=name, storage=url)
        trials = study.get_trials(deepcopy=False,
                                  states=(TrialState.COMPLETE, TrialState.PRUNED))
        trials = sorted(trials, key=lambda t: t.datetime_complete or dt.datetime.max)
        out.append(StudyTrials(name, study.direction.name.lower(), trials))
    return out
