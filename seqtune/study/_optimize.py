"""Create or resume a study and run its trials."""

from __future__ import annotations

import inspect
import json
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import distribution_to_json
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled
from optuna.trial import FrozenTrial, TrialState

import seqtune
from seqtune.baselines import ensure_baselines
from seqtune.blobs import put_blob
from seqtune.config import StudyConfig, architecture_choices
from seqtune.errors import SeqtuneError, TrainingDiverged
from seqtune.space import contains, distributions
from seqtune.stored import check_stored, stored_repeats
from seqtune.study import _signals
from seqtune.study._artifacts import resolve_artifact_dir
from seqtune.study._curriculum import CarriedWeights
from seqtune.study._equal_share import EqualShareSampler, PerArchitecturePruner
from seqtune.study._objective import Objective
from seqtune.study._refit import DEFAULT_REPEATS, MAX_REPEATS, ensure_repeats
from seqtune.study._storage import Storage, open_storage, redact, shared_between_processes
from seqtune.study._summary import best_per_architecture, name_metric
from seqtune.study._workers import run_workers
from seqtune.tasks import Task, make_task

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def make_sampler(name: str, args: dict[str, Any], seed: int) -> optuna.samplers.BaseSampler:
    cls = getattr(optuna.samplers, name)
    if "seed" in inspect.signature(cls).parameters:
        args = {"seed": seed, **args}
    return cls(**args)


def make_pruner(name: str, args: dict[str, Any]) -> optuna.pruners.BasePruner:
    if name.lower() == "none":
        return optuna.pruners.NopPruner()
    defaults = {"n_startup_trials": 4, "n_warmup_steps": 10} if name == "MedianPruner" else {}
    return getattr(optuna.pruners, name)(**{**defaults, **args})


def equal_share(config: StudyConfig) -> tuple[optuna.samplers.BaseSampler,
                                              optuna.pruners.BasePruner]:
    """The study file's sampler and pruner; where it compares architectures, each
    architecture gets an equal share of the trials and is pruned against its
    own trials only (:mod:`seqtune.study._equal_share`)."""
    sampler = make_sampler(config.sampler, config.sampler_args, config.seed)
    pruner = make_pruner(config.pruner, config.pruner_args)
    choices = architecture_choices(config.space)
    if len(choices) < 2:
        return sampler, pruner
    return EqualShareSampler(sampler, choices), PerArchitecturePruner(pruner)


def _existing_study_direction(storage: optuna.storages.BaseStorage, name: str) -> Any:
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return None
    return storage.get_study_directions(study_id)


def _refuse_mismatch(storage: optuna.storages.BaseStorage, config: StudyConfig, task: Task,
                     storage_url: str, fingerprint: str) -> bool:
    """Whether study ``config.name`` exists; raise if it exists with another
    direction, task or data. Reads only."""
    directions = _existing_study_direction(storage, config.name)
    if directions is None:
        return False
    where = f"study {config.name!r} in {redact(storage_url)}"
    wanted = optuna.study.StudyDirection[task.direction.upper()]
    if list(directions) != [wanted]:
        raise SeqtuneError(f"{where}: exists with direction "
                           f"{directions[0].name.lower()}, but task {task.name!r} "
                           f"needs {task.direction}")
    attrs = storage.get_study_user_attrs(storage.get_study_id_from_name(config.name))
    stored = attrs.get("task")
    if stored is not None and stored != task.config():
        raise SeqtuneError(f"{where}: exists with another task "
                           f"({json.dumps(stored, sort_keys=True)}); use another "
                           "--study-name")
    if stored is not None and attrs.get("data_fingerprint") != fingerprint:
        raise SeqtuneError(f"{where}: exists with different data (fingerprint "
                           f"{attrs.get('data_fingerprint')} != {fingerprint})")
    check_stored(optuna.load_study(study_name=config.name, storage=storage))
    return True


def check_studies(configs: list[StudyConfig], storage_url: str) -> None:
    """Refuse, before anything is written, what :func:`prepare_study` would refuse
    for any of ``configs`` (a sweep must not create and train its first study and
    then refuse the second): every task is built, then every existing study
    checked."""
    tasks = [make_task(config.task) for config in configs]
    storage = open_storage(storage_url, heartbeat_interval=None)
    for config, task in zip(configs, tasks, strict=True):
        _refuse_mismatch(storage, config, task, storage_url, task.fingerprint())


