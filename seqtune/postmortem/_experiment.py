"""Run the post-mortem grid as an Optuna study per rule, and read its verdict back.

Study ``<prefix>-<rule>`` (``postmortem-drift``, ``postmortem-ar2``) has one
categorical parameter, ``configuration``, walked by ``GridSampler``; each
trial's value is the val MSE as it should be computed, its intermediate
values the per-epoch val MSE, and its user attrs the evidence
(:mod:`seqtune.postmortem._evidence`). A rerun runs only the configurations
that have no finished trial yet.

Configurations that differ only after training (the warm-up and metric
defects) share one training run, and so do configurations that differ only
in their number of epochs (fixed epochs, last weights: the shorter is the
longer run stopped early, :func:`seqtune.trainer.fit_budgets`). The distinct
runs of all rules are trained first, in parallel worker processes (one torch
thread each), then each study's trials store what their configuration reads
from them.
"""

from __future__ import annotations

import json
import math
import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

import seqtune
from seqtune.blobs import get_blob, put_blob
from seqtune.errors import SeqtuneError, TrainingDiverged
from seqtune.postmortem._configs import Configuration, Setup, configurations
from seqtune.postmortem._evidence import (
    FluxTask,
    flux_evidence,
    history_facts,
    seed_numbers,
    split_numbers,
    train_flux_seeds,
    tuned_evidence,
)
from seqtune.postmortem._tuned import TUNED_RTOL, Tuned, find_tuned
from seqtune.postmortem._verdict import BASELINES, Verdict, answer, explain, judge
from seqtune.runtime import configure_threads, one_thread
from seqtune.study import TrialOutcome, open_storage, redact, repeat
from seqtune.tasks.seeded import RULES
from seqtune.tasks.seeded._baselines import seeded_baselines
from seqtune.trainer import FitResult

PARAM = "configuration"
Trained = FitResult | TrialOutcome | TrainingDiverged


@dataclass(frozen=True)
class _Job:
    """One training job: every seed of the chain under ``setup`` on data draw
    ``draw``, trained packed (and read off at each of ``shorter``, epoch counts
    of setups that differ from it only there), or the tuned model's seeds
    (``setup`` None)."""

    rule: str
    draw: int
    setup: Setup | None
    tuned: Tuned
    seeds: tuple[int, ...]
    shorter: tuple[int, ...] = ()

    @property
    def key(self) -> tuple[Any, ...]:
        return _key(self.rule, self.draw, self.setup)

    def keys(self) -> dict[int | None, tuple[Any, ...]]:
        """The key of every setup the job trains, by its epoch count."""
        if self.setup is None:
            return {None: self.key}
        return {e: _key(self.rule, self.draw, replace(self.setup, epochs=e))
                for e in (*self.shorter, self.setup.epochs)}

    def cost(self) -> float:
        """A rough size, to start the longest runs first."""
        if self.setup is None:
            return (self.tuned.max_epochs * 1000 / self.tuned.params.get("batch_size", 32) * 3
                    * self.tuned.params.get("hidden_size", 64) / 32 * len(self.seeds))
        batch = 3 if self.setup.batching_defect else self.setup.batch_size
        return (self.setup.epochs * math.ceil(1000 / batch)
                * (1 if self.setup.teacher_forcing >= 1 else 3))


def _key(rule: str, draw: int, setup: Setup | None) -> tuple[Any, ...]:
    return (rule, draw, setup.training_key() if setup else "tuned")


def _run_job(job: _Job) -> tuple[tuple[Any, ...], dict[tuple[Any, ...], list[Trained]]]:
    """The job's key and what it trained, by the key of each setup it serves."""
    task = FluxTask(rule=job.rule, seed=job.draw)
    keys = job.keys()
    if job.setup is not None:
        by_seed = train_flux_seeds(task, job.setup, list(job.seeds), job.shorter)
        return job.key, {key: [r[e] for r in by_seed] for e, key in keys.items()}
    t = job.tuned
    with one_thread():
        return job.key, {job.key: list(repeat(task, [t.params], list(job.seeds), t.max_epochs,
                                              t.patience, workers=1)[0])}


#: ``progress(what, done, total)`` after each training job (``run_postmortems``)
Progress = Callable[[str, int, int], None]


def _train_all(jobs: list[_Job], workers: int,
               progress: Callable[[tuple[Any, ...], int, int], None] | None = None
               ) -> dict[tuple[Any, ...], list[Trained]]:
    jobs = sorted(jobs, key=_Job.cost, reverse=True)

    def collect(results: Iterable[tuple[tuple[Any, ...], dict[tuple[Any, ...], list[Trained]]]]
                ) -> dict[tuple[Any, ...], list[Trained]]:
        out = {}
        for done, (key, trained) in enumerate(results, start=1):
            out.update(trained)
            if progress is not None:
                progress(key, done, len(jobs))
        return out

    if workers <= 1 or len(jobs) <= 1:
        return collect(_run_job(job) for job in jobs)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                             mp_context=multiprocessing.get_context("spawn"),
                             initializer=configure_threads) as pool:
        futures = [pool.submit(_run_job, job) for job in jobs]
        return collect(future.result() for future in as_completed(futures))


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Per-seed rows as one list per key: the compact ``per_seed`` user attr."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return {k: [r.get(k) for r in rows] for k in keys}


