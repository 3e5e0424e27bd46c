"""Real workers, real signals, a real PostgreSQL server: scaling out loses nothing.

- 3 ``seqtune optimize`` processes share one study on PostgreSQL; one is
  SIGKILLed mid-trial; heartbeat fails its trial and a survivor retries it.
- ``--workers 4`` on the local SQLite storage runs the requested trials.
- SIGINT / SIGTERM fail the running trial with the reason, keep the completed
  ones, exit 130 / 143, and a rerun resumes the study.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState
from pg_server import PASSWORD

from seqtune.config import load_config
from seqtune.space import distributions
from seqtune.study import prepare_study
from seqtune.study._optimize import run_trials

REPO = Path(__file__).resolve().parents[1]
SEQTUNE = str(Path(sys.executable).with_name("seqtune"))
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
#: a small seeded-drift study: trials of a second or two on one core
STUDY = """
[study]
name = "{name}"
n_trials = {n_trials}
sampler = "RandomSampler"
pruner = "none"

[task]
name = "seeded"
rule = "drift"

[train]
max_epochs = {epochs}
patience = {epochs}

[space]
architecture = ["gru"]
hidden_size = 16
num_layers = 1
learning_rate = {{ low = 1e-3, high = 1e-2, log = true }}
batch_size = 128
grad_clip = 1.0
teacher_forcing = 0.0
rollout = 5
"""


def study_file(tmp_path: Path, name: str, n_trials: int, epochs: int = 8) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(STUDY.format(name=name, n_trials=n_trials, epochs=epochs))
    return path


class Workers:
    """``seqtune`` processes in their own sessions; any still alive are killed at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path, self.procs = tmp_path, []

    def start(self, *args: str, env: dict[str, str] | None = None,
              core: int | None = None, quiet: bool = True) -> subprocess.Popen:
        """``seqtune -q ARGS`` (``seqtune ARGS`` unless ``quiet``), on one CPU core
        only if ``core`` is given."""
        n = len(self.procs)
        full_env = {k: v for k, v in os.environ.items() if k != "OPTUNA_STORAGE"}
        pin = [] if core is None else ["taskset", "-c", str(core)]
        proc = subprocess.Popen(
            [*pin, SEQTUNE, *(["-q"] if quiet else []), *args], cwd=REPO,
            env={**full_env, **(env or {})},
            stdin=subprocess.DEVNULL, stdout=(self.tmp_path / f"out{n}.txt").open("w"),
            stderr=(self.tmp_path / f"err{n}.txt").open("w"), start_new_session=True)
        self.procs.append(proc)
        return proc

    def output(self, proc: subprocess.Popen) -> tuple[str, str]:
        n = self.procs.index(proc)
        return ((self.tmp_path / f"out{n}.txt").read_text(),
                (self.tmp_path / f"err{n}.txt").read_text())

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


@pytest.fixture()
def workers(tmp_path):
    group = Workers(tmp_path)
    yield group
    group.kill_all()


def reader(url: str, name: str) -> Callable[[], list[FrozenTrial]]:
    """Read a study's trials straight through Optuna (no seqtune code)."""
    storage = optuna.storages.RDBStorage(url.replace("postgresql://", "postgresql+psycopg2://"))

    def trials() -> list[FrozenTrial]:
        try:
            return optuna.load_study(study_name=name, storage=storage).get_trials()
        except KeyError:  # not created yet
            return []
    return trials