def prepare_study(config: StudyConfig, storage_url: str, task: Task | None = None,
                  queue_start: bool = False, **storage_kwargs: Any) -> tuple[optuna.Study, Task]:
    """Load or create the study, refusing a mismatch before anything is written.

    With ``queue_start``, a study without trials gets its ``[start]``
    configurations queued, once however many processes prepare it at once."""
    task = task or make_task(config.task)
    fingerprint = task.fingerprint()
    storage = open_storage(storage_url, **storage_kwargs)
    sampler, pruner = equal_share(config)
    if _refuse_mismatch(storage, config, task, storage_url, fingerprint):
        study = optuna.load_study(study_name=config.name, storage=storage, sampler=sampler,
                                  pruner=pruner)
    else:
        try:
            study = optuna.create_study(study_name=config.name, storage=storage,
                                        sampler=sampler, pruner=pruner,
                                        direction=task.direction)
        except optuna.exceptions.DuplicatedStudyError:  # another worker was quicker
            return prepare_study(config, storage_url, task, queue_start, **storage_kwargs)
    if "task" not in study.user_attrs:
        # "task" last: a process preparing the same study at once and seeing it
        # must also see the fingerprint it is checked against
        put_blob(study, "search_space", {k: json.loads(distribution_to_json(v))
                                         for k, v in distributions(config.space).items()})
        name_metric(study, task.metric)
        attrs = {"data_fingerprint": fingerprint, "metric": task.metric,
                 "seqtune_version": seqtune.__version__, "task": task.config()}
        for key, value in attrs.items():
            study.set_user_attr(key, value)
    if queue_start:
        _enqueue_start(study, storage, config)
    return study, task


#: study user attr: how many ``[start]`` configurations were queued (set once, atomically)
START_QUEUED = "start_queued"


def _start_params(config: StudyConfig) -> list[dict[str, Any]]:
    """The ``[start]`` configuration once per architecture (its own sub-table over
    the shared keys), searched parameters only."""
    if not config.start:
        return []
    searched = distributions(config.space)
    return [{k: v for k, v in config.start_for(choice).items() if k in searched}
            for choice in architecture_choices(config.space)]


def _warm_params(study: optuna.Study, config: StudyConfig) -> list[dict[str, Any]]:
    """The best configuration per architecture of the study ``config`` follows
    in its sweep (none if that study is missing or has no complete trial),
    searched parameters only."""
    if config.follows is None:
        return []
    try:
        previous = optuna.load_study(study_name=config.follows, storage=study._storage)
    except KeyError:
        return []
    searched = distributions(config.space)
    trials = {t.number: t for t in previous.get_trials(deepcopy=False)}
    out = []
    for best in best_per_architecture(previous):
        params = {k: v for k, v in trials[best["trial"]].params.items() if k in searched}
        if all(contains(searched[k], v) for k, v in params.items()) \
                and set(params) == set(searched):
            out.append(params)
    return out


#: trial user attr of a queued trial under a curriculum: ``"carried"`` (start
#: from the weights of the study it follows) or ``"seed"`` (from random weights)
INIT_ATTR = "init"


def _queue(study: optuna.Study, config: StudyConfig) -> list[tuple[dict[str, Any], dict]]:
    """What a fresh study queues, as (params, user attrs), one round per
    architecture at a time (so any ``n_trials`` keeps equal shares).

    Per architecture: its ``[start]``, then its best configuration in the study
    this one follows (unless equal). Under a curriculum, for its architectures:
    that best configuration first, starting from the weights it trained
    (``init = "carried"``), then the ``[start]`` from random weights
    (``"seed"``) even where the two are equal: the study's own selection on val
    decides whether carrying over helped.
    """
    starts = {p.get("architecture"): p for p in _start_params(config)}
    warm = {p.get("architecture"): p for p in _warm_params(study, config)}
    rounds: list[list[tuple[dict[str, Any], dict]]] = []
    for arch in architecture_choices(config.space):
        start, best = starts.get(arch), warm.get(arch)
        if best is not None and arch in config.curriculum:
            own = [(best, {INIT_ATTR: "carried"})]
            own += [(start, {INIT_ATTR: "seed"})] if start is not None else []
        else:
            own = [(p, {}) for p in (start, best) if p is not None]
            own = own[:1] if best is not None and best == start else own
        rounds.append(own)
    return [each for k in range(max(map(len, rounds), default=0))
            for own in rounds if k < len(own) for each in [own[k]]]


