"""Strict JSON for every ``-f json`` output: what ``json.loads`` in any language reads.

Python's :func:`json.dumps` writes ``NaN`` and ``Infinity`` for non-finite
floats, which are not JSON (JavaScript's ``JSON.parse``, ``jq`` and Go refuse
them). Here they become ``null``, the convention of pandas' ``to_json``.
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (nested in dicts, lists, tuples) as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`finite` ``value``; never ``NaN`` or ``Infinity``."""
    return json.dumps(finite(value), allow_nan=False, **kwargs)
