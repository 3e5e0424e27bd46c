"""A curriculum over a length sweep: each study's models start from the weights
the previous length's repeats ended with, where the shapes match."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
import torch

from seqtune.config import StudyConfig, parse_config
from seqtune.errors import SeqtuneError
from seqtune.study import optimize
from seqtune.study._curriculum import CarriedWeights
from seqtune.study._objective import train_and_score
from seqtune.study._refit import stored_repeats
from seqtune.tasks import make_task
from seqtune.tasks.digitsum import SELECTED_LOGISTIC
from seqtune.tasks.digitsum._report import CurvePoint, CurveValue, curve_verdict

REPO = Path(__file__).resolve().parents[1]
PARAMS = {"architecture": "gru", "hidden_size": 8, "num_layers": 1, "learning_rate": 1e-9,
          "batch_size": 64, "grad_clip": 1.0}


def _close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_a_model_starts_from_the_carried_weights_where_they_fit():
    task = make_task({"name": "digitsum", "length": 6})
    donor = train_and_score(task, PARAMS, max_epochs=1, patience=1, seed=1).fit.model
    carried = CarriedWeights("donor", {"gru": [donor.state_dict()]})
    init = carried.initial_state(task, PARAMS)
    # lr 1e-9: one epoch leaves the weights where they started
    started = train_and_score(task, PARAMS, max_epochs=1, patience=1, seed=2, init=init)
    fresh = train_and_score(task, PARAMS, max_epochs=1, patience=1, seed=2)
    assert _close(started.fit.model.state_dict(), donor.state_dict())
    assert not _close(fresh.fit.model.state_dict(), donor.state_dict())
    # another width or architecture does not fit: its seed's initialisation
    assert carried.initial_state(task, {**PARAMS, "hidden_size": 9}) is None
    assert carried.initial_state(task, {**PARAMS, "architecture": "lstm"}) is None


def _two_lengths(tmp_path: Path, architectures: list[str], curriculum: bool | list[str],
                 n_trials: int, repeats: int) -> tuple[StudyConfig, StudyConfig, str]:
    """The digitsum sweep at L = 5 and 6 with a tiny budget, both optimized."""
    doc = tomllib.loads((REPO / "studies" / "digitsum.toml").read_text())
    doc["sweep"] = {"length": [5, 6]}
    doc["study"].update(n_trials=n_trials, timeout=60)
    doc["train"] = {"max_epochs": 2, "patience": 2, "curriculum": curriculum}
    doc["space"]["architecture"] = architectures
    doc["start"] = {"hidden_size": 16, "learning_rate": 0.01, "batch_size": 64,
                    "grad_clip": 1.0}
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    first, second = parse_config(doc, "digitsum.toml").expand()
    for config in (first, second):
        optimize(config, url, show_progress_bar=False, repeats=repeats, workers=1)
    return first, second, url


def test_a_sweep_carries_each_seeds_weights_to_the_next_length(tmp_path):
    first, second, url = _two_lengths(tmp_path, ["gru"], True, n_trials=1, repeats=2)
    before = stored_repeats(optuna.load_study(study_name=first.name, storage=url))["gru"]
    study = optuna.load_study(study_name=second.name, storage=url)
    after = stored_repeats(study)["gru"]
    assert "init_from" not in before and after["init_from"] == first.name
    assert len(before["weights"]) == len(after["weights"]) == 2
    assert study.trials[0].user_attrs["init_from"] == first.name
    # the next queued trial: the same [start] from random weights, for the
    # study's selection to weigh carrying over against starting afresh
    optimize(replace(second, n_trials=2), url, show_progress_bar=False, repeats=0, workers=1)
    again = optuna.load_study(study_name=second.name, storage=url).trials[1]
    assert again.params == study.trials[0].params
    assert again.user_attrs["init"] == "seed" and "init_from" not in again.user_attrs
    # each seed continues its own chain: seed k at L=6 is closest to seed k at L=5
    carried = CarriedWeights.from_repeats(first.name, {"gru": before}, tmp_path / "artifacts")
    ended = CarriedWeights.from_repeats(second.name, {"gru": after}, tmp_path / "artifacts")
    assert carried is not None and ended is not None

    def distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
        return sum(float((a[k] - b[k]).norm()) for k in a)

    (a0, a1), (b0, b1) = carried.states["gru"], ended.states["gru"]
    assert distance(b0, a0) < distance(b0, a1) and distance(b1, a1) < distance(b1, a0)


@pytest.mark.parametrize("value", ["yes", ["gru", "tanh"], []])
def test_curriculum_is_true_false_or_some_architectures(value):
    doc = tomllib.loads((REPO / "studies" / "digitsum.toml").read_text())
    doc["train"]["curriculum"] = value
    with pytest.raises(SeqtuneError, match=r"train.curriculum: expected true, false or a "
                                           r"list of architectures of \[space\]"):
        parse_config(doc, "digitsum.toml")


def test_an_architecture_outside_the_curriculum_starts_from_random_weights(tmp_path):
    first, second, url = _two_lengths(tmp_path, ["gru", "rnn"], ["gru"], n_trials=2, repeats=1)
    stored = stored_repeats(optuna.load_study(study_name=first.name, storage=url))
    assert "weights" in stored["gru"] and "weights" not in stored["rnn"]
    trials = optuna.load_study(study_name=second.name, storage=url).get_trials(
        states=(optuna.trial.TrialState.COMPLETE,))
    assert [(t.params["architecture"], t.user_attrs.get("init_from")) for t in trials] == [
        ("gru", first.name), ("rnn", None)]


def test_the_curve_says_where_a_cell_started_from_the_previous_length():
    def value(mean: float, carried: bool) -> CurveValue:
        return CurveValue(mean, 5, mean - 0.01, mean + 0.01, carried)

    points = [CurvePoint(L, f"digitsum-L{L}", {"rnn": value(0.9, L > 5), "gru": value(1.0, False)},
                         {SELECTED_LOGISTIC: 1.0}) for L in (5, 10, 15)]
    lines = curve_verdict(points, here=15)
    rnn = next(line for line in lines if line.startswith("Memory curve, rnn"))
    gru = next(line for line in lines if line.startswith("Memory curve, gru"))
    assert ("Curriculum: started from the previous length's weights at L=10, 15, from random "
            "weights at L=5") in rnn
    assert "Curriculum" not in gru