def wait_for(what: str, check: Callable[[], Any], timeout: float,
             workers: Workers | None = None) -> Any:
    """Poll ``check`` until it is truthy; fail if any of ``workers`` ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        for proc in workers.procs if workers else ():
            assert proc.poll() is None, (f"a worker ended (status {proc.returncode}) before "
                                         f"{what}: {workers.output(proc)}")
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def mid_trial(trials: list[FrozenTrial], epochs: int | None = None) -> FrozenTrial | None:
    """A running trial that has reported at least two epochs (and, given its
    ``epochs``, at most half of them: it will not end before the next step)."""
    return next((t for t in trials if t.state == TrialState.RUNNING
                 and 2 <= len(t.intermediate_values) <= (epochs or math.inf) / 2), None)


def assert_intact(trial: FrozenTrial) -> None:
    """A COMPLETE trial with its value, metrics and one intermediate value per epoch."""
    assert trial.state == TrialState.COMPLETE
    assert trial.value == trial.user_attrs["val_mse"] and trial.user_attrs["test_mse"] >= 0
    assert len(trial.intermediate_values) == trial.user_attrs["epochs"] >= 1


def snapshot(trial: FrozenTrial) -> tuple:
    return (trial.number, trial.state, trial.values, trial.params, trial.user_attrs,
            trial.intermediate_values, trial.datetime_start, trial.datetime_complete)


def test_killed_worker_is_failed_by_heartbeat_and_retried_on_postgres(postgres, tmp_path,
                                                                     workers):
    # enough trials that the survivors still ask for work after the grace period
    url, n_trials, epochs = postgres.create_database("scaleout"), 12, 10
    spec = study_file(tmp_path, "scaleout", n_trials, epochs=epochs)
    # three "machines", each with one core of this box: the same command, the password
    # kept out of argv
    cores = sorted(os.sched_getaffinity(0))
    procs = [workers.start("optimize", str(spec), "--seed", str(i), "--heartbeat-interval",
                           "1", "--grace-period", "2", env={"OPTUNA_STORAGE": url},
                           core=cores[i % len(cores)]) for i in range(3)]
    trials = reader(url, "scaleout")

    victim_trial = wait_for("a trial in the middle of its epochs",
                            lambda: mid_trial(trials(), epochs), 120, workers)
    victim = next(p for p in procs
                  if victim_trial.user_attrs["worker"].endswith(f":{p.pid}"))
    done_before = [snapshot(t) for t in trials() if t.state == TrialState.COMPLETE]
    os.kill(victim.pid, signal.SIGKILL)
    killed_at = time.time()
    victim.wait(10)

    def retry() -> FrozenTrial | None:
        return next((t for t in trials() if t.state != TrialState.WAITING and
                     RetryHeartbeatStaleTrialCallback.retried_trial_number(t)
                     == victim_trial.number), None)

    retried = wait_for("the killed trial's retry", retry, 60)
    seen_at = time.time()
    survivors = [p for p in procs if p is not victim]
    for proc in survivors:
        assert proc.wait(150) == 0, workers.output(proc)

    final = trials()
    by_number = {t.number: t for t in final}
    numbers = [t.number for t in final]
    finished = [t for t in final if t.state in FINISHED]
    kill_to_retry = retried.datetime_start.timestamp() - killed_at
    print(f"\nkill -> retry start {kill_to_retry:.1f} s (seen {seen_at - killed_at:.1f} s); "
          f"trial {victim_trial.number} -> retried as {retried.number}; "
          f"{len(final)} trials, {len(finished)} finished (asked {n_trials}), "
          f"{sum(t.state == TrialState.FAIL for t in final)} failed")

    assert victim.returncode == -signal.SIGKILL
    assert sorted(numbers) == list(range(len(final))), "duplicate or missing trial numbers"
    assert by_number[victim_trial.number].state == TrialState.FAIL
    assert [t.number for t in final if t.state == TrialState.FAIL] == [victim_trial.number]
    retried = by_number[retried.number]
    assert retried.params == victim_trial.params and retried.number > victim_trial.number
    assert_intact(retried)
    assert n_trials <= len(finished) <= n_trials + len(survivors)
    assert not [t for t in final if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    for trial in finished:
        assert_intact(trial)
    assert [snapshot(by_number[s[0]]) for s in done_before] == done_before
    assert 0 < kill_to_retry < 2 + 30, "retry must follow the grace period and the next ask"
    study = optuna.load_study(study_name="scaleout", storage=url.replace(
        "postgresql://", "postgresql+psycopg2://"))
    assert PASSWORD not in repr(study.user_attrs) + repr([t.user_attrs for t in final])
    for proc in procs:
        assert PASSWORD not in "".join(workers.output(proc))


def test_a_killed_workers_trial_is_retried_even_after_the_study_filled(tmp_path):
    """Two workers that start trials at one moment pass ``n_trials``; a killed
    worker's trial failed after that is still retried, not left queued."""
    config = load_config(study_file(tmp_path, "overrun", n_trials=3, epochs=2))
    study, task = prepare_study(config, f"sqlite:///{tmp_path / 'overrun.db'}",
                                queue_start=True, heartbeat_interval=1, grace_period=2)
    # a worker that took the [start] trial, beat once and was killed
    victim = study.ask(distributions(config.space))
    study._storage.record_heartbeat(victim._trial_id)
    others: list[int] = []

    def another_worker_overruns(study: optuna.Study, _: FrozenTrial) -> None:
        while len(others) < 2:  # after this process's first trial, two more finish
            trial = study.ask()
            study.tell(trial, 1.0)
            others.append(trial.number)

    run_trials(study, task, config, callbacks=[another_worker_overruns])
    final = study.get_trials()
    states = {t.number: t.state for t in final}
    retries = [t for t in final
               if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == victim.number]
    assert states[victim.number] == TrialState.FAIL
    assert len(others) == 2
    others_done = [t for t in final if t.state in FINISHED and t not in retries]
    assert len(others_done) > config.n_trials  # the study was full before the retry
    assert [t.state for t in retries] == [TrialState.COMPLETE], states
    assert retries[0].params == study.trials[victim.number].params
    assert TrialState.WAITING not in states.values()