def _median(values: list[Any]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.median(kept)) if kept else None


class _Objective:
    """Stores the evidence of the configuration the grid sampler hands out:
    every seed's numbers (``per_seed``), their medians under the usual keys, and
    the full evidence (history, samples) of the first seed of the first draw."""

    def __init__(self, task: FluxTask, grid: list[Configuration], seeds: list[int],
                 draws: list[int], tuned: Tuned,
                 trained: dict[tuple[Any, ...], list[Trained]]) -> None:
        self.task, self.seeds, self.draws, self.tuned = task, seeds, draws, tuned
        self.trained = trained
        self.by_name = {c.name: c for c in grid}
        self.test = task.splits().test  # every draw is judged on the task's test split

    def _per_seed(self, config: Configuration) -> tuple[list[dict[str, Any]], Trained]:
        rule, rows, first = self.task.rule, [], None
        draws = self.draws if config.setup is not None else self.draws[:1]
        for draw in draws:
            key = (rule, draw, config.setup.training_key() if config.setup else "tuned")
            seeds = self.seeds if config.setup is not None else self.tuned_seeds
            val = FluxTask(rule=rule, seed=draw).splits().val
            for seed, result in zip(seeds, self.trained[key], strict=True):
                row: dict[str, Any] = {"seed": seed, "draw": draw}
                if isinstance(result, TrainingDiverged):
                    rows.append({**row, "diverged": True})
                    continue
                first = first if first is not None else result
                model = result.model if isinstance(result, FitResult) else result.fit.model
                setup = config.setup
                rows.append({**row, **seed_numbers(
                    model, val, self.test, bool(setup and setup.warmup_defect),
                    bool(setup and setup.metric_defect)),
                    **(history_facts(result, setup) if isinstance(result, FitResult)
                       and setup is not None else {})})
        if first is None:
            raise TrainingDiverged(f"{config.name}: training diverged under every seed")
        return rows, first

    @property
    def tuned_seeds(self) -> list[int]:
        return tuned_seeds(self.tuned, len(self.seeds))

    def _attrs(self, config: Configuration) -> dict[str, Any]:
        rows, first = self._per_seed(config)
        columns = _columns(rows)
        medians = {k: _median(columns[k]) for k in columns
                   if k.startswith(("val_", "test_"))}
        if isinstance(first, TrialOutcome):
            t = self.tuned
            reproduced = (None if t.stored_val_mse is None
                          else math.isclose(first.fit.best_value, t.stored_val_mse,
                                            rel_tol=TUNED_RTOL))
            attrs = {**tuned_evidence(self.task, first), "tuned_source": t.source,
                     "tuned_params": t.params, "seed": t.seed, "tuned_epochs": t.max_epochs,
                     "stored_val_mse": t.stored_val_mse,
                     "retrained_val_mse": first.fit.best_value, "tuned_rtol": TUNED_RTOL,
                     "reproduced_stored_value": reproduced}
        else:
            assert config.setup is not None
            attrs = {**flux_evidence(self.task, first, config.setup), "seed": self.seeds[0],
                     "setup": config.setup.as_dict(),
                     "defects_on": config.setup.defects_on()}
        return {**attrs, **medians, "per_seed": columns,
                "n_seeds": sum(not r.get("diverged") for r in rows)}

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


def tuned_seeds(tuned: Tuned, n: int) -> list[int]:
    """The tuned row's seeds: the stored trial's own seed first, then the next ones."""
    return [tuned.seed + k for k in range(n)]


def baseline_numbers(task: FluxTask) -> dict[str, dict[str, float]]:
    """The task's per-step mean, persistence and least squares (fitted on train),
    with the numbers every configuration stores, on val and test."""
    splits = task.splits()
    out = {}
    for b in seeded_baselines(task, splits):
        if b.name not in BASELINES:
            continue
        fitted = b.fitted["test"]
        numbers: dict[str, float] = {}
        for name, split in (("val", splits.val), ("test", splits.test)):
            pred = fitted.predict(split.inputs.astype(np.float64))
            numbers.update({f"{name}_{k}": float(f"{v:.5g}")
                            for k, v in split_numbers(split, pred, False).items()})
        out[b.name] = numbers
    return out


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
        put_blob(study, "settings", settings)
        attrs = {"task": task.config(), "metric": "mse",
                 "data_fingerprint": task.fingerprint(), "seqtune_version": seqtune.__version__}
        for key, value in attrs.items():
            study.set_user_attr(key, value)
        return study
    study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    stored = get_blob(study, "settings")
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


#: every configuration trains under this many seeds (weights and batch order) ...
N_SEEDS = 5
#: ... on each of this many data draws (task seeds 0, 1, ...; test is always draw 0's)
N_DRAWS = 1


