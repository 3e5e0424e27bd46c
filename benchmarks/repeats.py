"""Section ``repeats``: K seeds of one configuration against one seed.

Three sizes, each timed in this process with one torch thread per process
(the runtime policy), K seeds (default 5) against one:

- the post-mortem's question-size chain (Dense(1,3)-LSTM(3,3), batches of 3
  from the batching defect, teacher-forced), K seeds packed as one model
  (``train_flux_seeds``). Target: K seeds <= 1.5x the wall of one.
- the NNDL post's configuration (tanh RNN 32, batch 8, DigitSum L=35) through
  ``seqtune.study.repeat`` with its defaults (packed where it pays, spread over
  the usable cores). Target: <= 2.5x the wall of one.
- the digitsum study's ``[start]`` of each architecture (L=35; sizes as the
  study file says), K seeds each, as the main job's
  repeats run them (one ``repeat`` call, one pool) against the 3K runs one after
  another: once from cold (the call starts the pool's forkserver) and once
  with it running, as in the main job. Target (the latter): >= 1.8x faster (at
  most 2x on 2 cores).

Walls include everything a caller waits for: worker start-up, training,
val/test scoring.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import STUDIES, Context, Figure, progress, target_figure

SECTION = "repeats"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("repeats")
    group.add_argument("--repeats-k", type=int, default=5, help="seeds per configuration "
                       "(default: 5)")
    group.add_argument("--repeats-epochs", type=int, default=5,
                       help="epochs of the question-size and NNDL runs (default: 5)")
    group.add_argument("--repeats-study-epochs", type=int, default=20,
                       help="epochs of the digitsum [start] runs (default: 20, about the "
                            "best epoch a study's repeats retrain for)")


def _timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run(args: argparse.Namespace, ctx: Context) -> list[Figure]:
    from seqtune.postmortem import FluxTask, train_flux, train_flux_seeds
    from seqtune.postmortem._configs import Setup
    from seqtune.runtime import configure_threads, usable_cores
    from seqtune.study import repeat, train_and_score
    from seqtune.tasks import make_task

    configure_threads()
    k, epochs = args.repeats_k, args.repeats_epochs
    seeds = list(range(k))
    figures: list[Figure] = []
    note = f"{epochs} epochs, {usable_cores()} usable cores"

    flux, setup = FluxTask(rule="drift"), Setup(epochs=epochs)
    train_flux(flux, Setup(epochs=1), 0)  # one-off imports out of the timing
    progress(f"repeats: question-size chain, 1 seed vs {k} packed")
    one = _timed(lambda: train_flux(flux, setup, 0))
    many = _timed(lambda: train_flux_seeds(flux, setup, seeds))
    figures += [Figure(SECTION, "question-size chain, 1 seed wall", one, "s", note=note),
                Figure(SECTION, f"question-size chain, {k} seeds packed wall", many, "s"),
                target_figure(SECTION, f"question-size chain, {k} seeds / 1 seed", many / one,
                              "<=", 1.5, "x")]

    digits = make_task({"name": "digitsum", "length": 35})
    nndl = {"architecture": "rnn", "hidden_size": 32, "num_layers": 1, "batch_size": 8,
            "learning_rate": 1e-3, "grad_clip": 0.0}
    progress(f"repeats: NNDL configuration, 1 seed vs {k} via repeat()")
    one = _timed(lambda: train_and_score(digits, nndl, epochs, epochs, 0))
    many = _timed(lambda: repeat(digits, [nndl], seeds, epochs, epochs))
    figures += [Figure(SECTION, "NNDL configuration, 1 seed wall", one, "s", note=note),
                Figure(SECTION, f"NNDL configuration, {k} seeds wall", many, "s"),
                target_figure(SECTION, f"NNDL configuration, {k} seeds / 1 seed", many / one,
                              "<=", 2.5, "x")]

    from seqtune.config import load_config

    config = load_config(STUDIES / "digitsum.toml")
    starts = [config.start_for(arch) for arch in ("gru", "lstm", "rnn")]
    long = args.repeats_study_epochs
    progress(f"repeats: digitsum [start] of each architecture, {k} seeds each, in a row vs "
             "repeat()")
    in_a_row = _timed(lambda: [train_and_score(digits, start, long, long, s)
                               for start in starts for s in seeds])
    cold = _timed(lambda: repeat(digits, starts, seeds, long, long))
    many = _timed(lambda: repeat(digits, starts, seeds, long, long))
    label = ", ".join(f"{s['architecture']} {s['hidden_size']}/batch {s['batch_size']}"
                      for s in starts)
    figures += [Figure(SECTION, f"studies' default, 3 x {k} in a row wall", in_a_row, "s",
                       note=f"{label}; {long} epochs (the main job's repeats: every "
                            "architecture's best in one pool)"),
                Figure(SECTION, f"studies' default, 3 x {k} via repeat() wall, first call",
                       cold, "s", note="includes starting the worker pool's forkserver "
                                       "(it imports torch)"),
                Figure(SECTION, "studies' default, in a row / repeat(), first call",
                       in_a_row / cold, "x"),
                Figure(SECTION, f"studies' default, 3 x {k} via repeat() wall", many, "s",
                       note="forkserver running, as in the main job (its trial workers "
                            "start it before any repeats)"),
                target_figure(SECTION, "studies' default, in a row / repeat()", in_a_row / many,
                              ">=", 1.8, "x")]
    return figures
