"""Run the post-mortem grid as an Optuna study per rule, and read its verdict back.

Study ``<prefix>-<rule>`` (``postmortem-drift``, ``postmortem-ar2``) has one
categorical parameter, ``configuration``, walked by ``GridSampler``; each
trial's value is the val MSE as it should be computed, its intermediate
values the per-epoch val MSE, and its user attrs the evidence
(:mod:`seqtune.postmortem._evidence`). A rerun runs only the configurations
that have no finished trial yet.

Configurations that differ only after training (the warm-up and metric
defects) share one training run. The distinct runs of all rules are trained
first, in parallel worker processes (one torch thread each), then each
study's trials store what their configuration reads from them.
"""

from __future__ import annotations

import json
import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

import seqtune
from seqtune.errors import SeqtuneError, TrainingDiverged
from seqtune.postmortem._configs import Configuration, Setup, configurations
from seqtune.postmortem._evidence import (
    FluxTask,
    flux_evidence,
    train_flux,
    tuned_evidence,
)
from seqtune.postmortem._tuned import Tuned, find_tuned
from seqtune.postmortem._verdict import Verdict, explain, judge
from seqtune.runtime import configure_threads, one_thread
from seqtune.study import TrialOutcome, open_storage, redact, train_and_score
from seqtune.tasks.seeded import RULES
from seqtune.trainer import FitResult

PARAM = "configuration"
Trained = FitResult | TrialOutcome | TrainingDiverged


@dataclass(frozen=True)
class _Job:
    """One training run: the chain under ``setup``, or the tuned model (None)."""

    rule: str
    setup: Setup | None
    tuned: Tuned
    seed: int

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.rule, self.setup.training_key() if self.setup else "tuned")

    def cost(self) -> float:
        """A rough size, to start the longest runs first."""
        if self.setup is None:
            return (self.tuned.max_epochs * 1000 / self.tuned.params.get("batch_size", 32) * 3
                    * self.tuned.params.get("hidden_size", 64) / 32)
        batch = 3 if self.setup.batching_defect else self.setup.batch_size
        return (self.setup.epochs * math.ceil(1000 / batch)
                * (1 if self.setup.teacher_forcing >= 1 else 3))


def _run_job(job: _Job) -> tuple[tuple[Any, ...], Trained]:
    task = FluxTask(rule=job.rule)
    try:
        if job.setup is not None:
            return job.key, train_flux(task, job.setup, job.seed)
        t = job.tuned
        with one_thread():
            return job.key, train_and_score(task, t.params, t.max_epochs, t.patience, t.seed)
    except TrainingDiverged as exc:
        return job.key, exc


def _train_all(jobs: list[_Job], workers: int) -> dict[tuple[Any, ...], Trained]:
    jobs = sorted(jobs, key=_Job.cost, reverse=True)
    if workers <= 1 or len(jobs) <= 1:
        return dict(_run_job(job) for job in jobs)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                             mp_context=multiprocessing.get_context("spawn"),
                             initializer=configure_threads) as pool:
        return dict(pool.map(_run_job, jobs))


class _Objective:
    """Stores the evidence of the configuration the grid sampler hands out."""

    def __init__(self, task: FluxTask, grid: list[Configuration], seed: int, tuned: Tuned,
                 trained: dict[tuple[Any, ...], Trained]) -> None:
        self.task, self.seed, self.tuned, self.trained = task, seed, tuned, trained
        self.by_name = {c.name: c for c in grid}

    def _attrs(self, config: Configuration) -> dict[str, Any]:
        rule = self.task.rule
        result = self.trained[(rule, config.setup.training_key() if config.setup else "tuned")]
        if isinstance(result, TrainingDiverged):
            raise result
        if isinstance(result, TrialOutcome):
            t = self.tuned
            reproduced = (None if t.stored_val_mse is None
                          else math.isclose(result.fit.best_value, t.stored_val_mse,
                                            rel_tol=1e-6))
            return {**tuned_evidence(self.task, result), "tuned_source": t.source,
                    "tuned_params": t.params, "seed": t.seed,
                    "reproduced_stored_value": reproduced}
        assert config.setup is not None
        return {**flux_evidence(self.task, result, config.setup), "seed": self.seed,
                "setup": config.setup.as_dict(), "defects_on": config.setup.defects_on()}

    def __call__(self, trial: optuna.Trial) -> float:
        config = self.by_name[trial.suggest_categorical(PARAM, list(self.by_name))]
        trial.set_user_attr("role", config.role)
        trial.set_user_attr("about", config.about)
        try:
            attrs = self._attrs(config)
        except TrainingDiverged as exc:
            trial.set_user_attr("error", f"TrainingDiverged: {exc}")
            raise
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        for h in attrs["history"]:
            trial.report(h["val_mse"], h["epoch"])
        return attrs["val_mse"]


