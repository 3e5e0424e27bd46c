"""The runtime policy: how many torch threads and worker processes seqtune uses.

One module decides it for the whole project (studies, ``--workers``, the
post-mortem's training pool, ``evaluate``, the benchmarks), by two rules:

- **One torch intra-op thread per process**, unless ``OMP_NUM_THREADS`` is
  set, which then wins (as it does for torch itself). The models are small:
  a second OpenMP thread gains little on an idle machine, and once the
  threads outnumber the free cores (a second worker, another job, a test
  suite) every step waits for a descheduled thread. Measured on a 2-core
  machine with other work running, a digitsum GRU-240 training step took
  20 ms with one thread and 99-337 ms with two: 5-80x slower.
- **Parallelism comes from processes, not threads**: by default (``auto``)
  every usable core runs one worker process with one thread each.
  "Usable" is this process's CPU affinity (a container's cpuset,
  ``taskset``), not the machine's core count.

Change the defaults with ``--workers N`` (``1``: everything in-process) and
``OMP_NUM_THREADS`` (more threads per process: worth it only for models far
larger than seqtune's studies, on cores nothing else uses).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import torch

#: the ``--workers`` value that means "one worker process per usable core"
AUTO = "auto"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def thread_count() -> int:
    """Torch intra-op threads for one process: ``OMP_NUM_THREADS`` if set to a
    positive integer, else 1."""
    requested = os.environ.get("OMP_NUM_THREADS", "").strip()
    if requested.isdigit() and int(requested) > 0:
        return int(requested)
    return 1


def configure_threads() -> int:
    """Apply :func:`thread_count` to torch in this process; return the count."""
    threads = thread_count()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


@contextmanager
def _threads(count: int) -> Iterator[None]:
    """Run the body on ``count`` torch threads, then restore this process's own."""
    threads = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def one_thread() -> AbstractContextManager[None]:
    """Run the body on exactly one torch thread, whatever ``OMP_NUM_THREADS``
    says (tiny models: more threads only add synchronisation), then restore."""
    return _threads(1)


def policy_threads() -> AbstractContextManager[None]:
    """Run the body with the thread count a worker process gets
    (:func:`thread_count`), then restore this process's own."""
    return _threads(thread_count())


def resolve_workers(value: str | int) -> int:
    """Worker processes for a ``--workers`` value: ``auto`` is :func:`usable_cores`,
    otherwise a positive integer. Raises ``ValueError`` with a one-line reason."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip().lower()
        if text == AUTO:
            return usable_cores()
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"expected {AUTO!r} or a positive integer, got {value!r}") from None
    if number < 1:
        raise ValueError(f"expected {AUTO!r} or a positive integer, got {value!r}")
    return number
