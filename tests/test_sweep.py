"""A length sweep: one [start] per architecture, a warm start from the previous
length's best, and the memory curve's verdict computed from its numbers."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pytest

from seqtune.config import parse_config
from seqtune.errors import SeqtuneError
from seqtune.study import best_per_architecture, optimize
from seqtune.tasks.digitsum import SELECTED_LOGISTIC
from seqtune.tasks.digitsum._report import CurvePoint, CurveValue, curve_verdict

REPO = Path(__file__).resolve().parents[1]


def _doc() -> dict:
    return tomllib.loads((REPO / "studies" / "digitsum.toml").read_text())


def test_each_architecture_has_its_own_start():
    config = parse_config(_doc(), "digitsum.toml")
    starts = {arch: config.start_for(arch) for arch in ("gru", "lstm", "rnn")}
    assert starts["gru"]["grad_clip"] == starts["lstm"]["grad_clip"] == 1.0  # shared key
    assert starts["rnn"]["grad_clip"] == 1.5  # its own table overrides the shared key
    assert starts["rnn"]["hidden_size"] != starts["gru"]["hidden_size"]
    assert starts["lstm"]["weight_decay"] == 0.0  # the shared key
    assert starts["gru"]["weight_decay"] == 0.1  # the GRU's own


@pytest.mark.parametrize(("start", "message"), [
    ({"tanh": {"hidden_size": 32}}, "start.tanh: a sub-table of [start] names an architecture"),
    ({"rnn": {"hidden_size": 512}}, "start.rnn.hidden_size: 512 is outside [space]"),
    ({"rnn": {"dropout": 0.1}}, "start.rnn.dropout"),
])
def test_a_bad_per_architecture_start_is_one_line(start, message):
    doc = _doc()
    doc["start"] = {**doc["start"], **start}
    with pytest.raises(SeqtuneError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(doc, "digitsum.toml")


def test_the_next_length_starts_from_the_previous_best(tmp_path):
    doc = _doc()
    doc["sweep"] = {"length": [5, 10]}
    doc["study"].update(n_trials=3, timeout=60)
    doc["train"] = {"max_epochs": 2, "patience": 2}
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    first, second = parse_config(doc, "digitsum.toml").expand()
    assert (first.follows, second.follows) == (None, first.name)
    # L=5 starts elsewhere, so its best differs from L=10's own [start]
    first = replace(first, start={
        **{k: ({**v, "grad_clip": 2.0} if isinstance(v, dict) else v)
           for k, v in first.start.items()}, "grad_clip": 2.0})
    optimize(first, url, show_progress_bar=False, repeats=0)
    optimize(second, url, show_progress_bar=False, repeats=0)
    previous = optuna.load_study(study_name=first.name, storage=url)
    best = {r["architecture"]: previous.trials[r["trial"]].params
            for r in best_per_architecture(previous)}
    study = optuna.load_study(study_name=second.name, storage=url)
    # three [start] trials ran; each architecture's best of L=5 waits in the queue
    queued = [t.system_attrs["fixed_params"] for t in study.trials[3:]]
    assert len(best) == 3 and all(p["grad_clip"] == 2.0 for p in best.values())
    assert all(p in queued for p in best.values())
    assert study.user_attrs["start_queued"] == 6


def _value(mean: float, half: float | None = 0.02, seeds: int = 5) -> CurveValue:
    if half is None:
        return CurveValue(mean, 1)
    return CurveValue(mean, seeds, mean - half, mean + half)


def _points(rnn_35: CurveValue) -> list[CurvePoint]:
    return [CurvePoint(10, "digitsum-L10", {"lstm": _value(0.99), "rnn": _value(0.95)},
                       {SELECTED_LOGISTIC: 1.0, "majority class": 0.1}),
            CurvePoint(35, "digitsum-L35", {"lstm": _value(0.97), "rnn": rnn_35},
                       {SELECTED_LOGISTIC: 1.0, "majority class": 0.1})]


def test_the_curve_verdict_follows_the_numbers():
    lines = curve_verdict(_points(_value(0.30)), here=35)
    rnn = next(line for line in lines if line.startswith("Memory curve, rnn"))
    assert "mean test accuracy over 5 seeds" in rnn
    assert "Mean accuracy >= 0.9 up to L=10 (0.95 [0.93, 0.97])" in rnn
    assert f"below the {SELECTED_LOGISTIC} (interval wholly under it) at L=10, 35" in rnn
    lstm = next(line for line in lines if line.startswith("Memory curve, lstm"))
    assert "and at every length shown" in lstm
    claims = next(line for line in lines if line.startswith("Against the book's claims"))
    assert "rnn falls with length (0.95 -> 0.30)" in claims
    assert "lstm does not fall with length" in claims
    assert "the LSTM is above the tanh RNN at 2 of 2 lengths (intervals apart at 1)" in claims
    assert "reaches the post's untuned SRN at 2 of 2 book lengths" in claims
    assert any("cannot be told apart from" not in line and "At L=35 the best cell (lstm"
               in line and "is below" in line for line in lines)


def test_one_seed_is_called_an_anecdote():
    points = _points(_value(0.20, half=None))
    points = [CurvePoint(p.length, p.study, {"rnn": p.tuned["rnn"]}, p.baselines)
              for p in points if p.length == 35]
    (rnn, *_) = curve_verdict(points, here=35)
    assert "one run per length: an anecdote, no interval" in rnn
    assert "under it with one seed (no interval) at L=35" in rnn
    assert "short of it at L=35" in curve_verdict(points, here=35)[1]


def test_a_mean_of_exactly_0_9_still_remembers():
    def rnn_line(value: CurveValue) -> str:
        return next(line for line in curve_verdict(_points(value), here=35)
                    if line.startswith("Memory curve, rnn"))

    mean = float(np.mean([0.82, 0.94, 0.94]))  # 0.8999999999999999
    assert mean < 0.9
    assert "Mean accuracy >= 0.9 up to L=35 (0.90 [0.88, 0.92])" in rnn_line(
        _value(mean, seeds=3))
    assert "Mean accuracy >= 0.9 up to L=10 " in rnn_line(_value(0.89))
