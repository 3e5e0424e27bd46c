"""Where studies live: URL resolution and safe opening (passwords hidden, see
:mod:`seqtune.study._url`)."""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
import sqlalchemy.exc
import sqlalchemy.pool
from optuna.exceptions import ExperimentalWarning
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.storages._rdb import models
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from seqtune.errors import SeqtuneError
from seqtune.study._url import parse, redact, remember_secrets, scrub, secret_query_keys

DEFAULT_STORAGE = "sqlite:///storage/seqtune.db"
#: seconds between the heartbeats of a running trial
HEARTBEAT_INTERVAL = 10
#: the longest heartbeat interval (a day; a longer one overflows the heartbeat
#: thread's wait, and would never find a dead worker anyway)
MAX_HEARTBEAT = 86_400
#: a running trial without a heartbeat for this long (default 3 intervals) is
#: failed by the next worker that asks for a trial, and queued again
GRACE_FACTOR = 3
#: how often one trial is re-queued after its worker died
MAX_RETRY = 3
#: seconds to wait for a PostgreSQL server before giving up
CONNECT_TIMEOUT = 10
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: what a process sees that creates the tables while another one does the same
_SCHEMA_RACE = ("already exists", "duplicate key", "UNIQUE constraint failed")


def resolve_storage_url(cli_value: str | None = None) -> str:
    """``--storage`` beats ``OPTUNA_STORAGE`` beats the embedded default; its secrets
    are masked on every stream from here on (:func:`~seqtune.study._url.scrub`)."""
    url = cli_value or os.environ.get("OPTUNA_STORAGE") or DEFAULT_STORAGE
    remember_secrets(url)
    return url


def _check_userinfo(url: str) -> None:
    """A password with a raw ``@`` (or ``/``) would be cut there and the rest taken
    for the host: refuse it rather than connect there."""
    parsed = make_url(url)
    if parsed.password is None:
        return
    rest = url.partition("://")[2].partition("?")[0]
    if rest.count("@") > 1 or "/" in rest.rpartition("@")[0]:
        raise SeqtuneError(f"storage {redact(url)}: the user or password contains a raw "
                           "'@' or '/'; percent-encode it (@ -> %40, / -> %2F)")


#: the query options SQLite takes (the pysqlite driver ignores any other, with a
#: warning, unless ``uri=true`` passes them on to SQLite's own URI parser)
_SQLITE_OPTIONS = ("uri", "timeout", "isolation_level", "detect_types", "check_same_thread",
                   "cached_statements")


def _check_sqlite_options(url: str, shown: str) -> None:
    """SQLite has no passwords: a credential in its URL is a mistake, refused rather
    than silently ignored; so is an option the driver would ignore."""
    parsed = make_url(url)
    if secrets := secret_query_keys(parsed):
        raise SeqtuneError(f"storage {shown}: SQLite takes no credentials; remove "
                           f"{', '.join(repr(k) for k in secrets)} from the URL")
    if parsed.query.get("uri") not in ("true", "1"):
        if unknown := [k for k in parsed.query if k not in _SQLITE_OPTIONS]:
            raise SeqtuneError(f"storage {shown}: unknown SQLite option(s) "
                               f"{', '.join(repr(k) for k in unknown)}; expected "
                               f"{', '.join(_SQLITE_OPTIONS)} (or uri=true for SQLite's own)")


def _check_sqlite_path(url: str, shown: str) -> None:
    database = make_url(url).database
    if not database:
        raise SeqtuneError(f"storage {shown}: no database file; expected e.g. "
                           "sqlite:///storage/seqtune.db")
    if database == ":memory:":
        return
    path, head = Path(database), b""
    try:
        exists = path.exists()
        if exists:
            if not path.is_file():
                raise SeqtuneError(f"storage {shown}: {path} is not a file")
            with path.open("rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SeqtuneError(f"storage {shown}: cannot access {path} ({exc.strerror}); "
                           "expected a readable and writable SQLite file") from None
    if head and head != _SQLITE_MAGIC:
        raise SeqtuneError(f"storage {shown}: {path} is not an SQLite database")
    if exists and not os.access(path, os.W_OK):
        raise SeqtuneError(f"storage {shown}: {path} is read-only; expected a writable file")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise SeqtuneError(f"storage {shown}: directory {path.parent} is not writable "
                           "(SQLite keeps its journal beside the database)")


