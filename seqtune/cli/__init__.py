"""The ``seqtune`` command line.

Exit status: 0 success, 1 failure, 2 bad usage or bad input (one line on
stderr, nothing written to the storage), 130/143 stopped by SIGINT/SIGTERM
(the running trial failed with the reason). Each command lives in its own
module and registers itself on :data:`app`.
"""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

import typer

from seqtune.cli import _interop, _leaderboard, _postmortem, _report, _study  # noqa: F401  (register the commands)
from seqtune.cli._app import app, state
from seqtune.errors import SeqtuneError, WorkerFailed
from seqtune.study import _signals


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


def main() -> None:
    """Console entry point: exit 2 for bad input or usage, 128 + N on signal N."""
    _signals.install()
    try:
        status = app(standalone_mode=False)
    except (SeqtuneError, WorkerFailed) as exc:
        if state["debug"]:
            raise
        print(f"seqtune: error: {exc}", file=sys.stderr)
        sys.exit(2 if isinstance(exc, SeqtuneError) else 1)
    except typer.TyperException as exc:
        _usage_error(exc)
    except KeyboardInterrupt:
        status = 130
    if (signum := _signals.received()) is not None:
        print(f"seqtune: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        sys.exit(128 + signum)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
