"""SIGINT/SIGTERM: stop at a safe point, fail the running trial with the reason, exit 130/143.

Outside a trial loop a stop signal raises :class:`Interrupted` at once. Inside
:func:`deferred` it is only recorded, and :func:`check` raises it at the next
safe point (each epoch, each trial start, after each trial), so Optuna marks
the running trial FAIL and the study stops, never in the middle of a
storage write.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import optuna

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    deferring = False
    received: int | None = None
    #: why the process stopped itself (:func:`stop`), shown after the signal's name
    reason: str | None = None


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; the process should exit with 128 + its number."""

    def __init__(self, signum: int, reason: str | None = None) -> None:
        self.signum = signum
        text = f"interrupted by {signal.Signals(signum).name}"
        super().__init__(f"{text} ({reason})" if reason else text)

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _handle(signum: int, _frame: FrameType | None) -> None:
    if _State.received is None:
        _State.received = signum
    if not _State.deferring:
        raise Interrupted(signum, _State.reason)


def _without_traceback(record: logging.LogRecord) -> bool:
    """Optuna logs a failed trial with its traceback; an interrupted one needs none."""
    if record.exc_info and isinstance(record.exc_info[1], Interrupted):
        record.exc_info = None
    return True


def install() -> None:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` (main thread only)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _handle)
    optuna.logging.get_verbosity()  # makes sure Optuna's handler exists
    for handler in logging.getLogger("optuna").handlers:
        handler.addFilter(_without_traceback)


def received() -> int | None:
    """The first stop signal this process got, if any."""
    return _State.received


def check() -> None:
    """A safe point: raise :class:`Interrupted` if a stop signal has arrived."""
    if (signum := received()) is not None:
        raise Interrupted(signum, _State.reason)


def stop(reason: str) -> None:
    """Stop this process exactly as SIGTERM does, with ``reason`` added to the
    error text. Safe to call from any thread: it sends the signal to itself,
    and the main thread handles it."""
    if _State.received is None and _State.reason is None:
        _State.reason = reason
    os.kill(os.getpid(), signal.SIGTERM)


@contextmanager
def deferred() -> Iterator[None]:
    """Inside, a stop signal waits for the next :func:`check` instead of raising."""
    previous, _State.deferring = _State.deferring, True
    try:
        check()
        yield
    finally:
        _State.deferring = previous
