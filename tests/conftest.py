"""Shared fixtures: the real data in ../shared/data, temporary storages, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: the tests read real data from ../shared/data")
    return SHARED_DATA


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the installed ``seqtune`` console script as a user would."""
    exe = Path(sys.executable).with_name("seqtune")
    full_env = {**os.environ, **(env or {})}
    full_env.pop("OPTUNA_STORAGE", None) if env is None or "OPTUNA_STORAGE" not in env else None
    return subprocess.run([str(exe), *args], cwd=cwd or REPO, env=full_env, text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture()
def cli():
    return run_cli


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server on 127.0.0.1 for the session (see ``pg_server.py``)."""
    from pg_server import PostgresServer

    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def zygote():
    """A ``cli_zygote.py`` helper per test module: forked ``seqtune`` processes."""
    from test_errors import Zygote

    helper = Zygote()
    yield helper
    helper.close()
