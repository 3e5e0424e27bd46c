"""The ``seqtune`` command line.

Exit status: 0 success, 1 failure, 2 bad usage or bad input (one line on
stderr, nothing written to the storage), 130/143 stopped by SIGINT/SIGTERM
(the running trial failed with the reason). Each command lives in its own
module and registers itself on :data:`app`.
"""

from __future__ import annotations

import io
import logging
import signal
import sys
import traceback
from typing import Any, NoReturn, TextIO

import optuna.progress_bar
import typer
from tqdm import tqdm

from seqtune.cli import _interop, _leaderboard, _postmortem, _report, _study  # noqa: F401  (register the commands)
from seqtune.cli._app import app, state
from seqtune.errors import SeqtuneError, WorkerFailed
from seqtune.study import _signals
from seqtune.study._url import scrub

#: ``seqtune --help`` lists commands in registration order: the main job first
app.registered_commands.sort(key=lambda command: command.name != "run")


def _usage_error(exc: typer.TyperException) -> NoReturn:
    """A command-line usage error as one line (``seqtune`` alone: the help)."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if message and "\n" not in message:
        where = ctx.command_path if ctx is not None else "seqtune"
        print(f"seqtune: error: {message} (see '{where} --help')", file=sys.stderr)
    else:  # no arguments: the help text, unless rich has shown it already
        print(message, end="", file=sys.stderr)
    sys.exit(exc.exit_code)


class _Scrubbed(io.TextIOBase):
    """A text stream that masks storage secrets (:func:`scrub`) in whatever passes:
    a driver's error text or a traceback may echo a storage URL's password."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(scrub(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _tqdm_emit(self: logging.StreamHandler, record: logging.LogRecord) -> None:
    """Optuna's progress-bar log handler, writing to stderr (Optuna's writes to
    stdout), so ``--json`` output stays clean."""
    try:
        _signals._without_traceback(record)  # an interrupted trial needs no traceback
        tqdm.write(self.format(record), file=sys.stderr)
        self.flush()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception:
        self.handleError(record)


def _guard_streams() -> None:
    """Mask secrets on stdout and stderr (Optuna's log handlers included) and keep
    Optuna's log lines (warnings, failed trials) off stdout."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, _Scrubbed):
            setattr(sys, name, _Scrubbed(stream))
    for handler in logging.getLogger("optuna").handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream in (
                sys.__stderr__, sys.__stdout__, getattr(sys.stderr, "stream", None)):
            handler.setStream(sys.stderr)
    optuna.progress_bar._TqdmLoggingHandler.emit = _tqdm_emit  # type: ignore[method-assign]


def main() -> None:
    """Console entry point: exit 2 for bad input or usage, 128 + N on signal N."""
    _signals.install()
    _guard_streams()
    try:
        status = app(standalone_mode=False)
    except (SeqtuneError, WorkerFailed) as exc:
        if state["debug"]:
            traceback.print_exc()  # through the scrubbing stderr
            sys.exit(1)
        print(f"seqtune: error: {exc}", file=sys.stderr)
        sys.exit(2 if isinstance(exc, SeqtuneError) else 1)
    except typer.TyperException as exc:
        _usage_error(exc)
    except KeyboardInterrupt:
        status = 130
    except Exception:  # a bug: its traceback, through the scrubbing stderr, exit 1
        traceback.print_exc()
        sys.exit(1)
    if (signum := _signals.received()) is not None:
        print(f"seqtune: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        sys.exit(128 + signum)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