class Storage(optuna.storages.RDBStorage):
    """Optuna's RDB storage (same tables, same rows: the ``optuna`` CLI and the
    dashboard read it as ever) whose trial state changes cannot be won twice.

    Optuna claims a WAITING (queued) trial by reading it ``SELECT ... FOR
    UPDATE`` and then writing RUNNING. SQLite ignores ``FOR UPDATE``, and
    Python's sqlite3 runs that read outside any transaction, so two workers
    could both read WAITING and both start trial 0; the loser later died with
    ``UpdateFinishedTrialError``. The same race let two workers both fail one
    heartbeat-stale trial and queue two retries of it. Here every claim
    (WAITING -> RUNNING) and every finish (-> COMPLETE/PRUNED/FAIL) is one
    conditional ``UPDATE trials SET state=... WHERE trial_id=? AND state IN
    (...)``: the database lets one writer change the row, the row count says
    who did, and the others see ``False`` (a claim) or
    ``UpdateFinishedTrialError`` (a finish), as with Optuna on PostgreSQL.
    """

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values: Sequence[float] | None = None) -> bool:
        if state == TrialState.RUNNING:
            allowed = [TrialState.WAITING]
        elif state.is_finished():
            allowed = [TrialState.RUNNING, TrialState.WAITING]
        else:
            return super().set_trial_state_values(trial_id, state, values)
        now = datetime.now(UTC).replace(tzinfo=None)  # Optuna stores naive UTC
        changes: dict[Any, Any] = {models.TrialModel.state: state}
        if state == TrialState.RUNNING:
            changes[models.TrialModel._datetime_start_utc] = now
        else:
            changes[models.TrialModel._datetime_complete_utc] = now
        session = self.scoped_session()
        try:
            won = session.execute(
                sqlalchemy.update(models.TrialModel)
                .where(models.TrialModel.trial_id == trial_id,
                       models.TrialModel.state.in_(allowed))
                .values(changes)
                .execution_options(synchronize_session=False)).rowcount == 1
            if not won:
                trial = models.TrialModel.find_or_raise_by_id(trial_id, session)
                session.rollback()
                self.check_trial_is_updatable(trial_id, trial.state)  # finished: raises
                return False  # someone else claimed it first
            for objective, value in enumerate(values or ()):
                stored, value_type = models.TrialValueModel.value_to_stored_repr(value)
                row = (session.query(models.TrialValueModel)
                       .filter(models.TrialValueModel.trial_id == trial_id,
                               models.TrialValueModel.objective == objective).one_or_none())
                if row is None:
                    session.add(models.TrialValueModel(trial_id=trial_id, objective=objective,
                                                       value=stored, value_type=value_type))
                else:
                    row.value, row.value_type = stored, value_type
            session.commit()
        except sqlalchemy.exc.IntegrityError:
            session.rollback()
            return False
        except sqlalchemy.exc.SQLAlchemyError as exc:
            session.rollback()
            raise optuna.exceptions.StorageInternalError(
                "An exception is raised during the commit.") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        return True

    def unwatched_trials(self, study_id: int, trial_ids: list[int]) -> set[int]:
        """Which of ``trial_ids`` never recorded a heartbeat (a heartbeat-enabled
        worker records one the moment its trial starts)."""
        session = self.scoped_session()
        try:
            beating = {row[0] for row in session.query(models.TrialHeartbeatModel.trial_id)
                       .filter(models.TrialHeartbeatModel.trial_id.in_(trial_ids))}
        finally:
            session.close()
        return set(trial_ids) - beating

    def claim_study_user_attr(self, study_id: int, key: str, value: Any) -> bool:
        """Set the study user attr ``key`` only if no process has set it yet:
        one INSERT against the table's unique (study, key) constraint, so of
        many processes exactly one gets ``True``."""
        session = self.scoped_session()
        try:
            session.add(models.StudyUserAttributeModel(study_id=study_id, key=key,
                                                       value_json=json.dumps(value)))
            session.commit()
        except sqlalchemy.exc.IntegrityError:
            session.rollback()
            return False
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        return True


