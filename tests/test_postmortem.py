"""The Flux post-mortem: each defect switch really changes behaviour, the verdict
follows the numbers, and a small grid study runs end to end and resumes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

from seqtune.blobs import get_blob
from seqtune.config import load_config
from seqtune.postmortem import (
    ALL_FIXED,
    ORIGINAL,
    FluxChain,
    FluxTask,
    answer,
    configurations,
    explain,
    find_tuned,
    helper_inputs,
    judge,
    question_mse,
    run_postmortems,
    train_flux,
)
from seqtune.study import open_storage, optimize, train_and_score
from seqtune.tasks import Split
from seqtune.trainer import predict

REPO = Path(__file__).resolve().parents[1]


class RecordingChain(FluxChain):
    """The real chain, remembering every batch the trainer hands to its loss."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[np.ndarray, np.ndarray]] = []

    def loss(self, sequences, targets, teacher_forcing=1.0):
        self.batches.append((sequences.numpy().copy(), targets.numpy().copy()))
        return super().loss(sequences, targets, teacher_forcing)


@pytest.fixture(scope="module")
def task() -> FluxTask:
    return FluxTask(rule="drift", n_train=62, n_val=20, n_test=20)


def _sequences(task: FluxTask) -> np.ndarray:
    train = task.splits().train
    return np.concatenate([train.inputs, train.targets], axis=1)


def test_batching_defect_trains_on_unshuffled_batches_of_three_whose_targets_are_inputs(task):
    model = RecordingChain()
    train_flux(task, replace(ORIGINAL, epochs=2), seed=0, model=model)
    assert len(model.batches) == 2 * 20  # floor(62 / 3) batches per epoch
    assert {len(x) for x, _ in model.batches} == {3}
    for x, y in model.batches:
        np.testing.assert_array_equal(x, y)  # the "targets" are the inputs
    seqs = _sequences(task)
    for epoch in range(2):  # the stored order, every epoch
        seen = np.concatenate([x for x, _ in model.batches[epoch * 20:(epoch + 1) * 20]])
        np.testing.assert_array_equal(seen, seqs[:60])


def test_fixed_batching_uses_the_requested_size_shuffled_with_next_value_targets(task):
    model = RecordingChain()
    train_flux(task, replace(ALL_FIXED, epochs=2), seed=0, model=model)
    assert [len(x) for x, _ in model.batches[:4]] == [16, 16, 16, 14]
    for x, y in model.batches:
        np.testing.assert_array_equal(y, x[:, 1:])  # y = the sequence shifted by one
    seqs = _sequences(task)
    epochs = [np.concatenate([x for x, _ in model.batches[e * 4:(e + 1) * 4]])
              for e in range(2)]
    assert not np.array_equal(epochs[0], seqs) and not np.array_equal(epochs[0], epochs[1])
    assert sorted(map(tuple, epochs[1])) == sorted(map(tuple, seqs))


def test_warmup_defect_makes_predictions_blind_to_seeds_one_to_four():
    torch.manual_seed(3)
    model = FluxChain()
    rng = np.random.default_rng(0)
    seeds = rng.uniform(-1, 1, size=(64, 5)).astype(np.float32)
    other = seeds.copy()
    other[:, :4] = rng.uniform(-1, 1, size=(64, 4))
    blind = [predict(model, helper_inputs(s, warmup_defect=True)) for s in (seeds, other)]
    np.testing.assert_array_equal(blind[0], blind[1])
    seeing = [predict(model, helper_inputs(s, warmup_defect=False)) for s in (seeds, other)]
    assert np.abs(seeing[0] - seeing[1]).max() > 1e-3


