"""The post-mortem's switches and the named configurations of its grid.

A :class:`Setup` fixes one run of the question's experiment: three defects,
each on (as in the question) or off, the teacher-forcing ratio of training,
and the budget (epochs, widths, learning rate, requested batch size).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from itertools import combinations
from typing import Any, Literal

#: the question's defects, in the order the explanation names them
DEFECTS: dict[str, str] = {
    "batching": "the batching helper ignores its arguments (unshuffled batches of 3, "
                "and its 'targets' are the inputs)",
    "warmup": "the prediction helper resets the state and never feeds seeds 1-4",
    "metric": "the reported error drops the last step and sums over steps (off-by-one)",
}


@dataclass(frozen=True)
class Setup:
    """One configuration of the question's experiment; defaults are the question's."""

    batching_defect: bool = True
    warmup_defect: bool = True
    metric_defect: bool = True
    #: probability of feeding the true previous value in training (1 = the question)
    teacher_forcing: float = 1.0
    epochs: int = 20
    #: width of Dense(1, w) and LSTM(w, w)
    width: int = 3
    #: width of the relu layer Dense(w, head)
    head: int = 5
    learning_rate: float = 1e-3
    #: the batch size the question asks for (the batching defect makes it 3)
    batch_size: int = 16

    def defect(self, name: str) -> bool:
        return getattr(self, f"{name}_defect")

    def defects_on(self) -> list[str]:
        return [d for d in DEFECTS if self.defect(d)]

    def with_defects(self, **on: bool) -> Setup:
        return replace(self, **{f"{name}_defect": value for name, value in on.items()})

    def training_key(self) -> tuple[Any, ...]:
        """What changes training: two setups with one key train the same model
        (the warm-up and metric defects act only after training)."""
        return (*self.run_key(), self.epochs)

    def run_key(self) -> tuple[Any, ...]:
        """What changes training but its length: setups with one key are one run
        stopped after their own number of epochs (fixed epochs, last weights)."""
        return (self.batching_defect, self.teacher_forcing, self.width, self.head,
                self.learning_rate, self.batch_size)

    def capped(self, max_epochs: int | None) -> Setup:
        return self if max_epochs is None else replace(self,
                                                       epochs=min(self.epochs, max_epochs))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


ORIGINAL = Setup()
ALL_FIXED = ORIGINAL.with_defects(batching=False, warmup=False, metric=False)
#: all fixes with the budget turned up (same 20 epochs, wider layers, 10x the learning
#: rate): the working reference each defect is put back into, one at a time
FIXED_LARGER = replace(ALL_FIXED, width=16, head=16, learning_rate=1e-2)

Role = Literal["original", "single fix", "all fixes", "knob", "reference", "single defect",
               "factorial", "tuned"]

#: the factorial's knobs (all fixes on): each at the question's level or this one
KNOBS: dict[str, dict[str, Any]] = {
    "width": {"width": 16, "head": 16},
    "lr": {"learning_rate": 1e-2},
    "epochs": {"epochs": 60},
    "free-running": {"teacher_forcing": 0.0},
}
KNOB_WORDS = {"width": "width 16 (Dense(1,16)-LSTM(16,16)-Dense(16,16))",
              "lr": "learning rate 1e-2", "epochs": "60 epochs",
              "free-running": "free-running training (teacher forcing 0)"}


def with_knobs(knobs: tuple[str, ...] | list[str], base: Setup | None = None) -> Setup:
    """``base`` (all fixes at the question's budget) with ``knobs`` turned."""
    setup = base or ALL_FIXED
    for k in knobs:
        setup = replace(setup, **KNOBS[k])
    return setup


def knobs_of(setup: Mapping[str, Any] | Setup) -> tuple[str, ...] | None:
    """The knobs ``setup`` turns relative to all fixes at the question's budget, or
    None when it is not a factorial point (a defect is on, or another value)."""
    d = setup.as_dict() if isinstance(setup, Setup) else dict(setup)
    base = ALL_FIXED.as_dict()
    turned = []
    for knob, values in KNOBS.items():
        if all(d.get(k) == v for k, v in values.items()):
            turned.append(knob)
        elif any(d.get(k) != base[k] for k in values):
            return None
    rest = set(base) - {k for v in KNOBS.values() for k in v}
    return tuple(turned) if all(d.get(k) == base[k] for k in rest) else None


@dataclass(frozen=True)
class Configuration:
    """A named point of the grid. ``setup`` is None for the tuned seeded model."""

    name: str
    role: Role
    setup: Setup | None
    #: the defect a single fix/defect row is about, or the knob a knob row turns
    about: str = ""


def configurations(factorial: bool = True) -> list[Configuration]:
    """The grid: the original; each single fix of it; all fixes at the original
    budget, also trained free-running; all fixes at a larger budget (the
    reference) and each single defect put back into it; with ``factorial`` the
    other points of the 2^4 factorial over :data:`KNOBS` (all fixes on); the
    tuned model of the ``seeded`` study."""
    rows = [Configuration("original", "original", ORIGINAL)]
    rows += [Configuration(f"fix-{d}", "single fix", ORIGINAL.with_defects(**{d: False}), d)
             for d in DEFECTS]
    rows += [
        Configuration("all-fixes", "all fixes", ALL_FIXED),
        Configuration("all-fixes-free-running", "knob", replace(ALL_FIXED, teacher_forcing=0.0),
                      "teacher_forcing"),
        Configuration("all-fixes-larger", "reference", FIXED_LARGER, "budget"),
    ]
    rows += [Configuration(f"only-{d}", "single defect", FIXED_LARGER.with_defects(**{d: True}),
                           d) for d in DEFECTS]
    if factorial:
        present = {r.setup for r in rows}
        for size in range(1, len(KNOBS) + 1):
            for knobs in combinations(KNOBS, size):
                setup = with_knobs(knobs)
                if setup not in present:
                    rows.append(Configuration("fixes+" + "+".join(knobs), "factorial", setup,
                                              "+".join(knobs)))
    return rows + [Configuration("tuned", "tuned", None)]