def _rdb_storage(url: str, **kwargs: Any) -> Storage:
    """``Storage(url)``, tried again while another worker creates the same tables."""
    attempts = 5
    while True:
        try:
            return Storage(url, **kwargs)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            attempts -= 1
            if not attempts or not any(text in str(exc) for text in _SCHEMA_RACE):
                raise
            time.sleep(0.5)


#: the in-memory databases of this process, by URL (see :func:`_memory_storage`)
_MEMORY: dict[str, Storage] = {}


def _memory_storage(url: str, shown: str) -> Storage:
    """``sqlite:///:memory:``: one database per process and URL, shared by every
    :func:`open_storage` call (``optimize`` then ``report`` in one notebook see the
    same studies) and by every thread (one connection, ``StaticPool``; with
    SQLAlchemy's default pool each thread opened an empty database of its own,
    and Optuna's heartbeat thread failed with "no such table: trial_heartbeats").
    No heartbeats: no other process can reach the database, so no other worker
    can find its trials stale."""
    if url not in _MEMORY:
        try:
            _MEMORY[url] = Storage(url, engine_kwargs={
                "poolclass": sqlalchemy.pool.StaticPool,
                "connect_args": {"check_same_thread": False}})
        except sqlalchemy.exc.SQLAlchemyError as exc:
            reason = (str(getattr(exc, "orig", exc)).strip().splitlines() or ["?"])[0]
            raise SeqtuneError(f"storage {shown}: cannot open ({scrub(reason)})") from None
    return _MEMORY[url]


def shared_between_processes(url: str) -> bool:
    """Whether other processes can open the database of ``url`` (not an in-memory one)."""
    try:
        parsed = make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return True
    return not (parsed.get_backend_name() == "sqlite" and parsed.database == ":memory:")


def open_storage(url: str, heartbeat_interval: int | None = HEARTBEAT_INTERVAL,
                 grace_period: int | None = None) -> Storage:
    """Open (and for a new SQLite file, create) an Optuna RDB storage.

    Running trials record a heartbeat every ``heartbeat_interval`` seconds
    (``None``: off). One silent for ``grace_period`` seconds (default
    :data:`GRACE_FACTOR` intervals) belonged to a dead worker: the next worker
    that asks for a trial fails it and queues a copy (same parameters, a new
    number). Errors become one :class:`SeqtuneError` line with the password
    hidden.
    """
    shown = redact(url)
    parsed = parse(url)
    if parsed is None:
        raise SeqtuneError(f"storage: malformed URL {shown!r}; expected e.g. "
                           "sqlite:///storage/seqtune.db or "
                           "postgresql://user:password@host/db") from None
    _check_userinfo(url)
    backend = parsed.get_backend_name()
    connect_args: dict[str, object] = {}
    if backend == "sqlite":
        _check_sqlite_options(url, shown)
        _check_sqlite_path(url, shown)
        connect_args["timeout"] = 60
        if parsed.database == ":memory:":
            return _memory_storage(url, shown)
    elif backend == "postgresql":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
        if parsed.drivername == "postgresql":  # SQLAlchemy 2.1 would pick psycopg 3
            url = parsed.set(drivername="postgresql+psycopg2").render_as_string(
                hide_password=False)
    try:
        with warnings.catch_warnings():  # heartbeat and retry are "experimental"
            warnings.simplefilter("ignore", ExperimentalWarning)
            heartbeat = {} if not heartbeat_interval else {
                "heartbeat_interval": heartbeat_interval,
                "grace_period": grace_period or GRACE_FACTOR * heartbeat_interval,
                "heartbeat_stale_trial_callback":
                    RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)}
            return _rdb_storage(url, engine_kwargs={"connect_args": connect_args}, **heartbeat)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError, RuntimeError) as exc:
        # RuntimeError: Optuna finds a schema version it does not know (another
        # program's alembic_version, or a newer Optuna's)
        reason = (str(getattr(exc, "orig", exc)).strip().splitlines() or ["?"])[0]
        raise SeqtuneError(f"storage {shown}: cannot open ({scrub(reason)})") from None
