"""Repeats: every seed of a configuration gives what training it alone gives,
whichever way (packed, worker processes) the repeats are run."""

from __future__ import annotations

import pytest

from seqtune.errors import SeqtuneError, TrainingDiverged
from seqtune.study import packing_pays, repeat, train_and_score
from seqtune.study._repeats import job_cost
from seqtune.tasks import make_task

SEEDS = [11, 12, 13]
SMALL_RNN = {"architecture": "rnn", "hidden_size": 8, "num_layers": 1, "batch_size": 16,
             "learning_rate": 0.01, "grad_clip": 1.0}
SMALL_LSTM = {**SMALL_RNN, "architecture": "lstm"}


@pytest.fixture(scope="module")
def task():
    return make_task({"name": "digitsum", "length": 5})


@pytest.fixture(scope="module")
def alone(task):
    return {(params["architecture"], seed): train_and_score(task, params, 3, 3, seed)
            for params in (SMALL_RNN, SMALL_LSTM) for seed in SEEDS}


@pytest.mark.parametrize("workers,pack", [(1, True), (2, True), (2, False)])
def test_repeats_give_each_seed_its_own_run(task, alone, workers, pack):
    runs = repeat(task, [SMALL_RNN, SMALL_LSTM], SEEDS, 3, 3, workers=workers, pack=pack)
    assert len(runs) == 2 and all(len(r) == len(SEEDS) for r in runs)
    for params, per_seed in zip((SMALL_RNN, SMALL_LSTM), runs, strict=True):
        for seed, outcome in zip(SEEDS, per_seed, strict=True):
            single = alone[(params["architecture"], seed)]
            assert not isinstance(outcome, TrainingDiverged)
            assert outcome.fit.best_epoch == single.fit.best_epoch
            assert outcome.test == pytest.approx(single.test, rel=1e-4, abs=1e-6)
            assert outcome.fit.history[-1]["train_loss"] == pytest.approx(
                single.fit.history[-1]["train_loss"], rel=1e-4)


def test_packing_is_chosen_for_small_models_only():
    assert packing_pays({"architecture": "rnn", "hidden_size": 32, "batch_size": 8})
    assert packing_pays({"architecture": "gru", "hidden_size": 16, "batch_size": 32})
    assert not packing_pays({"architecture": "gru", "hidden_size": 240, "batch_size": 32})
    assert packing_pays({"architecture": "lstm", "hidden_size": 3, "batch_size": 3})
    assert not packing_pays({"architecture": "lstm", "hidden_size": 32, "batch_size": 8})


def test_job_cost_ranks_jobs_as_their_measured_times():
    """The cost estimate ranks the digitsum starts as their measured times do
    (one thread, 20 epochs at L=35: LSTM 240 4.4 s, GRU 128 2.3 s, tanh RNN 144
    at batch 64 0.7 s), and a pack of 5 costs less than 5 separate seeds."""
    lstm = {"architecture": "lstm", "hidden_size": 240, "batch_size": 32}
    gru = {"architecture": "gru", "hidden_size": 128, "batch_size": 32}
    rnn = {"architecture": "rnn", "hidden_size": 144, "batch_size": 64}
    costs = [job_cost(p, 20, 1, packed=False) for p in (lstm, gru, rnn)]
    assert costs == sorted(costs, reverse=True)
    nndl = {"architecture": "rnn", "hidden_size": 32, "batch_size": 8}
    assert job_cost(nndl, 20, 5, packed=True) < 5 * job_cost(nndl, 20, 1, packed=False)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_in_any_job_reaches_the_caller(task, workers):
    broken = {**SMALL_RNN, "architecture": "transformer"}
    with pytest.raises(SeqtuneError, match="transformer"):
        repeat(task, [SMALL_RNN, broken], SEEDS, 2, 2, workers=workers, pack=False)
