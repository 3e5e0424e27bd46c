"""User-facing errors: one clear line, exit status 2, nothing written."""


class SeqtuneError(Exception):
    """Bad input from the user (file, field, option). The CLI prints it and exits 2."""


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the trial is failed, the study goes on."""


class WorkerFailed(RuntimeError):
    """A worker process of ``--workers N`` ended badly. The CLI prints it and exits 1."""
