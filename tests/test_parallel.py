"""The runtime policy and what parallel-by-default needs: one torch thread per
process, ``--workers auto``, atomic claims of queued trials and of the
``[start]`` queue on SQLite, and workers that do not outlive their parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import optuna
import pytest
import torch
from optuna.exceptions import UpdateFinishedTrialError
from optuna.study import StudyDirection
from optuna.trial import TrialState, create_trial

from seqtune import runtime
from seqtune.config import load_config
from seqtune.study import prepare_study
from seqtune.study._storage import open_storage

REPO = Path(__file__).resolve().parents[1]
SEQTUNE = str(Path(sys.executable).with_name("seqtune"))
#: a seeded-drift study whose trials run for many short epochs
STUDY = """
[study]
name = "orphans"
n_trials = 6
sampler = "RandomSampler"
pruner = "none"

[task]
name = "seeded"
rule = "drift"

[train]
max_epochs = 400
patience = 400

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


@pytest.fixture()
def torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_one_torch_thread_per_process_unless_omp_num_threads_says(monkeypatch,
                                                                    torch_threads):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert runtime.configure_threads() == 1 == torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert runtime.configure_threads() == 2 == torch.get_num_threads()
    with runtime.one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    for junk in ("0", "", "two"):
        monkeypatch.setenv("OMP_NUM_THREADS", junk)
        assert runtime.thread_count() == 1


def test_workers_auto_is_the_usable_cores():
    assert runtime.usable_cores() == len(os.sched_getaffinity(0))
    assert runtime.resolve_workers("auto") == runtime.usable_cores()
    assert runtime.resolve_workers("3") == runtime.resolve_workers(3) == 3
    for bad in ("0", "-1", "many", 0):
        with pytest.raises(ValueError, match="'auto' or a positive integer"):
            runtime.resolve_workers(bad)


