"""Repeats: one configuration trained under several seeds, at the price of the hardware.

Verdicts, the memory curve and the post-mortem judge a configuration by
several seeds. Run naively that multiplies the wall time by K; here:

- when the model is small enough that its step is dominated by
  per-operation overhead (:func:`packing_pays`), a configuration's seeds train
  **packed** as one model (:func:`seqtune.trainer.fit_many`), one job;
- otherwise every seed is a job of its own;
- the jobs of all configurations run longest first (:func:`job_cost`) over
  this process and a pool of worker processes (one torch thread each, the
  :mod:`seqtune.runtime` policy); this process trains while the pool starts.

Either way each seed's result is what training it alone gives (packed: up to
floating-point round-off), so the choice changes the wall time, not the answer.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from seqtune.errors import TrainingDiverged
from seqtune.runtime import AUTO, configure_threads, policy_threads, resolve_workers
from seqtune.study._curriculum import State
from seqtune.study._objective import TrialOutcome, train_and_score, train_and_score_many
from seqtune.tasks import Task

Repeat = TrialOutcome | TrainingDiverged
#: one job: (configuration index, its seeds, trained packed)
Job = tuple[int, list[int], bool]

#: weight matrices per recurrent layer (gates), for the cost estimate of a job
_GATES = {"rnn": 1, "gru": 3, "lstm": 4}
#: multiply-adds per sequence step at which arithmetic costs as much as the
#: per-step overhead (one thread; GRU 128 / LSTM 240 at batch 32, digitsum L=35)
_OVERHEAD_MACS = 4e6

#: per architecture, the largest batch size x hidden size at which packing beats
#: separate runs (measured, see packing_pays; an LSTM packs as one block-diagonal core)
PACK_LIMITS = {"rnn": 512, "gru": 512, "lstm": 128}


def packing_pays(params: dict[str, Any]) -> bool:
    """Whether packing K seeds beats training them one after another.

    Measured on one thread of a 2-core machine (training step, digitsum L=35,
    K=5, time of the pack vs 5 single steps): tanh RNN and GRU gain 2-4x at
    batch x hidden <= 512 (e.g. the NNDL post's 32 units at batch 8), about
    1x near 1024 and lose above (GRU 240 at batch 32: 0.5x). An LSTM packs
    as one block-diagonal fused core, K times the arithmetic of one: 1.6x at
    16 units / batch 8, 0.8x at 32 / batch 8, 0.2x at 240 / batch 32.
    """
    size = int(params.get("hidden_size", 64)) * int(params.get("batch_size", 32))
    return size <= PACK_LIMITS.get(params.get("architecture"), 0)


def job_cost(params: dict[str, Any], epochs: int, seeds: int, packed: bool) -> float:
    """A rough relative cost of one job on one task, to start the longest first.

    Training steps (epochs / batch) times a step's cost: a fixed overhead plus
    the recurrent multiply-adds. A pack costs about one model's overhead plus
    every member's arithmetic; separate seeds are jobs of one seed each."""
    hidden, batch = int(params.get("hidden_size", 64)), int(params.get("batch_size", 32))
    macs = (_GATES.get(params.get("architecture"), 1) * hidden * hidden * batch
            * int(params.get("num_layers", 1)))
    members = seeds if packed else 1
    return epochs / batch * (_OVERHEAD_MACS + members * macs)


def _train_group(task: Task, params: dict[str, Any], seeds: list[int], max_epochs: int,
                 patience: int, packed: bool, refit: bool = False,
                 inits: list[State | None] | None = None) -> list[Repeat]:
    inits = inits or [None] * len(seeds)
    if packed and len(seeds) > 1:
        return train_and_score_many(task, params, max_epochs, patience, seeds, refit=refit,
                                    inits=inits)
    results: list[Repeat] = []
    for seed, init in zip(seeds, inits, strict=True):
        try:
            results.append(train_and_score(task, params, max_epochs, patience, seed,
                                           refit=refit, init=init))
        except TrainingDiverged as exc:
            results.append(exc)
    return results


def repeat(task: Task, configurations: list[dict[str, Any]], seeds: list[int],
           max_epochs: int | list[int], patience: int, workers: int | str = AUTO,
           pack: bool | None = None, refit: bool = False,
           inits: list[list[State | None]] | None = None) -> list[list[Repeat]]:
    """Train every configuration once per seed: ``result[i][k]`` is configuration
    ``i`` under ``seeds[k]``.

    ``workers``: processes to spread the work over (``auto``: one per usable
    core; 1: this process): this process and a pool of the others, shared by
    all configurations, taking the jobs longest first. ``pack``: train the seeds of a
    configuration packed (None: where :func:`packing_pays`). A seed
    whose training diverges is returned as its :class:`TrainingDiverged` error.

    ``max_epochs`` may be one number per configuration. ``refit``: the final fit
    before test (:func:`~seqtune.study._objective.train_and_score`): on train+val
    for exactly ``max_epochs`` epochs, no early stopping. ``inits[i][k]``: the
    weights configuration ``i`` starts from under ``seeds[k]`` (None: its seed's).
    """
    seeds = list(seeds)
    epochs = (list(max_epochs) if isinstance(max_epochs, list)
              else [max_epochs] * len(configurations))
    processes = resolve_workers(workers)
    start = {(i, seed): inits[i][k] if inits else None
             for i in range(len(configurations)) for k, seed in enumerate(seeds)}
    jobs: list[Job] = []
    for i, params in enumerate(configurations):
        packed = packing_pays(params) if pack is None else pack
        # a pack is one job: splitting it over processes saves less than a
        # process costs to start (measured: seconds, against a pack of 5 small
        # models costing about 1.7x one)
        groups = [seeds] if packed else [[seed] for seed in seeds]
        jobs += [(i, group, packed) for group in groups if group]
    # longest first, so no long job starts last while the other workers idle
    jobs.sort(key=lambda job: job_cost(configurations[job[0]], epochs[job[0]],
                                       len(job[1]), job[2]), reverse=True)
    processes = min(processes, len(jobs))
    calls = [(task, configurations[i], group, epochs[i], patience, packed, refit,
              [start[(i, s)] for s in group]) for i, group, packed in jobs]
    outputs = ([_train_group(*call) for call in calls] if processes <= 1
               else _share(calls, processes))
    done = {(i, seed): result for (i, group, _), output in zip(jobs, outputs, strict=True)
            for seed, result in zip(group, output, strict=True)}
    return [[done[(i, seed)] for seed in seeds] for i in range(len(configurations))]


def _share(calls: list[tuple[Any, ...]], processes: int) -> list[list[Repeat]]:
    """``_train_group(*call)`` for every call, in order, over ``processes``
    lanes: this process and ``processes - 1`` pool workers, each lane taking
    the next call when it is free. This process starts at once, while the pool
    is still starting (its forkserver imports torch: about 3 s here)."""
    queue = deque(range(len(calls)))
    lock = threading.Lock()
    outputs: dict[int, list[Repeat]] = {}

    def next_call() -> int | None:
        with lock:
            return queue.popleft() if queue else None

    def lane(run: Callable[..., list[Repeat]]) -> None:
        try:
            while (n := next_call()) is not None:
                outputs[n] = run(*calls[n])
        except BaseException:
            with lock:  # the other lanes stop after their current call
                queue.clear()
            raise

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "torch._dynamo"])
    with (ProcessPoolExecutor(max_workers=processes - 1, mp_context=context,
                              initializer=configure_threads) as pool,
          ThreadPoolExecutor(max_workers=processes - 1) as dispatch):
        remote = [dispatch.submit(lane, lambda *call: pool.submit(_train_group, *call).result())
                  for _ in range(processes - 1)]
        with policy_threads():
            lane(_train_group)
        for future in remote:
            future.result()
    return [outputs[n] for n in range(len(calls))]