def test_fused_loss_equals_the_questions_one_value_per_call_loop():
    torch.manual_seed(0)
    model = FluxChain()
    seqs = torch.rand(4, 10) * 2 - 1
    targets = seqs[:, 1:]
    state = model.reset(4)
    for i in range(4):  # myloss: warm-up, outputs ignored
        _, state = model.chain(seqs[:, i:i + 1], state)
    expected = 0.0
    for i in range(4, 9):
        out, state = model.chain(seqs[:, i:i + 1], state)
        expected = expected + torch.mean((out[:, 0] - targets[:, i]) ** 2)
    torch.testing.assert_close(model.loss(seqs, targets), expected)
    # teacher forcing 0 feeds the model's own outputs: another loss
    assert not torch.isclose(model.loss(seqs, targets, teacher_forcing=0.0), expected)


def test_questions_error_drops_the_last_step_and_sums_over_steps(task):
    targets = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    preds = np.array([[1.0, 2.0, 3.0, 4.0, 15.0], [1.0, 1.0, 1.0, 2.0, 0.0]])
    # per sequence: sum of squares over the first 4 steps -> 0 and 1+1+1+4; mean over sequences
    assert question_mse(targets, preds) == pytest.approx((0 + 7) / 2)
    seeds = np.array([[0.1, 0.2, 0.3, 0.4, 0.5], [0.5, 0.4, 0.3, 0.2, 0.1]])
    scores = task.score(Split(seeds, targets), preds)
    # as it should be: the mean over all 10 values, the seeded task's metric
    assert scores["mse"] == pytest.approx((100 + 7) / 10)
    assert scores["mse_question"] == pytest.approx(3.5)


def _row(role: str, about: str = "", drift: float = 1.0, slope: float = 0.5,
         nmse: float = 0.05) -> dict:
    return {"role": role, "about": about, "val_mse": nmse * 1.1, "val_mse_question": nmse * 4,
            "val_nmse": nmse, "val_drift_ratio": drift, "seed4_slope": slope,
            "seed4_slope_true": 0.5, "setup": {"epochs": 20, "width": 3, "head": 5,
                                               "learning_rate": 1e-3, "teacher_forcing": 1.0}}


def _table(**overrides: dict) -> dict[str, dict]:
    table = {c.name: _row(c.role, c.about) for c in configurations()}
    for name, values in overrides.items():
        table[name.replace("_", "-")].update(values)
    return table


def test_verdict_names_the_defect_that_alone_collapses_the_model():
    collapsed = {"val_drift_ratio": 0.04, "seed4_slope": 0.01, "val_nmse": 0.9}
    table = _table(only_batching=collapsed, original=collapsed,
                   fix_warmup=collapsed, fix_metric=collapsed)
    verdict = judge("drift", table)
    assert verdict.culprits == ["batching"]
    assert verdict.harmless == ["warmup", "metric"]
    assert verdict.restoring_fixes == ["batching"]
    text = explain(verdict)
    assert ("the batching helper collapses it in 1/1 seeds, a seed-independent change from "
            "the last seed in 1/1 seeds" in text)
    assert "Restored by a single fix of the original: fixing the batching helper" in text


def test_verdict_says_so_when_nothing_collapses_and_its_numbers_follow_the_table():
    verdict = judge("ar2", _table())
    assert verdict.culprits == []
    text = explain(verdict)
    assert "No defect put back alone collapses the working reference" in text
    assert "does not reproduce the question's symptom" in text
    changed = explain(judge("ar2", _table(all_fixes={"val_drift_ratio": 0.917})))
    assert "drift ratio 0.917" in changed and "drift ratio 0.917" not in text


def _seeds(**columns: list) -> dict:
    n = len(next(iter(columns.values())))
    base = {"seed": list(range(n)), "draw": [0] * n, "test_nmse": [0.9] * n,
            "test_drift_ratio": [0.05] * n, "test_seed4_slope": [0.01] * n,
            "test_seed4_slope_true": [0.5] * n, "test_bias": [1.0] * n, "test_mse": [1.0] * n,
            "test_mse_question": [4.0] * n}
    return {"per_seed": {**base, **columns}}


