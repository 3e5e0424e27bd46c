"""Section ``curve``: the memory curve, measured: each digitsum sweep run by
``seqtune optimize``, in the order given, on one fresh SQLite storage (so that
``digitsum-long`` starts from the book sweep's L=35, as under ``seqtune run
--full``; default budget, ``--workers auto`` and its repeats), then the mean
test accuracy over the repeat seeds with its 95 % interval per length and
architecture, read back from the storage.

Targets (issue 17): GRU and LSTM >= 0.99 at every book length (5..35) and at
L = 100 and 200; the tanh RNN at least the NNDL post's untuned SRN at every
book length; in the dense variant the best architecture >= 0.99 at L = 20 and
35 and >= 0.95 at L = 100. Each sweep's wall time is printed, and for the book
lengths where each architecture's wrong test answers fall (on rows whose random
digit follows the two summands, or elsewhere; the report's verdict sentence).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks._common import (
    STUDIES,
    Context,
    Figure,
    progress,
    require_ok,
    run_seqtune,
    study_names,
    target_figure,
)

SECTION = "curve"
GATED = ("gru", "lstm")
#: lengths where GRU and LSTM are held to >= 0.99 (book lengths and two beyond)
GATED_LENGTHS = (5, 10, 15, 20, 25, 30, 35, 100, 200)
DENSE_TARGETS = {20: 0.99, 35: 0.99, 100: 0.95}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("curve")
    group.add_argument("--curve-studies", type=Path, nargs="+",
                       default=[STUDIES / "digitsum.toml"],
                       help="digitsum study files to sweep (default: studies/digitsum.toml; "
                            "add studies/full/digitsum-long.toml studies/full/"
                            "digitsum-dense.toml for L = 50..500 and the dense variant)")
    group.add_argument("--curve-repeats", type=int, default=5,
                       help="--repeats of each sweep (default: 5)")


def _curve(url: str, names: list[str]) -> list[tuple[str, int, str, list[float]]]:
    """(mode, length, architecture, per-seed test accuracies) of every study."""
    import optuna

    from seqtune.study._refit import stored_repeats

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = []
    for name in names:
        study = optuna.load_study(study_name=name, storage=url)
        task = study.user_attrs["task"]
        for arch, record in sorted(stored_repeats(study).items()):
            out.append((task["mode"], task["length"], arch, record.get("test_accuracy", [])))
    return out


def _where_errors(url: str, names: list[str]) -> list[Figure]:
    """Per architecture, its wrong answers on the book lengths' rows whose random
    digit sits right after the summands, against all its wrong answers; read as
    the report reads them (its study views and ``curve_errors``)."""
    from seqtune.report._pages import load_view
    from seqtune.study import open_storage, resolve_artifact_dir
    from seqtune.study._paired import p_text
    from seqtune.tasks.digitsum import DigitSumTask
    from seqtune.tasks.digitsum._report import curve_errors, where_errors

    storage = open_storage(url, heartbeat_interval=None)
    artifacts = resolve_artifact_dir(url, None)
    views = [load_view(storage, name, artifacts) for name in names]
    book = next((v.task for v in views if isinstance(v.task, DigitSumTask)
                 and v.task.mode == "book"), None)
    errors = curve_errors(views, book) if book is not None else {}
    figures = []
    for arch, per_length in sorted(errors.items()):
        w = where_errors(arch, per_length)
        figures.append(Figure(
            SECTION, f"book {arch} wrong answers on rows with the random digit at position 3",
            w.wrong_next, digits=0,
            note=f"of {w.wrong} wrong answers, on {w.rows_next} of {w.rows} rows; "
                 f"{w.expected_next:.1f} if each length's spread evenly over its rows, "
                 f"{p_text(w.p)}"))
    return figures


def _figures(rows: list[tuple[str, int, str, list[float]]]) -> list[Figure]:
    from seqtune.study._paired import seed_interval
    from seqtune.tasks.digitsum import BOOK_SRN_TEST

    figures = []
    best: dict[tuple[str, int], float] = {}
    for mode, length, arch, values in rows:
        if not values:
            continue
        mean, low, high = seed_interval(values, "accuracy")
        span = f"95 % interval {low:.3f} .. {high:.3f}, " if len(values) > 1 else ""
        note = f"{span}{len(values)} seed{'s' if len(values) > 1 else ''}"
        name = f"{mode} L={length} {arch} mean test accuracy"
        best[mode, length] = max(best.get((mode, length), 0.0), mean)
        if mode == "book" and arch in GATED and length in GATED_LENGTHS:
            figures.append(target_figure(SECTION, name, mean, ">=", 0.99, note=note, digits=3))
        elif mode == "book" and arch == "rnn" and length in BOOK_SRN_TEST:
            figures.append(target_figure(SECTION, name, mean, ">=", BOOK_SRN_TEST[length],
                                         note=f"{note}; target: the post's untuned SRN",
                                         digits=3))
        else:
            figures.append(Figure(SECTION, name, mean, note=note, digits=3))
    for length, threshold in DENSE_TARGETS.items():
        if ("dense", length) in best:
            figures.append(target_figure(SECTION, f"dense L={length} best architecture",
                                         best["dense", length], ">=", threshold, digits=3))
    return figures


def run(args: argparse.Namespace, ctx: Context) -> list[Figure]:
    figures: list[Figure] = []
    url = ctx.sqlite_url("curve")
    for study_file in args.curve_studies:
        label = study_file.stem
        names = study_names(study_file)
        progress(f"curve: {label}, {len(names)} lengths, --repeats {args.curve_repeats}")
        done = run_seqtune(["-q", "optimize", str(study_file), "--storage", url,
                            "--repeats", str(args.curve_repeats)],
                           ctx.workdir / f"curve-{label}" / "optimize.log")
        require_ok(done)
        figures.append(Figure(SECTION, f"{label} sweep wall", done.seconds, "s", digits=0,
                              note=f"{len(names)} lengths x 3 architectures, trials and "
                                   f"{args.curve_repeats} repeats each, --workers auto"))
        figures += _figures(_curve(url, names)) + _where_errors(url, names)
    return figures
