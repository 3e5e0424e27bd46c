"""Section ``throughput``: seqtune's trainer against the NNDL reference loop.

Both train the same model size (embedding 32, tanh RNN with 32 units, linear
head) on the same DigitSum data with Adam at 1e-3, batches of 8, for the
same number of epochs, on one torch thread, in this process (after an untimed
one-epoch warm-up of each), alternating which one goes first at each length.
seqtune is also timed at a study's usual batch size (32) with the same epochs,
reported beside it with its test accuracy. Wall seconds include evaluation
and the final test accuracy. Target: the reference takes at least 5x as long
as seqtune at batch size 8. Each length also prints the arithmetic floor
(the training FLOPs at batch 8 / a single-thread matrix product's FLOP/s)
and seqtune's wall over it: the overhead factor left.
"""

from __future__ import annotations

import argparse
import functools
import math
import time
from collections.abc import Callable

from tqdm import tqdm

from benchmarks._common import Context, Figure, progress, target_figure
from benchmarks._reference import examples, train_reference

SECTION = "throughput"
TARGET_RATIO = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("throughput")
    group.add_argument("--lengths", type=int, nargs="+", default=[5, 10, 20, 35],
                       metavar="L", help="DigitSum sequence lengths (default: 5 10 20 35)")
    group.add_argument("--epochs", type=int, default=30,
                       help="epochs each side trains per length (default: 30)")
    group.add_argument("--seqtune-batch-size", type=int, default=32,
                       help="also time seqtune at this batch size, its studies' usual "
                            "setting, with the same epochs (default: 32; 0: skip)")
    group.add_argument("--threads", type=int, default=1,
                       help="torch threads for both sides (default: 1)")


def run_seqtune_side(length: int, epochs: int, batch_size: int = 8) -> tuple[float, float]:
    """(wall seconds, test accuracy) of ``seqtune.trainer.fit`` with the post's settings
    (``batch_size`` aside)."""
    from seqtune.tasks import make_task
    from seqtune.trainer import TrainConfig, evaluate, fit

    task = make_task({"name": "digitsum", "length": length})
    splits = task.splits()
    config = TrainConfig(architecture="rnn", hidden_size=32, num_layers=1,
                         learning_rate=1e-3, batch_size=batch_size, grad_clip=0, max_epochs=epochs,
                         patience=epochs, weight_decay=0, seed=0, device="cpu")
    started = time.perf_counter()
    result = fit(task, splits, config)
    accuracy = evaluate(task, result.model, splits.test, "cpu")["accuracy"]
    return time.perf_counter() - started, accuracy


def run_reference_side(length: int, epochs: int) -> tuple[float, float]:
    """(wall seconds, test accuracy) of the NNDL-style loop on the same data."""
    from seqtune.tasks import make_task

    splits = make_task({"name": "digitsum", "length": length}).splits()
    result = train_reference(examples(splits.train.inputs, splits.train.targets),
                             examples(splits.val.inputs, splits.val.targets),
                             examples(splits.test.inputs, splits.test.targets), epochs)
    return result.seconds, result.test_accuracy


def training_flops(length: int, batch_size: int, examples: int, epochs: int) -> float:
    """Multiply-adds x 2 of training the post's model: per step the forward pass
    (input projection, recurrence, head) and a backward pass of twice its cost."""
    embedding, hidden, classes = 32, 32, 19
    forward = 2 * batch_size * (length * (embedding * hidden + hidden * hidden)
                                + hidden * classes)
    steps = math.ceil(examples / batch_size) * epochs
    return 3 * forward * steps


def matmul_rate(size: int = 256, repeats: int = 50) -> float:
    """FLOP/s of a large single-thread matrix product: the arithmetic ceiling."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(5):
        a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def run(args: argparse.Namespace, ctx: Context) -> list[Figure]:
    import torch

    before = torch.get_num_threads()
    # --threads, not the runtime policy: both sides run on the same thread count
    torch.set_num_threads(args.threads)
    progress(f"throughput: lengths {args.lengths}, {args.epochs} epochs each side, "
             f"{torch.get_num_threads()} torch thread(s)")
    big = args.seqtune_batch_size
    sides: dict[str, Callable[[int, int], tuple[float, float]]] = {
        "reference": run_reference_side, "seqtune": run_seqtune_side}
    if big and big != 8:
        sides[f"seqtune batch {big}"] = functools.partial(run_seqtune_side, batch_size=big)
    figures: list[Figure] = []
    total = dict.fromkeys(sides, 0.0)
    bar = tqdm(total=len(sides) * len(args.lengths), desc="throughput", unit="run",
               leave=False)
    try:
        for warm_up in sides.values():  # first use of the optimizer imports torch._dynamo
            warm_up(min(args.lengths), 1)
        rate = matmul_rate()
        for i, length in enumerate(args.lengths):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            seconds, accuracy = {}, {}
            for side in order:
                bar.set_postfix_str(f"L={length} {side}")
                seconds[side], accuracy[side] = sides[side](length, args.epochs)
                total[side] += seconds[side]
                bar.update()
            for side in sides:
                figures.append(Figure(SECTION, f"L={length} {side} wall", seconds[side], "s"))
            for side in list(sides)[1:]:
                ratio = seconds["reference"] / seconds[side]
                figures.append(
                    target_figure(SECTION, f"L={length} speed-up reference/{side}", ratio,
                                  ">=", TARGET_RATIO, "x", digits=1) if side == "seqtune"
                    else Figure(SECTION, f"L={length} speed-up reference/{side}", ratio, "x",
                                note="a study's batch size, not the post's", digits=1))
            for side in sides:
                figures.append(Figure(SECTION, f"L={length} {side} test accuracy",
                                      accuracy[side], digits=3))
            floor = training_flops(length, 8, 300, args.epochs) / rate
            figures.append(Figure(SECTION, f"L={length} arithmetic floor (batch 8)", floor, "s",
                                  note=f"training FLOPs / {rate / 1e9:.1f} GFLOP/s", digits=3))
            figures.append(Figure(SECTION, f"L={length} seqtune wall / arithmetic floor",
                                  seconds["seqtune"] / floor, "x", digits=0,
                                  note="per-op overhead (and evaluation) over the arithmetic"))
            progress(f"throughput L={length}: " + ", ".join(
                f"{side} {seconds[side]:.1f} s" for side in sides))
    finally:
        bar.close()
        torch.set_num_threads(before)
    figures.append(target_figure(SECTION, "all lengths speed-up reference/seqtune",
                                 total["reference"] / total["seqtune"], ">=", TARGET_RATIO,
                                 "x", note=f"{args.epochs} epoch(s) per length", digits=1))
    return figures
