"""Run many ``seqtune`` command lines quickly: import once, fork a fresh process each.

Importing seqtune (torch, Optuna, SQLAlchemy) costs seconds of CPU; a table of
forty bad inputs through the console script would take minutes on a 2-core
machine. This helper imports :func:`seqtune.cli.main` once, then for every
command forks a new process that sets its own argv, environment, working
directory, user and stdout/stderr files, and runs ``main()`` exactly as the
console script does. Its exit status is the process's real exit status.

Protocol: each stdin line is ``{"parallel": k, "cases": [case, ...]}`` where a
case has ``args``, ``env``, ``cwd``, ``stdout``, ``stderr`` and optional
``user`` and ``timeout`` (seconds, then SIGKILL: its result says ``"timed_out": true``);
the answer is one line ``[{"status": int, "seconds": float}, ...]``.
"""

from __future__ import annotations

import importlib
import json
import os
import pwd
import signal
import sys
import time
from typing import Any

from seqtune.cli import main

#: what a run imports on first use (the optimizer, the baselines): once, here
for _module in ("torch._dynamo", "sklearn.linear_model", "sklearn.pipeline",
                "statsmodels.tsa.ar_model"):
    importlib.import_module(_module)


def _child(case: dict[str, Any]) -> None:
    """In the forked process: become the command line, run it, exit with its status."""
    for fd, key in ((1, "stdout"), (2, "stderr")):
        os.dup2(os.open(case[key], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    if user := case.get("user"):
        entry = pwd.getpwnam(user)
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    os.chdir(case["cwd"])
    os.environ.clear()
    os.environ.update(case["env"])
    sys.argv = ["seqtune", *case["args"]]
    status = 0
    try:
        main()
    except SystemExit as exc:  # what the interpreter does with it
        if isinstance(exc.code, int):
            status = exc.code
        elif exc.code is not None:
            print(exc.code, file=sys.stderr)
            status = 1
    except BaseException:  # an uncaught error: print it as Python would
        sys.excepthook(*sys.exc_info())
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _run(cases: list[dict[str, Any]], parallel: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = [{} for _ in cases]
    running: dict[int, tuple[int, float]] = {}
    pending = list(enumerate(cases))
    while pending or running:
        while pending and len(running) < parallel:
            index, case = pending.pop(0)
            pid = os.fork()
            if pid == 0:
                try:
                    _child(case)
                finally:  # never return into this loop
                    os._exit(1)
            running[pid] = (index, time.monotonic())
        pid, wait_status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:  # none ended yet: kill the ones past their optional "timeout"
            for late, (index, started) in running.items():
                if time.monotonic() - started > cases[index].get("timeout", float("inf")):
                    os.kill(late, signal.SIGKILL)
                    results[index]["timed_out"] = True
            time.sleep(0.02)
            continue
        index, started = running.pop(pid)
        results[index].update(status=os.waitstatus_to_exitcode(wait_status),
                              seconds=round(time.monotonic() - started, 2))
    return results


if __name__ == "__main__":
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(_run(request["cases"], request["parallel"])), flush=True)