def _race(n: int, action) -> list[object]:
    """``action(i)`` in ``n`` threads released at once; what each returned or raised."""
    barrier, results = threading.Barrier(n), [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except Exception as exc:  # noqa: BLE001 - the result under test
            results[i] = exc
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_exactly_one_claimer_wins_a_queued_trial_on_sqlite(tmp_path):
    """Optuna's own claim (SELECT ... FOR UPDATE, ignored by SQLite) let two
    claimers win one WAITING trial in about a third of these rounds."""
    url, claimers, rounds = f"sqlite:///{tmp_path / 'claim.db'}", 8, 30
    # one storage (engine, connection) per claimer, as in separate processes
    storages = [open_storage(url, heartbeat_interval=None) for _ in range(claimers)]
    study_id = storages[0].create_new_study([StudyDirection.MINIMIZE], "claims")
    for _ in range(rounds):
        trial_id = storages[0].create_new_trial(
            study_id, create_trial(state=TrialState.WAITING))
        before = datetime.now()
        results = _race(claimers, lambda i, t=trial_id: storages[i].set_trial_state_values(
            t, TrialState.RUNNING))
        assert sorted(map(repr, results)) == ["False"] * (claimers - 1) + ["True"]
        claimed = storages[0].get_trial(trial_id)
        assert claimed.state == TrialState.RUNNING
        assert before - timedelta(seconds=5) < claimed.datetime_start < datetime.now()

        # failing it (a stale heartbeat, seen by every worker at once): one wins too
        results = _race(claimers, lambda i, t=trial_id: storages[i].set_trial_state_values(
            t, TrialState.FAIL))
        assert sum(r is True for r in results) == 1
        assert all(isinstance(r, UpdateFinishedTrialError) for r in results if r is not True)
        assert storages[0].get_trial(trial_id).state == TrialState.FAIL
    # Optuna alone (no seqtune class) reads what was written
    trials = optuna.load_study(study_name="claims", storage=url).trials
    assert [t.state for t in trials] == [TrialState.FAIL] * rounds
    done = storages[0].create_new_trial(study_id)
    assert storages[1].set_trial_state_values(done, TrialState.COMPLETE, [0.5])
    assert optuna.load_study(study_name="claims", storage=url).trials[-1].value == 0.5
    with pytest.raises(UpdateFinishedTrialError):
        storages[2].set_trial_state_values(done, TrialState.COMPLETE, [0.7])


def test_processes_preparing_one_fresh_study_queue_each_start_once(tmp_path):
    url, preparers = f"sqlite:///{tmp_path / 'starts.db'}", 6
    config = load_config(REPO / "studies" / "seeded-drift.toml").with_overrides(n_trials=1)
    architectures = config.space["architecture"].choices
    assert len(architectures) > config.n_trials  # every start is queued all the same
    for round_ in range(6):
        each = config.with_overrides(name=f"fresh-{round_}")
        results = _race(preparers, lambda _i, c=each: prepare_study(c, url, queue_start=True))
        assert not [r for r in results if isinstance(r, Exception)], results
        study = optuna.load_study(study_name=each.name, storage=url)
        queued = sorted(t.system_attrs["fixed_params"]["architecture"] for t in study.trials)
        assert queued == sorted(architectures), f"round {round_}: {queued}"
        assert all(t.state == TrialState.WAITING for t in study.trials)
        assert study.user_attrs["start_queued"] == len(architectures)
        assert study.user_attrs["task"]["name"] == "seeded"
    # a resumed study queues nothing more
    prepare_study(each, url, queue_start=True)
    assert len(optuna.load_study(study_name=each.name, storage=url).trials) == 3


def _session(leader: int) -> list[tuple[int, str]]:
    """(pid, state) of every live process in ``leader``'s session, zombies left out."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == leader and fields[0] != "Z":
            found.append((int(entry.name), fields[0]))
    return found


def test_workers_stop_when_their_parent_is_killed(tmp_path):
    url = f"sqlite:///{tmp_path / 'orphans.db'}"
    spec = tmp_path / "orphans.toml"
    spec.write_text(STUDY)
    env = {k: v for k, v in os.environ.items() if k != "OPTUNA_STORAGE"}
    err = (tmp_path / "err.txt").open("w")
    parent = subprocess.Popen([SEQTUNE, "-q", "optimize", str(spec), "--workers", "2",
                               "--storage", url], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    storage = optuna.storages.RDBStorage(url)

    def trials() -> list[optuna.trial.FrozenTrial]:
        try:
            return optuna.load_study(study_name="orphans", storage=storage).trials
        except KeyError:
            return []
    try:
        deadline = time.monotonic() + 180
        # both in the first half of their 400 epochs: neither ends before the kill
        while not sum(t.state == TrialState.RUNNING and 2 <= len(t.intermediate_values) <= 200
                      for t in trials()) == 2:
            assert parent.poll() is None, (tmp_path / "err.txt").read_text()
            assert time.monotonic() < deadline, "two trials never ran at once"
            time.sleep(0.25)
        workers = {int(t.user_attrs["worker"].rsplit(":", 1)[1]) for t in trials()
                   if t.state == TrialState.RUNNING}
        assert len(workers) == 2 and parent.pid not in workers
        assert {pid for pid, _ in _session(parent.pid)} >= workers | {parent.pid}
        os.kill(parent.pid, signal.SIGKILL)
        killed = time.monotonic()
        assert parent.wait(10) == -signal.SIGKILL
        while (left := _session(parent.pid)) and time.monotonic() - killed < 30:
            time.sleep(0.1)
        gone = time.monotonic() - killed
        print(f"\nparent killed; its workers and forkserver gone after {gone:.1f} s")
        assert not left, f"still running 30 s after the parent's kill -9: {left}"
    finally:
        for pid, _ in _session(parent.pid):
            os.kill(pid, signal.SIGKILL)
        parent.wait(10)
    final = trials()
    stopped = [t for t in final if t.state == TrialState.FAIL]
    assert not [t for t in final if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert len(stopped) == 2
    assert all(t.user_attrs["error"] == f"interrupted by SIGTERM (the parent process "
               f"{parent.pid} is gone)" for t in stopped), [t.user_attrs for t in stopped]
    for t in final:
        if t.state == TrialState.COMPLETE:
            assert len(t.intermediate_values) == t.user_attrs["epochs"]