def _enqueue_start(study: optuna.Study, storage: Storage, config: StudyConfig) -> None:
    """Queue :func:`_queue`'s configurations in a study without trials, even if
    ``n_trials`` is smaller (a resumed run trials the rest).

    Several processes may prepare one fresh study at once (``--workers``,
    machines sharing PostgreSQL): only the one that claims the study user
    attr :data:`START_QUEUED` (a single INSERT against a unique key) queues,
    so each configuration is queued exactly once."""
    if study.trials or START_QUEUED in study.user_attrs:
        return
    queue = _queue(study, config)
    if not queue:
        return
    with _signals.deferred():  # a stop signal waits until the queue is complete
        if storage.claim_study_user_attr(storage.get_study_id_from_name(study.study_name),
                                        START_QUEUED, len(queue)):
            for params, attrs in queue:
                study.enqueue_trial(params, user_attrs=attrs or None)
    _signals.check()


def carried_weights(study: optuna.Study, config: StudyConfig) -> CarriedWeights | None:
    """Under ``[train] curriculum``, the final weights of the repeats of the study
    ``config`` follows (None: no curriculum, or nothing stored to start from)."""
    if not config.curriculum or config.follows is None or not config.artifact_dir:
        return None
    try:
        previous = optuna.load_study(study_name=config.follows, storage=study._storage)
    except KeyError:
        return None
    records = {arch: record for arch, record in stored_repeats(previous).items()
               if arch in config.curriculum}
    return CarriedWeights.from_repeats(config.follows, records, Path(config.artifact_dir))


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def optimize(config: StudyConfig, storage_url: str, show_progress_bar: bool = True,
             workers: int = 1, repeats: int = DEFAULT_REPEATS,
             callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] | None = None,
             **storage_kwargs: Any) -> optuna.Study:
    """Run ``config`` until the study holds ``n_trials`` finished trials (or the
    timeout passes), here or in ``workers`` processes (never more processes
    than trials still missing; one runs here). Rerunning resumes the same
    study. Then retrain each architecture's best configuration on train+val
    under ``repeats`` seeds (:func:`~seqtune.study._refit.ensure_repeats`; 0:
    none). ``callbacks`` go to ``study.optimize`` in this process (e.g. MLflow's
    or W&B's Optuna callback)."""
    if not 0 <= repeats <= MAX_REPEATS:
        raise SeqtuneError(f"repeats: expected an integer 0..{MAX_REPEATS}, got {repeats}")
    config = config.with_overrides(
        artifact_dir=str(resolve_artifact_dir(storage_url, config.artifact_dir)))
    study, task = prepare_study(config, storage_url, queue_start=True, **storage_kwargs)
    ensure_baselines(study, task)
    processes = min(workers, config.n_trials - finished_trials(study))
    if not shared_between_processes(storage_url):  # another process would see nothing
        processes = 1
    if processes > 1:
        run_workers(_worker, (config, storage_url, storage_kwargs), processes)
    else:
        run_trials(study, task, config, show_progress_bar, callbacks)
    ensure_repeats(study, task, config.space, repeats, config.seed,
                   Path(config.artifact_dir), workers=max(workers, 1),
                   curriculum=config.curriculum, carried=carried_weights(study, config))
    return study


def _worker(config: StudyConfig, storage_url: str, storage_kwargs: dict[str, Any]) -> None:
    """One of the ``workers`` processes of :func:`optimize`."""
    study, task = prepare_study(config, storage_url, **storage_kwargs)
    study.sampler.reseed_rng()  # or every worker would propose the same parameters
    run_trials(study, task, config, show_progress_bar=False)


