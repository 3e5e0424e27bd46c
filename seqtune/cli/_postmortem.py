"""``seqtune postmortem``: why the Flux question's model ignores its seeds, by experiment."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from tqdm import tqdm

from seqtune.cli._app import StorageOpt, app, console, elapsed, progress, state
from seqtune.postmortem import Row, Verdict, answer, explain, run_postmortems
from seqtune.runtime import configure_threads, usable_cores
from seqtune.study import redact, resolve_storage_url

_INITIALS = {"batching": "B", "warmup": "W", "metric": "M"}


def _mr(r: Row, key: str, fmt: str) -> str:
    low, high = r.spread(key)
    value = format(r.med(key), fmt)
    return value if r.n <= 1 or low == high else f"{value} [{format(low, fmt)},{format(high, fmt)}]"


def verdict_table(verdict: Verdict) -> Table:
    """One row per configuration (median [min,max] over seeds, test split), its
    switches, the share of seeds in its most common state; then the baselines."""
    table = Table(title=escape(f"post-mortem, rule {verdict.rule} (test split; median "
                               "[min,max] over seeds)"), box=box.SIMPLE_HEAD,
                  caption="defects on: B batching, W warm-up, M metric; tf: teacher forcing; "
                          "budget: epochs, widths, learning rate; err: the error as the "
                          "configuration reports it; bias: mean error in target sd; state: "
                          "most common state, seeds in it / seeds", caption_justify="left")
    for column in ("configuration", "defects", "tf", "budget", "err", "nMSE", "drift",
                   "s4 slope/true", "bias", "state"):
        table.add_column(column, no_wrap=True,
                         justify="left" if column in ("configuration", "defects", "budget",
                                                      "state") else "right")
    for r in verdict.rows + verdict.baselines:
        s = r.setup
        table.add_row(
            escape(r.name), "".join(_INITIALS[d] for d in r.defects_on) or "-",
            f"{s['teacher_forcing']:g}" if s else "",
            (f"{s['epochs']}, {s['width']}/{s['head']}, {s['learning_rate']:g}" if s
             else r.role),
            f"{r.error_reported:.3g}", escape(_mr(r, "nmse", ".2g")),
            escape(_mr(r, "drift_ratio", ".2f")), f"{r.slope_ratio:.2f}",
            escape(_mr(r, "bias", "+.1f")), r.state)
    return table


def print_postmortem(verdicts: list[Verdict]) -> None:
    out = console if console.is_terminal else Console(width=230)  # logs: whole columns
    # the question's rule first, its answer before anything else
    for verdict in sorted(verdicts, key=lambda v: v.rule != "drift"):
        out.print(answer(verdict), highlight=False, markup=False)
        out.print()
        out.print(verdict_table(verdict))
        out.print(explain(verdict), highlight=False, markup=False)
        out.print()


class JobProgress:
    """Progress of the post-mortem's training jobs on stderr: a bar on a terminal,
    else one line per finished job (which configurations, how many left, time
    elapsed); nothing under ``-q``. Stdout keeps the results only."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.bar: tqdm | None = None

    def __call__(self, what: str, done: int, total: int) -> None:
        if state["quiet"]:
            return
        if sys.stderr.isatty():
            if self.bar is None:
                self.bar = tqdm(total=total, desc="post-mortem", unit="job", file=sys.stderr,
                                dynamic_ncols=True, leave=False)
            self.bar.set_postfix_str(what[:60], refresh=False)
            self.bar.update(1)
            return
        progress(f"post-mortem: job {done}/{total} done ({what}); {total - done} left, "
                 f"{elapsed(time.perf_counter() - self.started)} elapsed")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


#: ``--quick`` (and ``seqtune run --quick``): 3 epochs, one data draw, no factorial
QUICK_EPOCHS = 3
QUICK = {"max_epochs": QUICK_EPOCHS, "n_draws": 1, "factorial": False}


