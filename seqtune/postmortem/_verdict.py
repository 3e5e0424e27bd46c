"""The verdict: what the post-mortem's numbers say, and the explanation rendered from it.

Criteria, applied to the free-running continuation on the val split:

- *flat*: drift ratio < 0.3 (the continuation barely moves away from the
  last seed: the question's horizontal line);
- *ignores seed 4*: the fitted slope of the predicted per-step drift on seed 4
  is under 0.3 of the true slope (the condition was not learned);
- *collapsed*: flat or ignores seed 4;
- *restored*: normalized MSE <= 0.1 and drift ratio >= 0.9;
- *solved*: normalized MSE <= 0.001 and drift ratio >= 0.95.

Every sentence of :func:`explain` is chosen by these tests and carries the
numbers it rests on; nothing is canned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from seqtune.postmortem._configs import DEFECTS

FLAT_DRIFT = 0.3
FOLLOW_SLOPE = 0.3
RESTORED_NMSE, RESTORED_DRIFT = 0.1, 0.9
SOLVED_NMSE, SOLVED_DRIFT = 1e-3, 0.95

_DEFECT_SHORT = {"batching": "the batching helper", "warmup": "the prediction helper's warm-up",
                 "metric": "the off-by-one in the reported error"}


@dataclass(frozen=True)
class Row:
    """One configuration's numbers (a trial's user attrs, reduced)."""

    name: str
    role: str
    about: str
    val_mse: float
    val_mse_question: float
    nmse: float
    drift_ratio: float
    slope: float
    slope_true: float
    #: the val error with the configuration's own error formula
    val_error_reported: float
    setup: dict[str, Any] = field(default_factory=dict)
    defects_on: list[str] = field(default_factory=list)

    @classmethod
    def from_attrs(cls, name: str, attrs: Mapping[str, Any]) -> Row:
        return cls(name=name, role=attrs["role"], about=attrs.get("about", ""),
                   val_mse=attrs["val_mse"], val_mse_question=attrs["val_mse_question"],
                   nmse=attrs["val_nmse"], drift_ratio=attrs["val_drift_ratio"],
                   slope=attrs["seed4_slope"], slope_true=attrs["seed4_slope_true"],
                   val_error_reported=attrs.get("val_error_reported", attrs["val_mse"]),
                   setup=dict(attrs.get("setup") or {}),
                   defects_on=list(attrs.get("defects_on") or []))

    @property
    def slope_ratio(self) -> float:
        return self.slope / self.slope_true if self.slope_true else 0.0

    @property
    def flat(self) -> bool:
        return self.drift_ratio < FLAT_DRIFT

    @property
    def ignores_seed4(self) -> bool:
        return self.slope_ratio < FOLLOW_SLOPE

    @property
    def collapsed(self) -> bool:
        return self.flat or self.ignores_seed4

    @property
    def restored(self) -> bool:
        return self.nmse <= RESTORED_NMSE and self.drift_ratio >= RESTORED_DRIFT

    @property
    def solved(self) -> bool:
        return self.nmse <= SOLVED_NMSE and self.drift_ratio >= SOLVED_DRIFT

    @property
    def state(self) -> str:
        if self.solved:
            return "solved"
        if self.restored:
            return "restored"
        if self.flat:
            return "flat"
        if self.ignores_seed4:
            return "ignores seed 4"
        return "partial"


@dataclass(frozen=True)
class SideRemarks:
    """The question's asides, measured on the original run's per-epoch history."""

    epochs: int
    #: epochs in which the reported val error was below the reported train error
    val_below_train: int
    val_error: float
    train_error: float
    #: 5th/95th percentile of the final train error over random val-sized subsets
    subset_size: int | None
    subset_p5: float | None
    subset_p95: float | None
    #: the reported train error rose epoch after epoch until this epoch (1: it did not)
    rose_until: int
    train_error_first: float
    train_error_peak: float
    loss_first: float
    loss_peak: float
    drift_first: float
    drift_peak: float
    batching_defect: bool


def side_remarks(attrs: Mapping[str, Any]) -> SideRemarks | None:
    history = attrs.get("history") or []
    if not history or "train_error" not in history[0]:
        return None
    train = [h["train_error"] for h in history]
    val = [h["val_error"] for h in history]
    peak = 0
    while peak + 1 < len(train) and train[peak + 1] > train[peak]:
        peak += 1
    spread = attrs.get("train_subsets_error") or {}
    return SideRemarks(
        epochs=len(history), val_below_train=sum(v < t for v, t in zip(val, train, strict=True)),
        val_error=val[-1], train_error=train[-1], subset_size=spread.get("size"),
        subset_p5=spread.get("p5"), subset_p95=spread.get("p95"), rose_until=peak + 1,
        train_error_first=train[0], train_error_peak=train[peak],
        loss_first=history[0]["train_loss"], loss_peak=history[peak]["train_loss"],
        drift_first=history[0]["val_drift_ratio"], drift_peak=history[peak]["val_drift_ratio"],
        batching_defect=bool(attrs.get("setup", {}).get("batching_defect")))


@dataclass(frozen=True)
class Verdict:
    rule: str
    rows: list[Row]
    #: defects that, put back alone into the working reference, collapse it
    culprits: list[str]
    #: defects that, put back alone, leave the reference uncollapsed
    harmless: list[str]
    #: defects whose fix, alone on the original, restores the continuation
    restoring_fixes: list[str]
    side: SideRemarks | None

    def with_role(self, role: str, about: str | None = None) -> Row | None:
        return next((r for r in self.rows
                     if r.role == role and (about is None or r.about == about)), None)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "culprits": self.culprits, "harmless": self.harmless,
                "restoring_fixes": self.restoring_fixes,
                "states": {r.name: r.state for r in self.rows},
                "side": asdict(self.side) if self.side else None}


def judge(rule: str, results: Mapping[str, Mapping[str, Any]]) -> Verdict:
    """The verdict from ``results``: configuration name -> its stored attrs (with
    ``role`` and ``about`` as in :func:`seqtune.postmortem.configurations`)."""
    rows = [Row.from_attrs(name, attrs) for name, attrs in results.items()]

    def find(role: str, about: str) -> Row | None:
        return next((r for r in rows if r.role == role and r.about == about), None)

    reference = next((r for r in rows if r.role == "reference"), None)
    culprits, harmless = [], []
    for defect in DEFECTS:
        alone = find("single defect", defect)
        if alone is None or reference is None or reference.collapsed:
            continue
        (culprits if alone.collapsed else harmless).append(defect)
    restoring = [d for d in DEFECTS if (r := find("single fix", d)) is not None and r.restored]
    original = next((a for a in results.values() if a["role"] == "original"), None)
    return Verdict(rule, rows, culprits, harmless, restoring,
                   side_remarks(original) if original else None)


def _n(x: float) -> str:
    return f"{x:.3g}"


def _describe(row: Row) -> str:
    return (f"drift ratio {_n(row.drift_ratio)}, seed-4 slope {_n(row.slope)} "
            f"(true {_n(row.slope_true)}), normalized MSE {_n(row.nmse)}")


def _collapse_kind(row: Row) -> str:
    if row.flat:
        return "a flat continuation"
    return "a continuation that moves but ignores seed 4"


def _budget(setup: Mapping[str, Any]) -> str:
    return (f"{setup.get('epochs')} epochs, Dense(1,{setup.get('width')})-"
            f"LSTM({setup.get('width')},{setup.get('width')})-Dense(.,{setup.get('head')}), "
            f"learning rate {_n(setup.get('learning_rate', 0.0))}, "
            f"teacher forcing {_n(setup.get('teacher_forcing', 1.0))}")


def _original(v: Verdict) -> list[str]:
    o = v.with_role("original")
    if o is None:
        return []
    head = ("The original setup reproduces the question's symptom: " + _collapse_kind(o)
            if o.collapsed else "The original setup does not reproduce the question's symptom")
    return [f"{head} ({_describe(o)}; val MSE {_n(o.val_mse)}, reported by the question's "
            f"formula as {_n(o.val_mse_question)})."]


def _culprits(v: Verdict) -> list[str]:
    ref = v.with_role("reference")
    if ref is None:
        return []
    where = f"the working reference (all fixes, {_budget(ref.setup)}: {_describe(ref)})"
    if ref.collapsed:
        return [f"All fixes at a larger budget still collapse ({_describe(ref)}), so no "
                "single defect can be judged by putting it back."]
    out = []
    if v.culprits:
        parts = []
        for d in v.culprits:
            r = v.with_role("single defect", d)
            assert r is not None
            parts.append(f"{_DEFECT_SHORT[d]} gives {_collapse_kind(r)} ({_describe(r)})")
        out.append(f"Put back alone into {where}, " + "; ".join(parts) + ".")
    else:
        out.append(f"No defect put back alone collapses {where}.")
    for d in v.harmless:
        r = v.with_role("single defect", d)
        assert r is not None
        if d == "metric":
            out.append(f"The off-by-one changes only the reported number: val MSE "
                       f"{_n(r.val_mse)} reads {_n(r.val_mse_question)} with the question's "
                       "formula (4 of 5 steps, summed over steps instead of averaged).")
        else:
            out.append(f"{_DEFECT_SHORT[d].capitalize()} alone does not collapse it "
                       f"({_describe(r)}).")
    return out


def _fixes(v: Verdict) -> list[str]:
    singles = [(d, r) for d in DEFECTS if (r := v.with_role("single fix", d)) is not None]
    if not singles:
        return []
    if v.restoring_fixes:
        parts = [f"fixing {_DEFECT_SHORT[d]} ({_describe(r)})" for d, r in singles
                 if d in v.restoring_fixes]
        return ["Restored by a single fix of the original: " + "; ".join(parts) + "."]
    parts = [f"fixing {_DEFECT_SHORT[d]} leaves {_describe(r)}" for d, r in singles]
    text = "No single fix restores the original: " + "; ".join(parts) + "."
    if len(v.culprits) > 1:
        both = "both" if len(v.culprits) == 2 else "all of them"
        text += (" Each of " + " and ".join(_DEFECT_SHORT[d] for d in v.culprits)
                 + f" breaks the reference on its own, so {both} must be fixed.")
    return [text]


def _remains(v: Verdict) -> list[str]:
    fixed = v.with_role("all fixes")
    if fixed is None:
        return []
    budget = _budget(fixed.setup)
    if fixed.restored:
        return [f"With all fixes at the question's own budget ({budget}) the continuation "
                f"is restored ({_describe(fixed)}): the bugs were the whole story."]
    out = [f"With all fixes at the question's own budget ({budget}) it is not restored "
           f"({fixed.state}: {_describe(fixed)})."]
    for r in (x for x in v.rows if x.role in ("knob", "reference")):
        verb = "restores it" if r.restored else "does not restore it"
        ratio = r.nmse / (fixed.nmse or 1.0)
        out.append(f"Changing only the budget or training to {_budget(r.setup)} {verb} "
                   f"({_describe(r)}; normalized MSE {_n(ratio)}x that of all fixes at the "
                   "original budget).")
    changed = [_changed(fixed.setup, x.setup) for x in v.rows
               if x.role in ("knob", "reference") and x.restored]
    if changed:
        knobs = sorted({k for c in changed for k in c})
        out.append(f"So what remains once the bugs are fixed is the budget ({', '.join(knobs)}"
                   "), not another bug.")
    return out


_KNOBS = {"epochs": "epochs", "width": "layer widths", "head": "layer widths",
          "learning_rate": "learning rate", "teacher_forcing": "teacher forcing",
          "batch_size": "batch size"}


def _changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[str]:
    return {name for key, name in _KNOBS.items() if before.get(key) != after.get(key)}


def _tuned(v: Verdict) -> list[str]:
    tuned = v.with_role("tuned")
    if tuned is None:
        return []
    flux = [r for r in v.rows if r.role != "tuned"]
    verb = ("solves the task" if tuned.solved else
            "meets the restored bar but does not solve the task" if tuned.restored else
            "does not solve the task")
    text = f"The tuned model of the seeded study {verb} ({_describe(tuned)})"
    if flux and tuned.nmse > 0:
        best = min(flux, key=lambda r: r.nmse)
        text += (f"; the best configuration of the question's model, {best.name}, has "
                 f"{_n(best.nmse / tuned.nmse)}x its normalized MSE")
    return [text + "."]


def _side(v: Verdict) -> list[str]:
    s = v.side
    if s is None:
        return []
    when = ("in every epoch" if s.val_below_train == s.epochs else "in no epoch"
            if s.val_below_train == 0 else f"in {s.val_below_train} of {s.epochs} epochs")
    text = (f"Side remark 1: the reported val error was below the train error {when} "
            f"(last epoch: val {_n(s.val_error)}, train {_n(s.train_error)})")
    if s.subset_p5 is not None and s.subset_p95 is not None:
        where = ("within" if s.subset_p5 <= s.val_error <= s.subset_p95 else
                 "below" if s.val_error < s.subset_p5 else "above")
        draw = {"within": "a typical draw", "below": "an easier-than-usual draw",
                "above": "a harder-than-usual draw"}[where]
        text += (f". With the same model, random sets of {s.subset_size} training sequences "
                 f"score {_n(s.subset_p5)} to {_n(s.subset_p95)} (5th-95th percentile); the "
                 f"val value is {where} that range, so the {s.subset_size} val sequences are "
                 f"{draw} from the same generator, not evidence that the model fits the "
                 "training sequences worse")
    out = [text + "."]
    if s.rose_until > 1:
        text = (f"Side remark 2: the reported train error rose epoch after epoch until epoch "
                f"{s.rose_until} ({_n(s.train_error_first)} to {_n(s.train_error_peak)})")
        if s.loss_peak < s.loss_first:
            text += (f" while the training loss fell ({_n(s.loss_first)} to "
                     f"{_n(s.loss_peak)}): the loss does not measure the reported error")
            if s.batching_defect and s.drift_peak < s.drift_first:
                text += (f". With the batching defect the loss rewards copying the input, and "
                         "as the copy improved the continuation became flatter (val drift "
                         f"ratio {_n(s.drift_first)} to {_n(s.drift_peak)})")
        out.append(text + ".")
    else:
        out.append(f"Side remark 2: the reported train error did not rise after the first "
                   f"epoch here ({_n(s.train_error_first)} at epoch 1, "
                   f"{_n(s.train_error)} at the end).")
    return out


def explain(verdict: Verdict) -> str:
    """The plain-language explanation, every figure taken from ``verdict``."""
    criteria = (f"(Criteria: flat = drift ratio < {FLAT_DRIFT}; ignores seed 4 = seed-4 slope "
                f"under {FOLLOW_SLOPE} of the true slope; restored = normalized MSE <= "
                f"{RESTORED_NMSE} and drift ratio >= {RESTORED_DRIFT}; solved = normalized "
                f"MSE <= {SOLVED_NMSE} and drift ratio >= {SOLVED_DRIFT}.)")
    sections: Sequence[list[str]] = (_original(verdict), _culprits(verdict), _fixes(verdict),
                                     _remains(verdict), _tuned(verdict), _side(verdict))
    lines = [f"Rule {verdict.rule}:"] + [line for part in sections for line in part]
    return "\n".join(lines + [criteria])
