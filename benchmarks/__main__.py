"""Command line of the benchmarks: ``python -m benchmarks --help``."""

from __future__ import annotations

import argparse
import shlex
import shutil
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from types import ModuleType

from benchmarks import curve, load, memory, parallel, pruning, quality, repeats, throughput
from benchmarks._common import REPO, Context, Figure, busy_warning, machine_facts, progress
from benchmarks._report import markdown, text_table, write_atomically

SECTIONS: dict[str, ModuleType] = {
    "throughput": throughput,
    "quality": quality,
    "parallel": parallel,
    "load": load,
    "repeats": repeats,
    "pruning": pruning,
    "memory": memory,
    "curve": curve,
}

DESCRIPTION = """\
Measure seqtune against the targets of its design and write BENCHMARKS.md.

Sections (run in this order; name some to run only those, default all):

  throughput  seqtune's trainer vs the NNDL post's hand-written training loop
              (tanh cell stepped in Python, DataLoader batches of 8, dev check
              every 100 steps) on DigitSum at several lengths, same epochs, one
              torch thread. Target: reference wall / seqtune wall >= 5x.
  quality     wall time for the default digitsum study at L=35 to reach dev
              accuracy >= 0.99 (capped by --quality-budget), and where the
              reference configuration ends after its 500 epochs.
  parallel    trials per hour of `seqtune optimize --workers 1` vs the default
              (`--workers auto`: one process per usable core) on one study file.
              Target: >= 1.8x on 2 cores.
  load        `seqtune optimize --workers 1` idle vs beside a process that keeps
              one core busy (and the old thread policy under the same load).
              Target: busy >= 0.8x of idle trials per hour.
  repeats     K=5 seeds of one configuration vs one seed: the post-mortem's
              question-size chain packed (<= 1.5x), the NNDL configuration
              (<= 2.5x), the digitsum study's start (>= 1.8x faster than in a row).
  pruning     the same trials with a pruner and with `--pruner none`.
              Targets: >= 40% fewer epochs, best value at most 2% worse.
  memory      peak RSS of one worker (target <= 600 MB), wall time of
              `seqtune run --quick` (<= 2 min, idle and with one core busy) and
              `seqtune run` (<= 10 min, with one core busy).
  curve       the memory curve: each digitsum sweep (default the book lengths;
              --curve-studies adds studies/full/*.toml) with its repeats; mean
              test accuracy and interval per length and architecture. Targets:
              GRU/LSTM >= 0.99, tanh RNN >= the post's SRN, dense >= 0.99/0.95.

Every run uses fresh temporary SQLite storages and report folders: nothing in
storage/ or reports/ is touched. Sections run one after another (parallel
timings would be spoiled by anything running beside them), so keep the machine
otherwise idle. Progress goes to stderr, the table to stdout.
"""

EPILOG = """\
examples:
  python -m benchmarks                          # everything (about 30-40 minutes)
  python -m benchmarks throughput --epochs 10   # one section, shorter
  python -m benchmarks quality --skip-reference --quality-budget 120
  python -m benchmarks memory --skip-full-run
  python -m benchmarks throughput --epochs 1 --lengths 5 --out /tmp/b.md   # smoke test
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", metavar="SECTION",
                        help=f"sections to run: {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md",
                        help="markdown file to (over)write (default: BENCHMARKS.md at the "
                             "repository root)")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--keep-temp", action="store_true",
                        help="keep the temporary folder (storages, seqtune logs) and say where; "
                             "it is always kept when a section fails")
    for module in SECTIONS.values():
        module.add_arguments(parser)
    return parser


def _first_line(module: ModuleType) -> str:
    doc = (module.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(doc.split()).split(": ", 1)[-1]


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)  # so running seqtune children are stopped
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from "
                     f"{', '.join(SECTIONS)}")
    chosen = [s for s in SECTIONS if s in args.sections] or list(SECTIONS)
    command = shlex.join(["python", "-m", "benchmarks",
                          *(sys.argv[1:] if argv is None else argv)])
    facts = machine_facts()
    warning = busy_warning()
    if warning:
        progress(f"warning: {warning}")
    workdir = Path(tempfile.mkdtemp(prefix="seqtune-bench-"))
    ctx = Context(workdir)
    figures: list[Figure] = []
    errors: dict[str, str] = {}
    try:
        for name in chosen:
            progress(f"section {name} started")
            try:
                figures += SECTIONS[name].run(args, ctx)
            except Exception as exc:  # report it and go on with the other sections
                traceback.print_exc()
                errors[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
                progress(f"section {name} failed: {errors[name]}")
            else:
                progress(f"section {name} done")
    finally:
        if args.keep_temp or errors:  # the seqtune logs there say what went wrong
            progress(f"temporary files (storages, seqtune logs) kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(text_table(figures))
    for name, text in errors.items():
        print(f"section {name} FAILED: {text}")
    if not args.no_write:
        descriptions = {name: _first_line(SECTIONS[name]) for name in chosen}
        write_atomically(args.out, markdown(figures, command, facts, descriptions, errors,
                                            warning))
        progress(f"wrote {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