def test_four_local_workers_run_the_requested_trials(tmp_path, workers):
    db, n_trials = tmp_path / "local.db", 8
    spec = study_file(tmp_path, "local4", n_trials, epochs=4)
    proc = workers.start("optimize", str(spec), "--workers", "4",
                         "--storage", f"sqlite:///{db}")
    assert proc.wait(240) == 0, workers.output(proc)

    final = reader(f"sqlite:///{db}", "local4")()
    finished = [t for t in final if t.state in FINISHED]
    pids = {t.user_attrs["worker"] for t in final}
    spans = [(t.datetime_start, t.datetime_complete) for t in final]
    overlap = max(sum(s <= start < e for s, e in spans) for start, _ in spans)
    print(f"\n--workers 4: {len(final)} trials, {len(finished)} finished (asked {n_trials}), "
          f"numbers {min(t.number for t in final)}..{max(t.number for t in final)}, "
          f"{len(pids)} worker processes, up to {overlap} trials at once")

    assert sorted(t.number for t in final) == list(range(len(final)))
    assert n_trials <= len(finished) == len(final) <= n_trials + 3
    for trial in final:
        assert_intact(trial)
    assert len(pids) == 4 and overlap >= 2
    assert len({t.params["learning_rate"] for t in final}) == len(final), "workers repeated"
    assert "best trial per architecture" in workers.output(proc)[0]


@pytest.mark.parametrize("signum, extra, resume", [(signal.SIGINT, ("-f", "json"), True),
                                                   (signal.SIGTERM, ("--workers", "2"), False)])
def test_signal_fails_running_trial_keeps_the_rest_and_resume_works(tmp_path, workers,
                                                                    signum, extra, resume):
    """SIGINT runs without -q and with -f json: its stdout must stay JSON or empty
    (no traceback, no log line, no progress bar there)."""
    db, n_trials, name, epochs = tmp_path / "stop.db", 3, f"stop-{signum}", 200
    url = f"sqlite:///{db}"
    # epochs: a trial must last long enough (a few seconds) to be caught mid-way
    args = ("optimize", str(study_file(tmp_path, name, n_trials, epochs=epochs)),
            "--storage", url)
    # a tiny GRU needs no more than one core
    one_core = None if "--workers" in extra else min(os.sched_getaffinity(0))
    proc = workers.start(*args, *extra, core=one_core, quiet=signum != signal.SIGINT)
    trials = reader(url, name)

    def one_done_one_running() -> FrozenTrial | None:
        # not near its end: two workers' first trials end within milliseconds of
        # each other, and a signal sent then would find no trial running
        now = trials()
        return any(t.state == TrialState.COMPLETE for t in now) and mid_trial(now, epochs)

    wait_for("a completed trial and one in the middle of its epochs", one_done_one_running,
             120, workers)
    done_before = [snapshot(t) for t in trials() if t.state == TrialState.COMPLETE]
    proc.send_signal(signum)
    status = proc.wait(90)
    out, err = workers.output(proc)
    after = trials()

    name_of = signal.Signals(signum).name
    stopped = [t for t in after if t.state == TrialState.FAIL]
    print(f"\n{name_of}: exit {status}; {len(done_before)} completed kept, "
          f"{len(stopped)} running trial(s) failed: {[t.user_attrs.get('error') for t in stopped]}")
    assert status == 128 + signum, err
    assert err.strip().splitlines()[-1] == f"seqtune: interrupted by {name_of}"
    assert "Traceback" not in err
    assert "Traceback" not in out and "interrupted" not in out
    if "json" in extra:  # stdout: the result as JSON, or nothing
        assert out.strip() == "" or isinstance(json.loads(out), list), out
    assert stopped and all(t.user_attrs["error"] == f"interrupted by {name_of}"
                           for t in stopped)
    assert not [t for t in after if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    # with several workers another trial may complete between the snapshot and the signal:
    # match by number, so only the trials completed before the signal are compared
    after_by_number = {t.number: t for t in after}
    assert [snapshot(after_by_number[s[0]]) for s in done_before] == done_before

    if not resume:  # resuming does not depend on the signal: once is enough
        return
    again = workers.start(*args, core=one_core)  # the same command
    assert again.wait(240) == 0, workers.output(again)
    final = trials()
    finished = [t for t in final if t.state in FINISHED]
    assert sorted(t.number for t in final) == list(range(len(final)))
    assert len(finished) == n_trials
    assert [snapshot(t) for t in final if t.number < len(after)] == \
        [snapshot(t) for t in after]
