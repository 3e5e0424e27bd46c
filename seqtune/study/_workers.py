"""``--workers N``: N processes on this machine run trials of one study.

There is no scheduler of ours: every worker is an ordinary Optuna
``study.optimize`` loop on the same storage, exactly like workers on other
machines. This module only starts them (one torch thread each, see
:mod:`seqtune.runtime`), passes a stop signal on, and reports workers that
ended badly. Workers are forked from a ``forkserver`` that has imported
seqtune once (no database connection or torch state of the parent is
inherited, and N workers do not pay N imports of torch).

Workers do not outlive their parent. They are children of the forkserver,
not of the parent, so the parent's death sends them nothing; instead each
holds the read end of a pipe whose only write end the parent holds. When the
parent dies (even by ``kill -9``) the pipe reports end-of-file, and the
worker stops itself as SIGTERM stops it: the running trial is failed with the
reason in its ``error`` attr, finished trials stay.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import optuna

from seqtune.errors import SeqtuneError, WorkerFailed
from seqtune.runtime import configure_threads
from seqtune.study import _signals

#: seconds the workers get to fail their running trial after a stop signal
STOP_WAIT = 60.0


def _watch_parent(lifeline: Connection, parent: int) -> None:
    """A worker's daemon thread: once the parent is gone, stop as SIGTERM stops,
    and if that has not ended the process after :data:`STOP_WAIT` s, end it."""
    try:
        while True:
            lifeline.recv()  # the parent sends nothing: this returns only on its end
    except (EOFError, OSError):
        pass
    _signals.stop(f"the parent process {parent} is gone")
    time.sleep(STOP_WAIT)
    os._exit(128 + signal.SIGTERM)


def _entry(target: Callable[..., None], args: tuple[Any, ...], verbosity: int,
           lifeline: Connection, parent: int) -> None:
    _signals.install()
    threading.Thread(target=_watch_parent, args=(lifeline, parent), daemon=True,
                     name="parent watch").start()
    optuna.logging.set_verbosity(verbosity)
    configure_threads()
    try:
        target(*args)
    except _signals.Interrupted as stop:
        sys.exit(stop.exit_status)
    except SeqtuneError as exc:
        print(f"seqtune: error: {exc}", file=sys.stderr)
        sys.exit(2)


def _describe(process: multiprocessing.process.BaseProcess) -> str:
    code = process.exitcode
    ended = (f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0
             else f"exited with status {code}")
    return f"{process.name} (pid {process.pid}) {ended}"


def run_workers(target: Callable[..., None], args: tuple[Any, ...], workers: int) -> None:
    """Run ``target(*args)`` in ``workers`` fresh processes and wait for all of them.

    A stop signal is passed on to every worker, which fails its running trial
    and exits; the signal is then re-raised here. A worker that ends badly
    (an error, or killed from outside) raises :class:`WorkerFailed` once all
    have ended; the others carry on meanwhile. If this process dies, the
    workers notice and stop (see the module docstring).
    """
    context = multiprocessing.get_context("forkserver")
    # torch.optim imports torch._dynamo on first use: seconds of CPU, once here
    context.set_forkserver_preload([target.__module__, "torch._dynamo"])
    lifeline, keep_alive = context.Pipe(duplex=False)
    entry_args = (target, args, optuna.logging.get_verbosity(), lifeline, os.getpid())
    processes = [context.Process(target=_entry, args=entry_args,
                                 name=f"worker {i + 1}/{workers}") for i in range(workers)]
    try:
        for process in processes:
            process.start()
        lifeline.close()  # the workers hold it now; only keep_alive stays here
        for process in processes:
            process.join()
    except _signals.Interrupted as stop:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, stop.signum)
        deadline = time.monotonic() + STOP_WAIT
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        raise
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
        lifeline.close()
        keep_alive.close()
    failed = [_describe(p) for p in processes if p.exitcode != 0]
    if failed:
        raise WorkerFailed(f"{len(failed)} of {workers} workers ended badly: "
                           + "; ".join(failed))