def _plan(url: str, rule: str, max_epochs: int | None, seeds: list[int], draws: list[int],
          prefix: str, factorial: bool) -> _Plan:
    task = FluxTask(rule=rule)
    grid = [c if c.setup is None else Configuration(c.name, c.role, c.setup.capped(max_epochs),
                                                    c.about)
            for c in configurations(factorial=factorial)]
    settings = {"task": task.config(), "max_epochs": max_epochs, "seed": seeds[0],
                "seeds": seeds, "draws": draws,
                "grid": {c.name: c.setup.as_dict() if c.setup else "tuned" for c in grid}}
    sampler = optuna.samplers.GridSampler({PARAM: [c.name for c in grid]}, seed=seeds[0])
    study = _open_study(study_name(prefix, rule, max_epochs), url, task, settings, sampler)
    finished = {t.params.get(PARAM) for t in study.get_trials(deepcopy=False)
                if t.state.is_finished()}
    return _Plan(rule, task, grid, study, [c for c in grid if c.name not in finished])


def _jobs(pending: dict[str, list[Configuration]], seeds: list[int], draws: list[int],
          tuned: dict[str, Tuned]) -> tuple[dict[tuple[Any, ...], _Job],
                                             dict[tuple[Any, ...], list[str]]]:
    """The training jobs the pending configurations of each rule need, and the
    configurations each job serves, by job key: one job per training run (per
    rule, data draw and :meth:`Setup.run_key`), as long as its longest setup."""
    runs: dict[tuple[Any, ...], list[Configuration]] = {}
    for rule, grid in pending.items():
        for c in grid:
            for draw in draws if c.setup is not None else draws[:1]:
                runs.setdefault((rule, draw, c.setup.run_key() if c.setup else "tuned"),
                                []).append(c)
    jobs, serves = {}, {}
    for (rule, draw, _), configs in runs.items():
        setups = [c.setup for c in configs if c.setup is not None]
        longest = max(setups, key=lambda s: s.epochs) if setups else None
        shorter = sorted({s.epochs for s in setups} - {longest.epochs}) if longest else []
        job = _Job(rule, draw, longest, tuned[rule],
                   tuple(seeds if longest else tuned_seeds(tuned[rule], len(seeds))),
                   tuple(shorter))
        jobs[job.key] = job
        serves[job.key] = list(dict.fromkeys(c.name for c in configs))
    return jobs, serves


def run_postmortems(url: str, rules: list[str], *, studies: Path = Path("studies"),
                    max_epochs: int | None = None, seed: int = 0, prefix: str = "postmortem",
                    workers: int = 1, n_seeds: int = N_SEEDS, n_draws: int = N_DRAWS,
                    factorial: bool = True, progress: Progress | None = None
                    ) -> list[tuple[optuna.Study, Verdict]]:
    """Run (or resume) the grid for each rule; store and return each verdict.

    Every configuration trains under ``n_seeds`` seeds from ``seed`` on each of
    ``n_draws`` data draws (the tuned row: its own seed and the next ones, on the
    task's data). ``factorial``: add the knob factorial (all fixes on). Every
    option is checked, and each rule's tuned configuration found, before
    anything is written. ``progress(what, done, total)`` is called after each
    training job (``what``: the rule, data draw and configurations it serves).
    """
    for rule in rules:
        if rule not in RULES:
            raise SeqtuneError(f"--rule: unknown rule {rule!r}; expected one of {list(RULES)}")
    if max_epochs is not None and max_epochs < 1:
        raise SeqtuneError(f"--max-epochs: must be a positive integer, got {max_epochs}")
    if workers < 1:
        raise SeqtuneError(f"--workers: must be a positive integer, got {workers}")
    if n_seeds < 1 or n_draws < 1:
        raise SeqtuneError(f"--seeds/--draws: must be positive integers, got {n_seeds}, "
                           f"{n_draws}")
    if not prefix.strip():
        raise SeqtuneError("--study-prefix: expected a non-empty name")
    rules = list(dict.fromkeys(rules))
    seeds, draws = [seed + k for k in range(n_seeds)], list(range(n_draws))
    storage = open_storage(url)
    tuned = {rule: find_tuned(storage, rule, studies, max_epochs) for rule in rules}
    plans = [_plan(url, rule, max_epochs, seeds, draws, prefix, factorial) for rule in rules]
    jobs, serves = _jobs({p.rule: p.pending for p in plans}, seeds, draws, tuned)
    trained = _train_all(list(jobs.values()), workers, None if progress is None else (
        lambda key, done, total: progress(f"{key[0]}, draw {key[1]}: "
                                          + " / ".join(serves[key]), done, total)))
    out = []
    for p in plans:
        if p.pending:
            p.study.optimize(_Objective(p.task, p.grid, seeds, draws, tuned[p.rule], trained),
                             n_trials=len(p.pending), catch=(TrainingDiverged,))
        baselines = get_blob(p.study, "baselines")
        if baselines is None:
            baselines = baseline_numbers(p.task)
            put_blob(p.study, "baselines", baselines)
        verdict = judge(p.rule, results(p.study), baselines)
        for key, value in (("verdict", verdict.as_dict()), ("answer", answer(verdict)),
                           ("explanation", explain(verdict))):
            put_blob(p.study, key, value)
        out.append((p.study, verdict))
    return out