def study_name(prefix: str, rule: str, max_epochs: int | None = None) -> str:
    """``postmortem-drift``; a capped run is its own study (``postmortem-cap3-drift``)."""
    return f"{prefix}-{rule}" if max_epochs is None else f"{prefix}-cap{max_epochs}-{rule}"


def _open_study(name: str, url: str, task: FluxTask, settings: dict[str, Any],
                sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    """Create the study, or load it if it was run with the same settings."""
    storage = open_storage(url)
    try:
        storage.get_study_id_from_name(name)
    except KeyError:
        study = optuna.create_study(study_name=name, storage=storage, sampler=sampler,
                                    direction="minimize")
        attrs = {"settings": settings, "task": task.config(), "metric": "mse",
                 "data_fingerprint": task.fingerprint(), "seqtune_version": seqtune.__version__}
        for key, value in attrs.items():
            study.set_user_attr(key, value)
        return study
    study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    stored = study.user_attrs.get("settings")
    if stored != json.loads(json.dumps(settings)):
        raise SeqtuneError(f"study {name!r} in {redact(url)} holds a post-mortem run with other "
                           f"settings ({json.dumps(stored, sort_keys=True)[:200]}); use another "
                           "--study-prefix, or the same --seed")
    return study


def results(study: optuna.Study) -> dict[str, dict[str, Any]]:
    """Configuration name -> user attrs of its (latest) COMPLETE trial, in grid order."""
    found = {t.params[PARAM]: dict(t.user_attrs)
             for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}
    order = {c.name: i for i, c in enumerate(configurations())}
    return dict(sorted(found.items(), key=lambda kv: order.get(kv[0], len(order))))


@dataclass
class _Plan:
    rule: str
    task: FluxTask
    grid: list[Configuration]
    study: optuna.Study
    pending: list[Configuration]


def _plan(url: str, rule: str, max_epochs: int | None, seed: int, prefix: str) -> _Plan:
    task = FluxTask(rule=rule)
    grid = [c if c.setup is None else Configuration(c.name, c.role, c.setup.capped(max_epochs),
                                                    c.about) for c in configurations()]
    settings = {"task": task.config(), "max_epochs": max_epochs, "seed": seed,
                "grid": {c.name: c.setup.as_dict() if c.setup else "tuned" for c in grid}}
    sampler = optuna.samplers.GridSampler({PARAM: [c.name for c in grid]}, seed=seed)
    study = _open_study(study_name(prefix, rule, max_epochs), url, task, settings, sampler)
    finished = {t.params.get(PARAM) for t in study.get_trials(deepcopy=False)
                if t.state.is_finished()}
    return _Plan(rule, task, grid, study, [c for c in grid if c.name not in finished])


def run_postmortems(url: str, rules: list[str], *, studies: Path = Path("studies"),
                    max_epochs: int | None = None, seed: int = 0, prefix: str = "postmortem",
                    workers: int = 1) -> list[tuple[optuna.Study, Verdict]]:
    """Run (or resume) the grid for each rule; store and return each verdict.

    Every option is checked, and each rule's tuned configuration found, before
    anything is written.
    """
    for rule in rules:
        if rule not in RULES:
            raise SeqtuneError(f"--rule: unknown rule {rule!r}; expected one of {list(RULES)}")
    if max_epochs is not None and max_epochs < 1:
        raise SeqtuneError(f"--max-epochs: must be a positive integer, got {max_epochs}")
    if workers < 1:
        raise SeqtuneError(f"--workers: must be a positive integer, got {workers}")
    if not prefix.strip():
        raise SeqtuneError("--study-prefix: expected a non-empty name")
    rules = list(dict.fromkeys(rules))
    storage = open_storage(url)
    tuned = {rule: find_tuned(storage, rule, studies, max_epochs) for rule in rules}
    plans = [_plan(url, rule, max_epochs, seed, prefix) for rule in rules]
    jobs = {job.key: job for p in plans for c in p.pending
            for job in [_Job(p.rule, c.setup, tuned[p.rule], seed)]}
    trained = _train_all(list(jobs.values()), workers)
    out = []
    for p in plans:
        if p.pending:
            p.study.optimize(_Objective(p.task, p.grid, seed, tuned[p.rule], trained),
                             n_trials=len(p.pending), catch=(TrainingDiverged,))
        verdict = judge(p.rule, results(p.study))
        p.study.set_user_attr("verdict", verdict.as_dict())
        p.study.set_user_attr("explanation", explain(verdict))
        out.append((p.study, verdict))
    return out
