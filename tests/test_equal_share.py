"""Equal budgets per architecture: the stratified sampler and the per-architecture
pruner, on toy objectives (no training) and on one tiny real study."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from seqtune.config import load_config
from seqtune.study import optimize
from seqtune.study._equal_share import (
    EqualShareSampler,
    PerArchitecturePruner,
    _ArchitectureView,
    trials_per_architecture,
)

REPO = Path(__file__).resolve().parents[1]
ARCHS = ["gru", "lstm", "rnn"]


def _study(pruner: optuna.pruners.BasePruner | None = None, storage: str | None = None,
           seed: int = 0) -> optuna.Study:
    sampler = EqualShareSampler(optuna.samplers.TPESampler(seed=seed, n_startup_trials=2),
                                ARCHS)
    return optuna.create_study(sampler=sampler, pruner=pruner, storage=storage,
                               direction="maximize")


def _toy(trial: optuna.Trial) -> float:
    arch = trial.suggest_categorical("architecture", ARCHS)
    x = trial.suggest_float("x", 0.0, 1.0)
    return {"gru": 2.0, "lstm": 1.0, "rnn": 0.0}[arch] + x


def test_every_architecture_gets_the_same_number_of_trials():
    study = _study()
    study.optimize(_toy, n_trials=12)
    assert trials_per_architecture(study) == {"gru": 4, "lstm": 4, "rnn": 4}
    # a plain TPE search over the same objective does not share equally
    plain = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=2),
                                direction="maximize")
    plain.optimize(_toy, n_trials=12)
    assert len(set(Counter(t.params["architecture"] for t in plain.trials).values())) > 1


def test_a_failed_trial_is_replaced_within_its_architecture():
    failed = []

    def objective(trial: optuna.Trial) -> float:
        value = _toy(trial)
        if trial.params["architecture"] == "rnn" and not failed:
            failed.append(trial.number)
            raise ValueError("diverged")
        return value

    study = _study()
    study.optimize(objective, n_trials=10, catch=(ValueError,))
    assert failed
    assert trials_per_architecture(study) == {"gru": 3, "lstm": 3, "rnn": 3}


def test_queued_trials_keep_their_architecture_and_count():
    study = _study()
    for arch in ARCHS:
        study.enqueue_trial({"architecture": arch, "x": 0.5})
    study.enqueue_trial({"architecture": "rnn", "x": 0.1})
    study.optimize(_toy, n_trials=6)
    assert [t.params["architecture"] for t in study.trials[:4]] == [*ARCHS, "rnn"]
    assert trials_per_architecture(study) == {"gru": 2, "lstm": 2, "rnn": 2}


def test_the_base_sampler_sees_only_its_architecture():
    study = _study()
    study.optimize(_toy, n_trials=9)
    view = _ArchitectureView(study, "lstm")
    assert {t.params["architecture"] for t in view.get_trials()} == {"lstm"}
    assert len(view.get_trials(states=(TrialState.COMPLETE,))) == 3
    assert len(view._get_trials(use_cache=True)) == 3


def test_concurrent_trials_spread_over_architectures(tmp_path):
    storage = f"sqlite:///{tmp_path / 'share.db'}"
    study = _study(storage=storage)
    study.optimize(_toy, n_trials=12, n_jobs=3)
    assert trials_per_architecture(study) == {"gru": 4, "lstm": 4, "rnn": 4}


def test_trials_started_at_the_same_moment_take_different_short_architectures():
    study = _study()
    study.optimize(_toy, n_trials=2)  # two architectures have a trial, one has none
    short = set(ARCHS) - set(trials_per_architecture(study))
    # two workers create their trials, and both count before either writes its choice
    ids = [study._storage.create_new_trial(study._study_id) for _ in range(2)]
    started = [study._storage.get_trial(i) for i in ids]
    chosen = [study.sampler._next(study, trial) for trial in started]
    assert chosen[0] in short  # the first takes the short one, the second does not
    assert chosen[1] != chosen[0]


def _slow_starter(trial: optuna.Trial) -> float:
    """GRU learns fast; the tanh RNN slowly but ends as high."""
    arch = trial.suggest_categorical("architecture", ARCHS)
    trial.suggest_float("x", 0.0, 1.0)
    for step in range(10):
        value = 1.0 if arch == "gru" else step / 10
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned
    return 1.0


@pytest.mark.parametrize("wrapped", [True, False])
def test_a_slow_starting_architecture_is_pruned_only_against_its_own(wrapped):
    median = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    study = _study(pruner=PerArchitecturePruner(median) if wrapped else median)
    study.optimize(_slow_starter, n_trials=12)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    if wrapped:
        assert pruned == []
    else:  # the plain pruner compares the RNN with the GRU's first epochs
        assert {t.params["architecture"] for t in pruned} & {"lstm", "rnn"}


def test_a_real_study_gives_each_architecture_its_share(sqlite_url):
    config = load_config(REPO / "studies" / "digitsum.toml").with_overrides(
        n_trials=6, max_epochs=2, patience=2, timeout=None, sweep={"length": [5]})
    study = optimize(config.expand()[0], sqlite_url, show_progress_bar=False, repeats=0)
    assert trials_per_architecture(study) == {"gru": 2, "lstm": 2, "rnn": 2}
