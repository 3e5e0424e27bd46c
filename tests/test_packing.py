"""Several seeds packed into one module give what each seed gives alone."""

from __future__ import annotations

import pytest
import torch

from seqtune.models import build_model
from seqtune.packing import member_state, pack
from seqtune.postmortem import FluxChain
from seqtune.tasks import make_task
from seqtune.trainer import TrainConfig, fit, fit_budgets, fit_many

SEEDS = (3, 4, 5)


def _models(build, seeds=SEEDS) -> list[torch.nn.Module]:
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(build())
    return models


@pytest.mark.parametrize("architecture", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("kind,spec,inputs", [
    ("classifier", {"vocab_size": 10, "n_classes": 19}, lambda: torch.randint(0, 10, (7, 12))),
    ("forecaster", {"n_features": 2}, lambda: torch.randn(7, 9, 2)),
    ("generator", {"horizon": 4}, lambda: torch.randn(7, 5)),
])
def test_packed_forward_and_loss_match_each_member(architecture, kind, spec, inputs):
    torch.manual_seed(0)
    x = inputs()
    models = _models(lambda: build_model(kind, architecture, 6, 2, **spec))
    packed = pack(models)
    with torch.no_grad():
        together = packed(x.expand(len(models), *x.shape))
        for k, model in enumerate(models):
            torch.testing.assert_close(together[k], model(x), rtol=1e-5, atol=1e-6)
    targets = models[0](x).detach() if kind != "classifier" else torch.randint(0, 19, (7,))
    losses = packed.loss(x.expand(3, *x.shape), targets.expand(3, *targets.shape))
    assert losses.shape == (3,)
    for k, model in enumerate(models):
        torch.testing.assert_close(losses[k], model.loss(x, targets), rtol=1e-5, atol=1e-6)


def test_packed_flux_chain_keeps_each_members_initial_state():
    models = _models(lambda: FluxChain(width=3, head=5))
    for k, model in enumerate(models):
        with torch.no_grad():
            model.state0.fill_(0.1 * (k + 1))  # a trained state0 differs per member
    packed = pack(models)
    seqs = torch.randn(4, 10)
    with torch.no_grad():
        together = packed(seqs[:, :5].expand(3, 4, 5))
        losses = packed.loss(seqs.expand(3, 4, 10), seqs.expand(3, 4, 10), teacher_forcing=1.0)
    for k, model in enumerate(models):
        torch.testing.assert_close(together[k], model(seqs[:, :5]), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(losses[k], model.loss(seqs, seqs), rtol=1e-5, atol=1e-6)
        assert set(member_state(packed, k)) == set(model.state_dict())


def test_pack_refuses_layers_it_cannot_pack():
    with pytest.raises(Exception, match="LayerNorm"):
        pack([torch.nn.Sequential(torch.nn.LayerNorm(3)) for _ in range(2)])


@pytest.mark.parametrize("task_config,architecture,options", [
    ({"name": "digitsum", "length": 10}, "gru", {}),
    ({"name": "rainfall"}, "lstm", {}),
    ({"name": "seeded", "rule": "drift", "n_train": 200}, "rnn", {"teacher_forcing": 1.0}),
])
def test_each_packed_member_trains_as_it_would_alone(task_config, architecture, options):
    """Same seed -> same batch order, initial weights, clipping, best epoch and
    early stop; the values agree to round-off (stated tolerance 1e-4 relative)."""
    task = make_task(task_config)
    splits = task.splits()
    # a tight clip makes clipping act every step; patience 1 stops members apart
    configs = [TrainConfig(architecture=architecture, hidden_size=12, batch_size=16,
                           learning_rate=0.01, grad_clip=0.05, max_epochs=4, patience=1,
                           seed=seed, options=options, device="cpu") for seed in SEEDS]
    alone = [fit(task, splits, c) for c in configs]
    together = fit_many(task, splits, configs)
    assert [r.best_epoch for r in together] == [r.best_epoch for r in alone]
    assert [r.epochs_run for r in together] == [r.epochs_run for r in alone]
    for one, member in zip(alone, together, strict=True):
        assert member.best_value == pytest.approx(one.best_value, rel=1e-4, abs=1e-7)
        for key, weight in one.model.state_dict().items():
            torch.testing.assert_close(member.model.state_dict()[key], weight,
                                       rtol=1e-4, atol=1e-5)
    # the seeds really differ (accuracy after 4 epochs may tie at chance; weights do not)
    first, second = (r.model.state_dict() for r in together[:2])
    assert any(not torch.equal(first[key], second[key]) for key in first)


def test_fit_many_refuses_configurations_that_differ_beyond_the_seed():
    task = make_task({"name": "digitsum", "length": 5})
    with pytest.raises(ValueError, match="only in their seed"):
        fit_many(task, task.splits(), [TrainConfig(seed=0), TrainConfig(seed=1, hidden_size=8)])


def test_post_mortem_seeds_train_packed_as_each_would_alone():
    from seqtune.postmortem import FluxTask, train_flux, train_flux_seeds
    from seqtune.postmortem._configs import Setup

    task, setup = FluxTask(rule="drift", n_train=120), Setup(epochs=2)
    together = train_flux_seeds(task, setup, [0, 1])
    for seed, member in zip([0, 1], together, strict=True):
        alone = train_flux(task, setup, seed)
        for one, other in zip(alone.history, member[2].history, strict=True):
            assert other == pytest.approx(one, rel=1e-4)


def _same_result(one, other) -> None:
    """Bit for bit: the weights, the history and the selected epoch."""
    assert (other.best_epoch, other.best_value, other.history) == (
        one.best_epoch, one.best_value, one.history)
    for key, weight in one.model.state_dict().items():
        assert torch.equal(other.model.state_dict()[key], weight), key


@pytest.mark.parametrize("seeds", [(3,), SEEDS])
@pytest.mark.parametrize("restore_best,patience", [(False, 6), (True, 6), (True, 1)])
def test_a_shorter_budget_read_off_a_longer_run_is_that_run(seeds, restore_best, patience):
    """fit_budgets' result at 2 epochs is what training with max_epochs=2 gives,
    packed or alone, with the last or the best weights; patience 1 stops some
    members before epoch 4 (their budget-4 result is their whole run)."""
    task = make_task({"name": "seeded", "rule": "drift", "n_train": 160})
    splits = task.splits()

    def configs(epochs):
        return [TrainConfig(architecture="gru", hidden_size=8, batch_size=16,
                            learning_rate=0.02, max_epochs=epochs, patience=patience,
                            restore_best=restore_best, seed=s, device="cpu") for s in seeds]

    both = fit_budgets(task, splits, configs(4), [2])
    for budget in (2, 4):
        for member, alone in zip(both, fit_many(task, splits, configs(budget)), strict=True):
            _same_result(alone, member[budget])
    # the budgets differ (else the test could not tell them apart)
    assert any(len(m[2].history) < len(m[4].history) for m in both)


def test_fit_budgets_refuses_a_budget_beyond_max_epochs():
    task = make_task({"name": "digitsum", "length": 5})
    with pytest.raises(ValueError, match="1..max_epochs"):
        fit_budgets(task, task.splits(), [TrainConfig(max_epochs=3)], [5])
