"""No part of a storage password reaches any stream, whatever the URL's shape.

Every command that takes a storage runs through the real entry point (forked
``cli_zygote.py`` processes) with passwords that hold a raw ``@ / ? # %``, with
a password in the query string, from ``OPTUNA_STORAGE``, with and without
``--debug``: against a closed port (the error paths), and against a live
PostgreSQL server whose role's password holds ``? # %`` (the paths that work:
progress lines, tables, JSON, the report's pages). Both streams, and the pages
written, are scanned for the password and for each part of it on either side
of its raw character.
"""

from __future__ import annotations

import json
from pathlib import Path

from pg_server import free_port
from test_errors import REPO, Zygote

LEFT, RIGHT = "Zq4w7", "Pk2m9"
RAW = "@/?#%"
#: the live role's password: every raw character a URL parser may stop at but
#: ``@`` and ``/`` (which seqtune refuses, asking for percent-encoding)
LIVE_PASSWORD = f"{LEFT}?{RIGHT}#Rt5x%Vn8"
PIECES = (LEFT, RIGHT, "Rt5x", "Vn8")
DRIFT = str(REPO / "studies" / "seeded-drift.toml")
QUICK = ["--n-trials", "1", "--max-epochs", "1", "--repeats", "1", "--workers", "1"]


def commands(out: Path) -> dict[str, list[str]]:
    """Every command that reads a storage, as cheaply as it runs."""
    return {"optimize": ["optimize", DRIFT, "--study-name", "pre", *QUICK],
            "leaderboard": ["leaderboard", "pre"],
            "leaderboard json": ["leaderboard", "pre", "-f", "json"],
            "report": ["report", "--out", str(out)],
            "predict": ["predict", "pre", "--seq", "0.1,0.2,0.3,0.4,0.5", "-f", "json"],
            "postmortem": ["postmortem", "--rule", "drift", "--max-epochs", "1", "--seeds", "1",
                           "--draws", "1", "--no-factorial", "--workers", "1"],
            "run": ["run", "--quick", "--workers", "1"]}


def run(zygote: Zygote, folder: Path, runs: list[tuple[str, list[str], dict[str, str]]],
        parallel: int = 2) -> list[tuple[str, int, str]]:
    """Run each ``(label, args, env)``; ``(label, status, stdout + stderr)`` each (stdout
    first, then a line ``--- stderr ---``)."""
    specs = [{"args": args, "env": {**zygote.env, **env}, "cwd": str(REPO), "timeout": 240,
              "stdout": str(folder / f"{i}.out"), "stderr": str(folder / f"{i}.err")}
             for i, (_, args, env) in enumerate(runs)]
    results = zygote.run(specs, parallel=parallel)
    return [(label, r.get("status", -1),
             Path(s["stdout"]).read_text() + "--- stderr ---\n" + Path(s["stderr"]).read_text())
            for (label, _, _), r, s in zip(runs, results, specs, strict=True)]


def leaks(outputs: list[tuple[str, int, str]]) -> list[str]:
    return [f"{label} (exit {status}): {piece!r} in\n{text[-1500:]}"
            for label, status, text in outputs for piece in PIECES if piece in text]


def test_no_password_piece_on_any_stream_when_the_server_cannot_be_reached(zygote, tmp_path):
    port = free_port()  # nothing listens there
    urls = {f"raw {c!r}": f"postgresql+psycopg2://seqtune:{LEFT}{c}{RIGHT}@127.0.0.1:{port}/db"
            for c in RAW}
    urls["query string"] = f"postgresql://seqtune@127.0.0.1:{port}/db?password={LEFT}{RIGHT}"
    urls["query string, raw ?"] = (f"postgresql://seqtune@127.0.0.1:{port}/db?sslmode=disable"
                                   f"?password={LEFT}{RIGHT}")
    urls["sqlite with a password"] = f"sqlite:///{tmp_path / 'x.db'}?password={LEFT}{RIGHT}"
    runs = []
    for shape, url in urls.items():
        for name, args in commands(tmp_path / "reports").items():
            runs.append((f"{shape}: {name}", [*args, "--storage", url], {}))
        for name in ("optimize", "leaderboard"):
            runs.append((f"{shape}: --debug {name}",
                         ["--debug", *commands(tmp_path)[name], "--storage", url], {}))
        runs.append((f"{shape}: OPTUNA_STORAGE", ["leaderboard", "pre"],
                     {"OPTUNA_STORAGE": url}))
    outputs = run(zygote, tmp_path, runs)
    assert not leaks(outputs), "\n\n".join(leaks(outputs))
    refused = [(label, status, text) for label, status, text in outputs
               if "--debug" not in label and (status != 2 or len(text.strip().splitlines()) != 2)]
    assert not refused, refused  # each: one line, exit 2
    assert not (tmp_path / "x.db").exists() and not (tmp_path / "reports").exists()


def test_no_password_piece_on_any_stream_when_it_works(zygote, postgres, tmp_path):
    """A role whose password holds raw ``? # %``: every command runs, none shows it."""
    postgres.psql(f"CREATE ROLE hostile LOGIN PASSWORD '{LIVE_PASSWORD}'")
    postgres.psql("CREATE DATABASE hostile OWNER hostile")
    url = f"postgresql://hostile:{LIVE_PASSWORD}@127.0.0.1:{postgres.port}/hostile"
    every = commands(tmp_path / "reports")
    first = run(zygote, tmp_path, [("optimize", [*every.pop("optimize"), "--storage", url], {})])
    assert first[0][1] == 0, first[0][2]
    every.pop("run")  # the whole job: seqtune run --quick is covered on SQLite elsewhere
    runs = [(name, [*args, "--storage", url], {}) for name, args in every.items()]
    runs += [("--debug leaderboard", ["--debug", "leaderboard", "pre", "--storage", url], {}),
             ("OPTUNA_STORAGE leaderboard", ["leaderboard", "pre"], {"OPTUNA_STORAGE": url}),
             ("wrong password", ["leaderboard", "pre", "--storage",
                                 url.replace(LIVE_PASSWORD, LIVE_PASSWORD[::-1])], {}),
             ("no such study", ["leaderboard", "nope", "--storage", url], {})]
    outputs = first + run(zygote, tmp_path, runs)
    pages = [(str(p), 0, p.read_text()) for p in (tmp_path / "reports").glob("*.html")]
    assert pages, "the report wrote no page"
    assert not leaks(outputs + pages), "\n\n".join(leaks(outputs + pages))
    status = {label: s for label, s, _ in outputs}
    assert status["wrong password"] == 2 and status["no such study"] == 2, outputs
    assert all(s == 0 for label, s in status.items() if label not in ("wrong password",
                                                                      "no such study")), outputs
    predicted = dict((label, text) for label, _, text in outputs)["predict"]
    assert json.loads(predicted.partition("--- stderr ---")[0])["predictions"]