def _stop_if_signalled(_study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
    _signals.check()


def run_trials(study: optuna.Study, task: Task, config: StudyConfig,
               show_progress_bar: bool = False,
               callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] | None = None
               ) -> None:
    """This process's trials, until the study holds ``n_trials`` finished ones.

    Any number of processes, here or on other machines, may run this on one
    study at once (Optuna's distributed mode); each stops when its finished
    and running trials fill the study, so another process starting a trial in
    the same milliseconds is the only way past ``n_trials``.
    A stop signal fails the running trial and raises ``Interrupted``.
    """
    remaining = config.n_trials - finished_trials(study)
    if remaining <= 0:
        return
    objective = Objective(task, config.space, config.max_epochs, config.patience, config.seed,
                          Path(config.artifact_dir) if config.artifact_dir else None,
                          carried_weights(study, config))
    if abandoned := abandoned_trials(study):
        print(f"seqtune: warning: study {study.study_name!r}: trial(s) "
              f"{', '.join(str(t.number) for t in abandoned)} RUNNING without a heartbeat "
              "(left by `optuna ask`, or by a process that died with heartbeats off): not "
              "counted towards n_trials, not waited for", file=sys.stderr)
    callback = _StopWhenFull(config.n_trials)
    deadline = None if config.timeout is None else time.monotonic() + config.timeout
    while remaining > 0:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return
        with _signals.deferred():
            study.optimize(objective, n_trials=remaining, timeout=left,
                           callbacks=[callback, _stop_if_signalled, *(callbacks or ())],
                           catch=(TrainingDiverged,),
                           show_progress_bar=show_progress_bar)
        if not _retry_queued(study, deadline):
            return
        # a killed worker's trial runs again even where the study filled meanwhile
        # (two workers starting trials at one moment pass n_trials): else its
        # retry would stay queued after every worker has gone
        remaining = max(config.n_trials - finished_trials(study), queued_retries(study))


def _age(start: datetime) -> float:
    """Seconds since the naive ``start`` (local or UTC time, as whoever wrote it
    chose): the younger of the two readings."""
    return min((datetime.now() - start).total_seconds(),
               (datetime.now(UTC).replace(tzinfo=None) - start).total_seconds())


def abandoned_trials(study: optuna.Study) -> list[FrozenTrial]:
    """RUNNING trials that no worker watches: started over a grace period ago and
    never a heartbeat (a worker with heartbeats records one as its trial starts),
    so no worker will ever fail them; empty where heartbeats are off."""
    storage = getattr(study._storage, "_backend", study._storage)  # under Optuna's cache
    if not (isinstance(storage, Storage) and is_heartbeat_enabled(storage)):
        return []
    grace = storage.grace_period or 2 * (storage.get_heartbeat_interval() or 0)
    old = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
           if _age(t.datetime_start) > grace]
    unwatched = storage.unwatched_trials(study._study_id, [t._trial_id for t in old]) \
        if old else set()
    return [t for t in old if t._trial_id in unwatched]


class _StopWhenFull:
    """Stop once finished trials and watched running ones fill ``n_trials``: running
    trials count, so a worker whose trial ends while another's runs stops rather
    than start one more (an architecture would get an extra share)."""

    def __init__(self, n_trials: int) -> None:
        self.n_trials = n_trials

    def __call__(self, study: optuna.Study, _trial: FrozenTrial) -> None:
        taken = study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
        if len(taken) - len(abandoned_trials(study)) >= self.n_trials:
            study.stop()


#: how often a worker that has done its share looks at the others' trials: the
#: study ends when the last of them does, so a coarse poll (the heartbeat
#: interval, 10 s) would add its whole period to every study
RETRY_POLL_S = 0.2


def queued_retries(study: optuna.Study) -> int:
    """How many retries of failed trials wait in the queue, not yet started."""
    with warnings.catch_warnings():  # experimental since Optuna 2.8, stable in use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return sum(RetryHeartbeatStaleTrialCallback.retried_trial_number(t) is not None
                   for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def _retry_queued(study: optuna.Study, deadline: float | None) -> bool:
    """After this process's share, with heartbeats on: wait while other processes'
    trials run, failing any whose heartbeat stopped (a killed worker's); True
    once such a trial's retry is queued (or one queued before waits). Without it
    a killed worker's trial would stay RUNNING, count towards ``n_trials``, and
    the survivors would stop short of it. Without heartbeats (or past
    ``deadline``): False at once."""
    storage = study._storage
    if not (isinstance(storage, BaseHeartbeat) and is_heartbeat_enabled(storage)):
        return False
    if queued_retries(study):  # once: a retry queued later is run by whoever queued it
        return True
    while deadline is None or time.monotonic() < deadline:
        failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
        with warnings.catch_warnings():  # experimental since Optuna 2.9, stable in use
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        if len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,))) > failed:
            return True
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if len(running) == len(abandoned_trials(study)):
            return False
        time.sleep(RETRY_POLL_S)
    return False
