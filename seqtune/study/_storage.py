"""Where studies live: URL resolution, safe opening, and password redaction."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import sqlalchemy.exc
from sqlalchemy.engine import make_url

from seqtune.errors import SeqtuneError

DEFAULT_STORAGE = "sqlite:///storage/seqtune.db"
_SQLITE_MAGIC = b"SQLite format 3\x00"


def resolve_storage_url(cli_value: str | None = None) -> str:
    """``--storage`` beats ``OPTUNA_STORAGE`` beats the embedded default."""
    return cli_value or os.environ.get("OPTUNA_STORAGE") or DEFAULT_STORAGE


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return "<malformed storage URL>"


def _check_sqlite_path(url: str) -> None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    if path.exists():
        if not path.is_file():
            raise SeqtuneError(f"storage {url}: {path} is not a file")
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
        if head and head != _SQLITE_MAGIC:
            raise SeqtuneError(f"storage {url}: {path} is not an SQLite database")
        if not os.access(path, os.W_OK):
            raise SeqtuneError(f"storage {url}: {path} is read-only")
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SeqtuneError(f"storage {url}: cannot create {path.parent} "
                               f"({exc.strerror})") from None
        if not os.access(path.parent, os.W_OK):
            raise SeqtuneError(f"storage {url}: directory {path.parent} is not writable")


def open_storage(url: str, heartbeat_interval: int | None = None,
                 grace_period: int | None = None) -> optuna.storages.BaseStorage:
    """Open (and for a new SQLite file, create) an Optuna RDB storage.

    Errors become one :class:`SeqtuneError` line with the password hidden.
    """
    shown = redact(url)
    try:
        parsed = make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        raise SeqtuneError(f"storage: malformed URL {shown!r}; expected e.g. "
                           "sqlite:///storage/seqtune.db or "
                           "postgresql://user:password@host/db") from None
    backend = parsed.get_backend_name()
    connect_args: dict[str, object] = {}
    if backend == "sqlite":
        _check_sqlite_path(url)
        connect_args["timeout"] = 60
    elif backend == "postgresql":
        connect_args["connect_timeout"] = 10
    kwargs = {}
    if heartbeat_interval:
        kwargs = {"heartbeat_interval": heartbeat_interval, "grace_period": grace_period}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": connect_args},
                                          **kwargs)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise SeqtuneError(f"storage {shown}: cannot open ({reason})") from None
