"""Repeats after a study: each architecture's best configuration retrained on
train+val for its selected epochs under K seeds, stored per seed on the study."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

import seqtune.trainer
from seqtune.config import load_config
from seqtune.study import _refit, optimize, train_and_score
from seqtune.study._refit import repeat_points, repeat_seeds, stored_repeats
from seqtune.tasks import make_task

REPO = Path(__file__).resolve().parents[1]
K = 2


@pytest.fixture(scope="module")
def drift(tmp_path_factory):
    """A tiny seeded-drift study (2 trials of 3 epochs, one per architecture)."""
    folder = tmp_path_factory.mktemp("refit")
    url = f"sqlite:///{folder / 'studies.db'}"
    config = load_config(REPO / "studies" / "seeded-drift.toml").with_overrides(
        n_trials=2, max_epochs=3, patience=3, timeout=None)
    study = optimize(config, url, show_progress_bar=False, workers=1, repeats=K)
    return url, config, study, folder / "artifacts"


def test_repeats_are_stored_per_seed_and_read_back_with_plain_optuna(drift):
    url, config, _, _ = drift
    # Optuna's storage API alone reads them (no seqtune code)
    storage = optuna.storages.RDBStorage(url)
    attrs = storage.get_study_system_attrs(storage.get_study_id_from_name(config.name))
    archs = {t.params["architecture"] for t in optuna.load_study(
        study_name=config.name, storage=url).get_trials(
        states=(optuna.trial.TrialState.COMPLETE,))}
    assert archs and {f"seqtune:repeats_{a}" for a in archs} <= set(attrs)
    for arch in archs:
        record = attrs[f"seqtune:repeats_{arch}"]
        assert record["protocol"] == "train+val"
        assert record["seeds"] == repeat_seeds(config.seed, K)
        assert len(record["test_mse"]) == len(record["test_nmse"]) == K
        assert all(isinstance(v, float) and v > 0 for v in record["test_mse"])
    # and they stay out of the table that `optuna studies` prints
    out = subprocess.run([str(Path(sys.executable).with_name("optuna")), "studies",
                          "--storage", url, "-f", "json"], capture_output=True, text=True,
                         check=True).stdout
    (row,) = [r for r in json.loads(out) if r["name"] == config.name]
    assert not any(key.startswith("repeats_") for key in row["user_attrs"])


def test_the_tuned_test_number_comes_from_a_train_val_refit(drift, monkeypatch):
    url, config, study, artifacts = drift
    task = make_task(config.task)
    arch, record = sorted(stored_repeats(study).items())[0]
    trial = study.trials[record["trial"]]
    assert record["epochs"] == trial.user_attrs["best_epoch"]
    params = {**{k: v for k, v in config.space.items()
                 if not isinstance(v, optuna.distributions.BaseDistribution)}, **trial.params}
    seen = []
    real = seqtune.trainer._train

    def spy(task_, splits, configs, *args):
        seen.append((len(splits.train), configs[0]))
        return real(task_, splits, configs, *args)

    monkeypatch.setattr(seqtune.trainer, "_train", spy)
    seed = record["seeds"][0]
    refit = train_and_score(task, params, record["epochs"], 1, seed, refit=True)
    plain = train_and_score(task, params, record["epochs"], 1, seed)
    splits = task.splits()
    (n_refit, cfg_refit), (n_plain, _) = seen
    assert n_refit == len(splits.train) + len(splits.val) and n_plain == len(splits.train)
    assert cfg_refit.max_epochs == record["epochs"] and not cfg_refit.restore_best
    assert cfg_refit.keep_lowest_train_loss and not cfg_refit.validate
    assert len(refit.fit.history) == record["epochs"]  # no early stopping
    assert refit.test["mse"] == pytest.approx(record["test_mse"][0], rel=1e-4)
    assert refit.test["mse"] != pytest.approx(plain.test["mse"], rel=1e-6)
    # the per-point test metric of every seed is kept as a study artifact
    points = repeat_points(record, artifacts)
    assert points.shape == (K, len(splits.test))
    assert np.mean(points, axis=1) == pytest.approx(record["test_mse"], rel=1e-4)


def test_a_rerun_keeps_the_stored_repeats(drift, monkeypatch):
    url, config, _, _ = drift

    def refuse(*args, **kwargs):
        raise AssertionError("repeats recomputed")

    monkeypatch.setattr(_refit, "repeat", refuse)
    study = optimize(config, url, show_progress_bar=False, workers=1, repeats=K)
    assert len(stored_repeats(study)) >= 1


def test_default_refit_splits_concatenate_train_and_val():
    for config in ({"name": "digitsum", "length": 5}, {"name": "rainfall"}):
        task = make_task(config)
        s, r = task.splits(), task.refit_splits()
        assert np.array_equal(r.train.inputs, np.concatenate([s.train.inputs, s.val.inputs]))
        assert np.array_equal(r.train.targets, np.concatenate([s.train.targets, s.val.targets]))
        assert np.array_equal(r.test.targets, s.test.targets)
