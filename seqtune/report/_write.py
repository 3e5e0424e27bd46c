"""Render pages with jinja2 (autoescape on) and write them atomically.

Every file is written to a hidden temporary file in the same folder, flushed
to disk, then renamed over its final name: a reader (or a killed run) sees
either the previous file or the complete new one, never a partial page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

PLOTLY_JS = "plotly.min.js"
_TEMP = re.compile(r"^\..+\.tmp-\d+$")

_env = Environment(loader=PackageLoader("seqtune.report", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(template: str, context: Mapping[str, Any]) -> str:
    """``template`` (a file under ``templates/``) rendered with ``context``."""
    return _env.get_template(template).render(**context)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename (temp file, fsync, ``os.replace``)."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with temp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    _sync_dir(path.parent)


def _sync_dir(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temps(folder: Path) -> None:
    """Temporary files left by a run that was killed while writing."""
    for path in folder.iterdir():
        if _TEMP.match(path.name):
            path.unlink(missing_ok=True)


def ensure_plotly_js(folder: Path) -> None:
    """``plotly.min.js`` beside the pages (so they work offline), rewritten only if it
    differs from the installed plotly's bundle."""
    from plotly.offline import get_plotlyjs

    data = get_plotlyjs().encode()
    target = folder / PLOTLY_JS
    if not target.is_file() or target.read_bytes() != data:
        write_atomic(target, data)
