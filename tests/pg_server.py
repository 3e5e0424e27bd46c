"""A real PostgreSQL server for the tests, on 127.0.0.1 with a throw-away data dir.

The Debian package is installed by ``scripts/system-deps.sh`` when missing.
As root, ``initdb`` and ``pg_ctl`` run as the ``postgres`` OS user (PostgreSQL
refuses to run as root). The database role has a password, so the URL has one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import optuna

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "pw-Zq81-never-printed"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def ensure_installed() -> Path:
    """The directory of ``initdb``/``pg_ctl``, installing the package if needed."""
    if (bindir := _bindir()) is None:
        subprocess.run(["bash", str(REPO / "scripts" / "system-deps.sh"), "postgresql"],
                       check=True, timeout=900)
        bindir = _bindir()
    assert bindir is not None, "PostgreSQL binaries not found after installing postgresql"
    return bindir


class PostgresServer:
    """``start()`` a private server; ``stop()`` it and remove its files."""

    def __init__(self) -> None:
        self.bindir = ensure_installed()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="seqtune-pg-"))
        self.data, self.sockets = self.root / "data", self.root / "sock"
        self.port = free_port()
        self.started = False

    def _run(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run([str(self.bindir / args[0]), *args[1:]], user=self.user,
                              capture_output=True, text=True, timeout=timeout,
                              cwd=self.root, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"{args[0]} failed: {done.stdout}{done.stderr}"

    def start(self) -> None:
        self.sockets.mkdir()
        if self.user:
            for path in (self.root, self.sockets):
                shutil.chown(path, self.user, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.sockets} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")
        self.started = True
        self.psql("CREATE ROLE seqtune LOGIN PASSWORD '" + PASSWORD + "'")

    def psql(self, sql: str, database: str = "postgres") -> None:
        self._run("psql", "-h", str(self.sockets), "-p", str(self.port), "-U", "postgres",
                  "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql)

    def create_database(self, name: str) -> str:
        """A new empty database owned by the ``seqtune`` role; its URL (with password)."""
        self.psql(f"CREATE DATABASE {name} OWNER seqtune")
        return self.url(name)

    def url(self, database: str, password: str = PASSWORD, port: int | None = None) -> str:
        return (f"postgresql://seqtune:{password}@127.0.0.1:{port or self.port}/{database}")

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-t", "60", "stop")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


def trial_rows(url: str) -> list[tuple]:
    """Every study and trial of a storage, for "nothing changed" comparisons."""
    storage = optuna.storages.RDBStorage(url.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        rows: list[tuple] = []
        for summary in optuna.get_all_study_summaries(storage):
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            rows.append((summary.study_name, repr(sorted(study.user_attrs.items()))))
            rows += [(summary.study_name, t.number, t.state.name, t.values, repr(t.params),
                      repr(sorted(t.user_attrs.items())), repr(t.intermediate_values),
                      t.datetime_start, t.datetime_complete) for t in study.trials]
        return rows
    finally:
        storage.engine.dispose()