def postmortem_after_run(url: str, studies: Path, quick: bool) -> None:
    """The post-mortem for each rule whose ``seeded-<rule>.toml`` the run used, beside
    the tuned model of the study it just ran (``seqtune run``)."""
    rules = [r for r in ("drift", "ar2") if (studies / f"seeded-{r}.toml").is_file()]
    if not rules:
        return
    jobs = JobProgress()
    try:
        results = run_postmortems(url, rules, studies=studies, workers=usable_cores(),
                                  progress=jobs, **(QUICK if quick else {}))
    finally:
        jobs.close()
    print_postmortem([verdict for _, verdict in results])


@app.command("postmortem")
def postmortem_cmd(
    storage: StorageOpt = None,
    rule: Annotated[list[str] | None, typer.Option(
        "--rule", metavar="drift|ar2",
        help="drift and/or ar2; repeat the option for both (default: both).")]
    = None,
    max_epochs: Annotated[int | None, typer.Option(
        metavar="N", help="Cap every configuration at N epochs, for a quick look (the question's "
             "budget is 20). A capped run is its own study (prefix + '-cap<N>').")] = None,
    seed: Annotated[int, typer.Option(
        metavar="N", help="First training seed of every configuration.")] = 0,
    seeds: Annotated[int, typer.Option(
        "--seeds", metavar="N", help="Training seeds per configuration and data draw.")] = 5,
    draws: Annotated[int, typer.Option(
        "--draws", metavar="N",
        help="Data draws (task seeds 0..N-1); test is always draw 0's. 2 checks that the "
             "conclusions hold on other data, at twice the cost.")] = 1,
    factorial: Annotated[bool, typer.Option(
        help="Add the 2^4 factorial over width, learning rate, epochs and teacher "
             "forcing (all fixes on).")] = True,
    quick: Annotated[bool, typer.Option(
        "--quick", help=f"A capped look: {QUICK_EPOCHS} epochs, one data draw, no "
                        "factorial (its own study, prefix + '-cap3').")] = False,
    studies: Annotated[Path, typer.Option(
        metavar="DIR", help="Folder with seeded-<rule>.toml, whose \\[start] table is the tuned "
             "configuration when the storage has no seeded-<rule> study.")] = Path("studies"),
    study_prefix: Annotated[str, typer.Option(
        metavar="PREFIX", help="Studies are named <prefix>-<rule>.")] = "postmortem",
    workers: Annotated[int | None, typer.Option(
        metavar="N", help="Processes training configurations in parallel, one torch thread each "
             "(default: one per usable core).")] = None,
) -> None:
    """Why the Flux.jl question's LSTM ignores its seeds, answered by experiment.

    Runs the question's setup with each defect switched on or off (an Optuna
    grid study per rule, browsable with `optuna trials` and optuna-dashboard),
    next to the tuned model of the seeded study, then prints a verdict table and
    an explanation computed from the numbers. A rerun reuses finished trials.
    Progress (finished training jobs, how many left, time elapsed) goes to
    stderr; -q silences it.

    Examples:

      seqtune postmortem
      seqtune postmortem --rule drift --quick
      seqtune postmortem --rule ar2 --seeds 3 --no-factorial --workers 2
    """
    url = resolve_storage_url(storage)
    configure_threads()
    started = time.perf_counter()
    options = ({**QUICK, "max_epochs": min(max_epochs or QUICK_EPOCHS, QUICK_EPOCHS)}
               if quick else {"max_epochs": max_epochs, "n_draws": draws, "factorial": factorial})
    jobs = JobProgress()
    try:
        results = run_postmortems(url, rule or ["drift", "ar2"], studies=studies, seed=seed,
                                  prefix=study_prefix, n_seeds=seeds,
                                  workers=usable_cores() if workers is None else workers,
                                  progress=jobs, **options)
    finally:
        jobs.close()
    print_postmortem([verdict for _, verdict in results])
    console.print(f"post-mortem done in {time.perf_counter() - started:.0f} s; studies "
                  f"{', '.join(s.study_name for s, _ in results)} in {redact(url)}")
