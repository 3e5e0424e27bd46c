"""Equal budgets per architecture inside one study (a stratified schedule).

With ``architecture`` as one categorical of a TPE search, an architecture
gets whatever the sampler gives it (1-2 of 6 trials), and a median pruner
stops tanh-RNN trials because GRU trials learn faster in their first epochs:
"which architecture wins" becomes an artifact of the budget. Here each
architecture is a stratum:

- :class:`EqualShareSampler` gives the next trial to the architecture with the
  fewest of the trials before it (queued, running, pruned or complete; failed
  ones do not count, so a diverged trial is replaced), and lets the wrapped sampler
  propose the other parameters from that architecture's trials only;
- :class:`PerArchitecturePruner` lets the wrapped pruner compare a trial with
  trials of its own architecture only.

Both see the study through :class:`_ArchitectureView`, a study restricted to
one architecture's trials (the way Optuna's ``HyperbandPruner`` restricts a
study to one bracket). The stored study is an ordinary Optuna study: the
architecture is an ordinary categorical parameter of every trial.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

PARAM = "architecture"
#: trial system attr: the architecture a trial was given before its first suggestion
ASSIGNED = "seqtune:architecture"


def architecture_of(trial: FrozenTrial) -> str | None:
    """The architecture of ``trial``: suggested, queued with it, or assigned."""
    return (trial.params.get(PARAM)
            or trial.system_attrs.get("fixed_params", {}).get(PARAM)
            or trial.system_attrs.get(ASSIGNED))


def trials_per_architecture(study: optuna.Study,
                            states: Container[TrialState] = (TrialState.COMPLETE,
                                                              TrialState.PRUNED)
                            ) -> dict[str, int]:
    """How many trials in ``states`` each architecture has (trials without one, e.g.
    told through ``optuna tell``, are not counted)."""
    found = (architecture_of(t) for t in study.get_trials(deepcopy=False, states=states))
    return dict(Counter(arch for arch in found if arch))


class _ArchitectureView(optuna.Study):
    """``study`` as if it held only the trials of one architecture."""

    def __init__(self, study: optuna.Study, architecture: str) -> None:
        super().__init__(study_name=study.study_name, storage=study._storage,
                         sampler=study.sampler, pruner=study.pruner)
        self._study = study
        self._architecture = architecture

    def _get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None,
                    use_cache: bool = False) -> list[FrozenTrial]:
        trials = super()._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        return [t for t in trials if architecture_of(t) == self._architecture]

    def get_trials(self, deepcopy: bool = True,
                   states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=deepcopy, states=states)

    def stop(self) -> None:
        self._study.stop()


class EqualShareSampler(BaseSampler):
    """Give each of ``choices`` an equal share of the trials; sample every other
    parameter with ``base``, shown only the trials of the trial's architecture.

    The share is counted over the trials numbered before the new one, so
    processes or threads starting trials at the same moment agree on who takes
    which architecture; ties are broken by the trial number."""

    def __init__(self, base: BaseSampler, choices: Sequence[str]) -> None:
        self.base = base
        self.choices = list(choices)
        self._given: dict[int, str] = {}  # trial id -> architecture, this process

    def reseed_rng(self) -> None:
        self.base.reseed_rng()

    def _next(self, study: optuna.Study, trial: FrozenTrial) -> str:
        """The architecture with the fewest of the trials numbered before ``trial``.

        Only earlier trials count, and an earlier trial still waiting for its
        architecture counts as taking the one this rule will give it, so trials
        started at the same moment (threads, processes) all see one order and
        never pick the same short architecture twice."""
        counts = {c: 0 for c in self.choices}
        earlier = [t for t in study._storage.get_all_trials(study._study_id, deepcopy=False)
                   if t.number < trial.number and t.state != TrialState.FAIL]
        for other in sorted(earlier, key=lambda t: t.number):
            arch = architecture_of(other)
            if arch is None and other.state in (TrialState.RUNNING, TrialState.WAITING):
                arch = self._fewest(counts, other.number)
            if arch in counts:
                counts[arch] += 1
        return self._fewest(counts, trial.number)

    def _fewest(self, counts: dict[str, int], number: int) -> str:
        """The choice with the fewest ``counts``; ties broken by the trial ``number``."""
        fewest = min(counts.values())
        tied = [c for c in self.choices if counts[c] == fewest]
        return tied[number % len(tied)]

    def _architecture(self, study: optuna.Study, trial: FrozenTrial) -> str:
        if trial._trial_id not in self._given:
            arch = architecture_of(trial)
            if arch is None:
                arch = self._next(study, trial)
                study._storage.set_trial_system_attr(trial._trial_id, ASSIGNED, arch)
            self._given[trial._trial_id] = arch
        return self._given[trial._trial_id]

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        arch = self._architecture(study, trial)
        self.base.before_trial(_ArchitectureView(study, arch), trial)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        view = _ArchitectureView(study, self._architecture(study, trial))
        space = self.base.infer_relative_search_space(view, trial)
        return {k: v for k, v in space.items() if k != PARAM}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        view = _ArchitectureView(study, self._architecture(study, trial))
        return self.base.sample_relative(view, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        arch = self._architecture(study, trial)
        if param_name == PARAM:
            return arch
        return self.base.sample_independent(_ArchitectureView(study, arch), trial,
                                            param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        arch = self._given.pop(trial._trial_id, None) or architecture_of(trial)
        view = _ArchitectureView(study, arch) if arch else study
        self.base.after_trial(view, trial, state, values)


class PerArchitecturePruner(optuna.pruners.BasePruner):
    """``base``, comparing a trial only with trials of its own architecture."""

    def __init__(self, base: optuna.pruners.BasePruner) -> None:
        self.base = base

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        arch = architecture_of(trial)
        return self.base.prune(_ArchitectureView(study, arch) if arch else study, trial)
