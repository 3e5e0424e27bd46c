"""``seqtune postmortem``: why the Flux question's model ignores its seeds, by experiment."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from seqtune.cli._app import StorageOpt, app, console
from seqtune.postmortem import Verdict, explain, run_postmortems
from seqtune.runtime import configure_threads, usable_cores
from seqtune.study import redact, resolve_storage_url

_INITIALS = {"batching": "B", "warmup": "W", "metric": "M"}


def verdict_table(verdict: Verdict) -> Table:
    """One row per configuration: its switches, its numbers, and what they mean."""
    table = Table(title=f"post-mortem, rule {verdict.rule} (val split)", box=box.SIMPLE_HEAD,
                  caption="defects on: B batching, W warm-up, M metric; tf: teacher forcing; "
                          "budget: epochs, widths, learning rate; err: the val error as the "
                          "configuration reports it", caption_justify="left")
    for column in ("configuration", "defects", "tf", "budget", "err", "MSE", "nMSE", "drift",
                   "seed-4 slope/true", "state"):
        table.add_column(column, no_wrap=True,
                         justify="left" if column in ("configuration", "defects", "budget",
                                                      "state") else "right")
    for r in verdict.rows:
        s = r.setup
        table.add_row(
            r.name, "".join(_INITIALS[d] for d in r.defects_on) or "-",
            f"{s['teacher_forcing']:g}" if s else "",
            f"{s['epochs']}, {s['width']}/{s['head']}, {s['learning_rate']:g}" if s else "tuned",
            f"{r.val_error_reported:.3g}", f"{r.val_mse:.3g}", f"{r.nmse:.3g}",
            f"{r.drift_ratio:.3f}", f"{r.slope:.3f}/{r.slope_true:.3f}", r.state)
    return table


def print_postmortem(verdicts: list[Verdict]) -> None:
    out = console if console.is_terminal else Console(width=140)  # logs: whole columns
    for verdict in verdicts:
        out.print(verdict_table(verdict))
        out.print(explain(verdict), highlight=False, markup=False)
        out.print()


#: ``seqtune run --quick`` caps the post-mortem's configurations at this many epochs
QUICK_EPOCHS = 3


def postmortem_after_run(url: str, studies: Path, quick: bool) -> None:
    """The post-mortem for each rule whose ``seeded-<rule>.toml`` the run used, beside
    the tuned model of the study it just ran (``seqtune run``)."""
    rules = [r for r in ("drift", "ar2") if (studies / f"seeded-{r}.toml").is_file()]
    if not rules:
        return
    results = run_postmortems(url, rules, studies=studies,
                              max_epochs=QUICK_EPOCHS if quick else None,
                              workers=usable_cores())
    print_postmortem([verdict for _, verdict in results])


@app.command("postmortem")
def postmortem_cmd(
    storage: StorageOpt = None,
    rule: Annotated[list[str] | None, typer.Option(
        "--rule", help="drift and/or ar2; repeat the option for both (default: both).")]
    = None,
    max_epochs: Annotated[int | None, typer.Option(
        help="Cap every configuration at N epochs, for a quick look (the question's "
             "budget is 20). A capped run is its own study (prefix + '-cap<N>').")] = None,
    seed: Annotated[int, typer.Option(help="Training seed of every configuration.")] = 0,
    studies: Annotated[Path, typer.Option(
        help="Folder with seeded-<rule>.toml, whose [start] table is the tuned "
             "configuration when the storage has no seeded-<rule> study.")] = Path("studies"),
    study_prefix: Annotated[str, typer.Option(
        help="Studies are named <prefix>-<rule>.")] = "postmortem",
    workers: Annotated[int | None, typer.Option(
        help="Processes training configurations in parallel, one torch thread each "
             "(default: one per usable core).")] = None,
) -> None:
    """Explain, by experiment, why the model of the Flux.jl question learns a
    sequence unconditional to its seeds.

    Runs the question's setup with each defect switched on or off (an Optuna
    grid study per rule, browsable with `optuna trials` and optuna-dashboard),
    next to the tuned model of the seeded study, then prints a verdict table and
    an explanation computed from the numbers. A rerun reuses finished trials.
    """
    url = resolve_storage_url(storage)
    configure_threads()
    started = time.perf_counter()
    results = run_postmortems(url, rule or ["drift", "ar2"], studies=studies,
                              max_epochs=max_epochs, seed=seed, prefix=study_prefix,
                              workers=usable_cores() if workers is None else workers)
    print_postmortem([verdict for _, verdict in results])
    console.print(f"post-mortem done in {time.perf_counter() - started:.0f} s; studies "
                  f"{', '.join(s.study_name for s, _ in results)} in {redact(url)}")