def test_stated_shares_follow_each_seeds_stored_numbers():
    original = _seeds(test_drift_ratio=[0.05] * 5)
    text = explain(judge("drift", _table(original=original)))
    assert "reproduces the question's symptom in 5/5 seeds" in text
    assert "a seed-independent change from the last seed in 5/5 seeds" in text
    assert "biased in 5/5 seeds" in text
    # one seed's stored numbers change: the stated share changes with it
    original["per_seed"]["test_drift_ratio"][2] = 0.95
    original["per_seed"]["test_seed4_slope"][2] = 0.49
    original["per_seed"]["test_bias"][2] = 0.0
    verdict = judge("drift", _table(original=original))
    text = explain(verdict)
    assert "reproduces the question's symptom in 4/5 seeds" in text
    assert "a seed-independent change from the last seed in 4/5 seeds" in text
    assert "biased in 4/5 seeds" in text
    assert verdict.with_role("original").state == "seed-independent change 4/5"
    # a majority is needed: 2 of 5 collapsed is no collapse
    for k in (0, 1, 3):
        original["per_seed"]["test_drift_ratio"][k] = 0.95
        original["per_seed"]["test_seed4_slope"][k] = 0.49
    text = explain(judge("drift", _table(original=original)))
    assert ("does not reproduce the question's symptom in a majority of seeds "
            "(collapsed in 1/5)") in text


def test_answer_ranks_the_defects_that_matter_by_measured_effect():
    def answer_for(batching_nmse: float, warmup_nmse: float) -> str:
        table = _table(only_batching={"val_drift_ratio": 0.04, "seed4_slope": 0.01,
                                      "val_nmse": batching_nmse},
                       only_warmup={"val_drift_ratio": 0.8, "seed4_slope": 0.02,
                                    "val_nmse": warmup_nmse})
        return answer(judge("drift", table))

    text = answer_for(0.9, 1.5)
    assert text.startswith("ANSWER (rule drift, the question's)") and "not executed here" in text
    # the warm-up costs more here (+1.45 vs +0.85): it comes first
    assert text.index("1. The prediction helper's warm-up") < text.index("2. The batching helper")
    assert "+    [m(seq[i]) for i in 1:nSeeds-1]" in text  # the warm-up fix, in Julia
    assert "-    x = copy(xtrain)" in text and "batchSize = 3" in text
    assert "ytrain/yval reassignment" in text and "UndefVarError" in text
    swapped = answer_for(1.5, 0.9)
    assert (swapped.index("1. The batching helper")
            < swapped.index("2. The prediction helper's warm-up"))


def test_factorial_finds_the_smallest_restoring_set_of_knobs():
    from itertools import combinations

    from seqtune.postmortem import factorial
    from seqtune.postmortem._configs import KNOBS, with_knobs

    table = _table()
    restoring = {("width", "lr"), ("width", "lr", "epochs")}
    for size in range(len(KNOBS) + 1):
        for knobs in combinations(KNOBS, size):
            good = any(set(r) <= set(knobs) for r in restoring)
            table[f"f-{'+'.join(knobs)}"] = {
                **_row("factorial", "+".join(knobs), nmse=0.01 if good else 0.6,
                       drift=1.0 if good else 0.5),
                "setup": with_knobs(knobs).as_dict()}
    verdict = judge("drift", table)
    f = factorial(verdict)
    assert f.complete and f.singles == [] and f.smallest() == ("width", "lr")
    text = explain(verdict)
    assert "The smallest set restoring it in a majority of seeds is width 16" in text
    assert "Needed together (no part restores alone)" in text
    assert "Minimal configuration that then works: all fixes + width 16" in answer(verdict)


def test_verdict_reads_a_defect_that_only_breaks_conditioning():
    unconditioned = {"val_drift_ratio": 0.8, "seed4_slope": 0.02, "val_nmse": 1.5}
    verdict = judge("drift", _table(only_warmup=unconditioned))
    assert verdict.culprits == ["warmup"]
    assert "a change that moves but ignores seed 4 in 1/1 seeds" in explain(verdict)


