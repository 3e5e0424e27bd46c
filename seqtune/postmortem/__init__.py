"""The Flux post-mortem: the question's setup in PyTorch, each defect a switch,
run as an Optuna grid study, with a verdict computed from the numbers."""

from seqtune.postmortem._configs import (
    ALL_FIXED,
    DEFECTS,
    FIXED_LARGER,
    ORIGINAL,
    Configuration,
    Setup,
    configurations,
)
from seqtune.postmortem._evidence import FluxTask, flux_evidence, train_flux, train_flux_seeds
from seqtune.postmortem._experiment import results, run_postmortems, study_name
from seqtune.postmortem._flux import FluxChain
from seqtune.postmortem._question import (
    helper_inputs,
    question_mse,
    training_split,
)
from seqtune.postmortem._tuned import Tuned, find_tuned
from seqtune.postmortem._verdict import Row, Verdict, answer, explain, factorial, judge

__all__ = [
    "ALL_FIXED",
    "DEFECTS",
    "FIXED_LARGER",
    "ORIGINAL",
    "Configuration",
    "FluxChain",
    "FluxTask",
    "Row",
    "Setup",
    "Tuned",
    "Verdict",
    "answer",
    "configurations",
    "explain",
    "factorial",
    "find_tuned",
    "flux_evidence",
    "helper_inputs",
    "judge",
    "question_mse",
    "results",
    "run_postmortems",
    "study_name",
    "train_flux",
    "train_flux_seeds",
    "training_split",
]
