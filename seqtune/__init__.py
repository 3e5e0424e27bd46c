"""seqtune: Optuna studies over recurrent sequence models, with baselines and reports.

The Python API (:mod:`seqtune.api`), loaded on first use so that ``import
seqtune`` stays fast::

    seqtune.optimize(study_file_or_config, storage=..., callbacks=[...], **overrides)
    seqtune.leaderboard(study)          # pandas DataFrame
    seqtune.report(storage, out)        # HTML report, the path of index.html
    seqtune.train_and_score(task, params, max_epochs, patience, seed)
    seqtune.make_task({"name": "rainfall", ...})
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("seqtune")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

#: names of the Python API, loaded from :mod:`seqtune.api` on first access
_API = ("optimize", "leaderboard", "report", "train_and_score", "make_task", "study_config")
__all__ = ["__version__", *_API]


class _CallableReport(types.ModuleType):
    """The subpackage ``seqtune.report`` that is also the function
    ``seqtune.report(storage, out)`` (:func:`seqtune.api.report`): the import
    system binds the subpackage to the name ``report`` of this package, so the
    API function and the subpackage must be one object."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return import_module("seqtune.api").report(*args, **kwargs)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "report" and type(value) is types.ModuleType:
            value.__class__ = _CallableReport
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name == "report":
        return import_module("seqtune.report")  # the import sets the attribute
    if name in _API:
        value = getattr(import_module("seqtune.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seqtune' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