def test_small_postmortem_study_end_to_end_and_resumed_by_the_cli(tmp_path, sqlite_url, cli):
    (study, verdict), = run_postmortems(sqlite_url, ["drift"], studies=REPO / "studies",
                                        max_epochs=1, workers=2, n_seeds=2, n_draws=1,
                                        factorial=False)
    assert study.study_name == "postmortem-cap1-drift"
    loaded = optuna.load_study(study_name=study.study_name, storage=sqlite_url)
    trials = loaded.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    names = sorted(t.params["configuration"] for t in trials)
    assert names == sorted(c.name for c in configurations(factorial=False))
    by_name = {t.params["configuration"]: t for t in trials}
    original = by_name["original"].user_attrs
    assert original["defects_on"] == ["batching", "warmup", "metric"]
    assert original["val_error_reported"] == original["val_mse_question"]
    assert by_name["original"].value == original["val_mse"]
    assert len(original["seed_attribution"]) == 5 and len(original["drift_ratio_per_step"]) == 5
    assert len(original["samples"]) == 5 and len(original["samples"][0]["predicted"]) == 5
    assert len(original["history"]) == 1 == len(by_name["original"].intermediate_values)
    # the warm-up and metric switches act after training: one shared training run
    assert by_name["fix-metric"].user_attrs["val_mse"] == original["val_mse"]
    assert by_name["fix-metric"].user_attrs["val_error_reported"] == original["val_mse"]
    assert "[start] table" in by_name["tuned"].user_attrs["tuned_source"]
    assert get_blob(loaded, "explanation") == explain(verdict)
    # every seed's numbers, on val and test, as one list per key
    per_seed = original["per_seed"]
    assert per_seed["seed"] == [0, 1] and per_seed["draw"] == [0, 0]
    assert {"val_nmse", "test_nmse", "test_bias", "test_seed4_slope", "val_below_train",
            "rose_until"} <= set(per_seed)
    assert original["test_nmse"] == pytest.approx(float(np.median(per_seed["test_nmse"])))
    assert set(get_blob(loaded, "baselines")) == {"per-step mean", "persistence",
                                                    "least squares"}

    done = cli("-q", "postmortem", "--storage", sqlite_url, "--rule", "drift",
               "--max-epochs", "1", "--seeds", "2", "--draws", "1", "--no-factorial")
    assert done.returncode == 0, done.stderr
    assert "post-mortem, rule drift" in done.stdout and "Rule drift:" in done.stdout
    # the answer comes first
    assert done.stdout.index("ANSWER (rule drift, ") < done.stdout.index("post-mortem, rule drift")
    assert get_blob(loaded, "answer").startswith("ANSWER (rule drift, ")
    assert len(optuna.load_study(study_name=study.study_name,
                                 storage=sqlite_url).trials) == len(trials)


def test_bad_rule_is_one_line_and_writes_nothing(tmp_path, cli):
    db = tmp_path / "pm.db"
    done = cli("postmortem", "--storage", f"sqlite:///{db}", "--rule", "drift",
               "--rule", "sine")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--rule" in done.stderr
    assert not db.exists()


def test_side_remarks_are_read_from_the_original_history():
    history = [{"epoch": e + 1, "train_error": t, "val_error": v, "train_loss": loss,
                "val_drift_ratio": d}
               for e, (t, v, loss, d) in enumerate(zip([1.0, 2.0, 3.0, 2.5], [0.9, 1.9, 3.1, 2.0],
                                                       [1.0, 0.5, 0.2, 0.1],
                                                       [0.5, 0.3, 0.1, 0.1], strict=True))]
    original = {"history": history, "setup": {"batching_defect": True},
                "train_subsets_error": {"size": 100, "p5": 1.8, "p95": 3.0}}
    text = explain(judge("drift", _table(original=original)))
    assert "below the train error in 3 of 4 epochs (last epoch: val 2, train 2.5)" in text
    assert "score 1.8 to 3 (5th-95th percentile); the val value is within" in text
    assert "until epoch 3 (1 to 3) while the training loss fell (1 to 0.2)" in text
    assert "val drift ratio 0.5 to 0.1" in text
    original.update(_seeds(test_drift_ratio=[0.05] * 4, val_below_train=[4, 4, 1, 3],
                           epochs=[4] * 4, rose_until=[3, 1, 2, 1]))
    text = explain(judge("drift", _table(original=original)))
    assert "Over all 4 seeds: below in every epoch in 2/4, in most epochs in 3/4" in text
    assert "rose after epoch 1 in 2/4 (longest: until epoch 3)" in text
    original["train_subsets_error"]["p5"] = 2.2
    assert "is below that range, so the 100 val sequences are an easier-than-usual draw" in (
        explain(judge("drift", _table(original=original))))


