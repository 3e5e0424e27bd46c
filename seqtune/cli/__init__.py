"""The ``seqtune`` command line.

Exit status: 0 success, 1 failure, 2 bad usage or bad input (one line on
stderr, nothing written to the storage). Each command lives in its own
module and registers itself on :data:`app`.
"""

from __future__ import annotations

import sys

from seqtune.cli import _interop, _leaderboard, _postmortem, _report, _study  # noqa: F401  (register the commands)
from seqtune.cli._app import app, state
from seqtune.errors import SeqtuneError


def main() -> None:
    """Console entry point: map user errors to exit status 2."""
    try:
        app()
    except SeqtuneError as exc:
        if state["debug"]:
            raise
        print(f"seqtune: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("seqtune: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
