"""seqtune: Optuna studies over recurrent sequence models, with baselines and reports."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seqtune")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