def test_tuned_row_retrains_the_best_seeded_trial_to_its_stored_value(sqlite_url):
    config = load_config(REPO / "studies" / "seeded-drift.toml").with_overrides(
        n_trials=1, max_epochs=2, patience=2, timeout=None)
    seeded = optimize(config, sqlite_url, show_progress_bar=False)
    tuned = find_tuned(open_storage(sqlite_url), "drift", REPO / "studies")
    assert tuned.source == "best trial #0 of study seeded-drift"
    assert tuned.params.items() >= seeded.best_trial.params.items()
    outcome = train_and_score(FluxTask(rule="drift"), tuned.params, tuned.max_epochs,
                              tuned.patience, tuned.seed)
    assert outcome.fit.best_value == pytest.approx(seeded.best_value, rel=1e-6)
    # the post-mortem's tuned row: the stored trial's own seed first, checked and said
    (_, verdict), = run_postmortems(sqlite_url, ["drift"], studies=REPO / "studies",
                                    max_epochs=2, n_seeds=2, n_draws=1, factorial=False)
    row = verdict.with_role("tuned")
    assert row.tuned["reproduced_stored_value"] is True
    assert row.tuned["stored_val_mse"] == seeded.best_value
    assert [s.seed for s in row.seeds] == [tuned.seed, tuned.seed + 1]
    assert "reproduces the stored" in explain(verdict)


def test_tuned_row_says_whether_it_reproduced_its_stored_trial():
    tuned = {"tuned_source": "best trial #7 of study seeded-drift", "seed": 3,
             "tuned_epochs": 60, "stored_val_mse": 2.2e-5, "retrained_val_mse": 2.2e-5,
             "tuned_rtol": 1e-3, "reproduced_stored_value": True}
    text = explain(judge("drift", _table(tuned=tuned)))
    assert ("best trial #7 of study seeded-drift, retrained with its own seed 3 for 60 epochs "
            "(its best epoch): val MSE 2.2e-05 reproduces the stored 2.2e-05 within relative "
            "tolerance 0.001") in text
    tuned.update(retrained_val_mse=7.1e-5, reproduced_stored_value=False)
    assert "val MSE 7.1e-05 does NOT reproduce the stored 2.2e-05" in explain(
        judge("drift", _table(tuned=tuned)))


def test_setups_that_differ_only_in_epochs_share_one_training_job():
    """The factorial's 20- and 60-epoch points are one run read off at epoch 20
    (fit_budgets, tested bit for bit in test_packing); every configuration's
    training key is served by exactly one job."""
    from seqtune.postmortem._configs import configurations
    from seqtune.postmortem._experiment import _jobs
    from seqtune.postmortem._tuned import Tuned

    grid = configurations(factorial=True)
    tuned = Tuned({"architecture": "gru"}, seed=0, max_epochs=5, patience=5, source="test")
    jobs, serves = _jobs({"drift": grid}, [0, 1], [0], {"drift": tuned})
    served = [key for job in jobs.values() for key in job.keys().values()]
    assert len(served) == len(set(served))
    assert {("drift", 0, c.setup.training_key() if c.setup else "tuned")
            for c in grid} == set(served)
    runs = {c.setup.training_key() for c in grid if c.setup}
    assert len(jobs) == len({k[:-1] for k in runs}) + 1 < len(runs) + 1
    for key, job in jobs.items():
        if job.setup is not None:
            assert job.shorter in ((), (20,)) and job.setup.epochs in (20, 60)
            assert all(job.setup.epochs > e for e in job.shorter)
        assert serves[key]
