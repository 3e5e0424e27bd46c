"""The digitsum page: the memory curve (mean test accuracy of each architecture's
best configuration over its repeat seeds against L, with intervals, the logistic
and majority baselines and the book's reference points), its verdict, where on
the book's rows the repeats err, and the best model's predicted-vs-true sums."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from seqtune.report._figures import Panel, series_color, text
from seqtune.report._view import StudyView
from seqtune.study import Checkpoint
from seqtune.study._leaderboard import BASELINE, TUNED
from seqtune.study._paired import ALPHA, p_text
from seqtune.tasks._base import Split
from seqtune.tasks.digitsum._task import (
    BOOK_SRN_LABEL,
    BOOK_SRN_TEST,
    N_CLASSES,
    SELECTED_LOGISTIC,
    DigitSumTask,
)
from seqtune.trainer import predict

#: the accuracy a digitsum model must reach to count as remembering at a length
REMEMBERS = 0.9
#: draws of the permutation test of where the errors fall
PERMUTATIONS = 4000
#: bins of the random digit's position (1-based; the summands are positions 1 and 2)
POSITION_BINS = ((3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, 35), (36, 500))


@dataclass(frozen=True)
class CurveValue:
    """One architecture at one length: mean test accuracy over its repeat seeds
    and the 95 % interval (None with one seed, or a trial's own number)."""

    mean: float
    seeds: int
    low: float | None = None
    high: float | None = None
    #: the repeats started from the previous length's weights (a curriculum)
    carried: bool = False

    def shown(self) -> str:
        if self.low is None or self.high is None:
            return f"{self.mean:.2f} ({'1 seed' if self.seeds == 1 else 'one trial'})"
        return f"{self.mean:.2f} [{self.low:.2f}, {self.high:.2f}]"


@dataclass(frozen=True)
class CurvePoint:
    """One digitsum study on the memory curve: test accuracy at length L."""

    length: int
    study: str
    tuned: dict[str, CurveValue]
    baselines: dict[str, float]


def _curve_value(row: dict[str, Any]) -> CurveValue:
    mean = row["test"]["accuracy"]
    repeats = row.get("repeats")
    if repeats is None:
        return CurveValue(mean, 0)
    seeds = len(repeats["record"]["seeds"])
    carried = "init_from" in repeats["record"]
    low, high = repeats["interval"].get("accuracy", (None, None))
    if seeds < 2 or not all(map(math.isfinite, (low, high))):
        return CurveValue(mean, seeds, carried=carried)
    return CurveValue(mean, seeds, low, high, carried)


def memory_curve(views: list[StudyView], like: DigitSumTask) -> list[CurvePoint]:
    """The digitsum studies of ``like``'s mode and seed, by length."""
    points = []
    for v in views:
        task = v.task
        if not (isinstance(task, DigitSumTask) and task.mode == like.mode
                and task.seed == like.seed):
            continue
        tuned = {r["name"]: _curve_value(r) for r in v.board.rows
                 if r["kind"] == TUNED and r["test"].get("accuracy") is not None}
        base = {r["name"]: r["test"].get("accuracy") for r in v.board.rows
                if r["kind"] == BASELINE and r["test"].get("accuracy") is not None}
        points.append(CurvePoint(task.length, v.study.study_name, tuned, base))
    return sorted(points, key=lambda p: p.length)


def _memory_panel(points: list[CurvePoint], here: int, mode: str) -> Panel:
    fig = go.Figure()
    for arch in sorted({a for p in points for a in p.tuned}):
        xs = [p for p in points if arch in p.tuned]
        values = [p.tuned[arch] for p in xs]
        error = {"type": "data", "symmetric": False, "visible": True,
                 "array": [v.high - v.mean if v.high is not None else 0 for v in values],
                 "arrayminus": [v.mean - v.low if v.low is not None else 0 for v in values]}
        fig.add_scatter(x=[p.length for p in xs], y=[v.mean for v in values], error_y=error,
                        mode="lines+markers", name=f"tuned {text(arch)}",
                        line={"color": series_color(arch)},
                        marker={"symbol": ["circle" if v.carried else "circle-open"
                                           for v in values], "size": 8})
    for name in sorted({b for p in points for b in p.baselines}):
        xs = [p for p in points if name in p.baselines]
        fig.add_scatter(x=[p.length for p in xs], y=[p.baselines[name] for p in xs],
                        mode="lines+markers", name=text(name),
                        line={"dash": "dash", "color": series_color(name)})
    if mode == "book":
        fig.add_scatter(x=list(BOOK_SRN_TEST), y=list(BOOK_SRN_TEST.values()),
                        mode="markers", name=BOOK_SRN_LABEL,
                        marker={"symbol": "x", "size": 9, "color": series_color("rnn")})
    fig.add_vline(x=here, line={"color": "#aaa", "dash": "dot"},
                  annotation_text=f"this study (L={here})")
    fig.update_layout(xaxis_title="sequence length L", yaxis_title="test accuracy",
                      yaxis_range=[0, 1.05])
    return Panel("fig-task", "Memory curve",
                 "Mean test accuracy per architecture against the sequence length, one point "
                 "per digitsum study of this mode: each architecture's best configuration "
                 "(picked on dev) retrained on train+dev under the repeat seeds, with its "
                 "95 % interval (filled marker: started from the previous length's "
                 "weights, a curriculum; open: from random weights); dashed: the "
                 "baselines at the same lengths"
                 + ("; crosses: the NNDL post's untuned SRN." if mode == "book" else "."), fig)


def _longest(values: list[tuple[int, CurveValue]]) -> str:
    """The longest length whose mean stays >= REMEMBERS from the shortest on."""
    kept = None
    for length, value in values:
        # a mean of 0.9 up to float round-off (0.88, 0.92, 0.9, ...) stays
        if value.mean < REMEMBERS and not math.isclose(value.mean, REMEMBERS):
            break
        kept = (length, value)
    if kept is None:
        return f"Below {REMEMBERS} already at L={values[0][0]} ({values[0][1].shown()})"
    length, value = kept
    last = values[-1][0]
    return (f"Mean accuracy >= {REMEMBERS} up to L={length} ({value.shown()})"
            + (" and at every length shown" if length == last else ""))


def _against_logistic(values: list[tuple[int, CurveValue]], points: list[CurvePoint]) -> str:
    """Where the cell's interval lies wholly below the selected-positions logistic
    regression (which can represent the task exactly)."""
    logistic = {p.length: p.baselines.get(SELECTED_LOGISTIC) for p in points}
    # compared as shown (2 decimals): "[0.95, 1.00]" is not "wholly under" 1.00
    below = [L for L, v in values if logistic.get(L) is not None and v.high is not None
             and round(v.high, 2) < round(logistic[L], 2)]
    unsure = [L for L, v in values if logistic.get(L) is not None and v.high is None
              and v.mean < logistic[L]]
    text_ = (f"below the {SELECTED_LOGISTIC} (interval wholly under it) at "
             f"L={', '.join(map(str, below))}" if below
             else f"never wholly below the {SELECTED_LOGISTIC}")
    if unsure:
        text_ += f"; under it with one seed (no interval) at L={', '.join(map(str, unsure))}"
    return text_


def _book_claims(points: list[CurvePoint]) -> list[str]:
    """The book's qualitative claims checked on the curve: accuracy falls with
    length (per architecture) and the LSTM stays above the tanh RNN."""
    out = []
    for arch in sorted({a for p in points for a in p.tuned}):
        means = [p.tuned[arch].mean for p in points if arch in p.tuned]
        if len(means) > 1:
            falls = means[-1] < means[0] - 0.05
            out.append(f"{arch} {'falls' if falls else 'does not fall'} with length "
                       f"({means[0]:.2f} -> {means[-1]:.2f})")
    both = [p for p in points if {"lstm", "rnn"} <= set(p.tuned)]
    if both:
        apart = [p.length for p in both if p.tuned["lstm"].low is not None
                 and p.tuned["rnn"].high is not None
                 and p.tuned["lstm"].low > p.tuned["rnn"].high]
        above = sum(p.tuned["lstm"].mean > p.tuned["rnn"].mean for p in both)
        out.append(f"the LSTM is above the tanh RNN at {above} of {len(both)} lengths "
                   f"(intervals apart at {len(apart)})")
    book = [(p.length, p.tuned["rnn"]) for p in points
            if "rnn" in p.tuned and p.length in BOOK_SRN_TEST]
    if book:
        short = [str(L) for L, v in book if v.mean < BOOK_SRN_TEST[L]]
        out.append(f"the tuned tanh RNN reaches the post's untuned SRN at "
                   f"{len(book) - len(short)} of {len(book)} book lengths"
                   + (f" (short of it at L={', '.join(short)})" if short else ""))
    return out


def _carried(values: list[tuple[int, CurveValue]]) -> str:
    """Where the repeats started from the previous length's weights (none: '')."""
    carried = [str(L) for L, v in values if v.carried]
    if not carried:
        return ""
    fresh = [str(L) for L, v in values if not v.carried]
    return (f" Curriculum: started from the previous length's weights at L={', '.join(carried)}"
            + (f", from random weights at L={', '.join(fresh)}" if fresh else "")
            + " (each length's selection on dev weighed both).")


def curve_verdict(points: list[CurvePoint], here: int) -> list[str]:
    """The memory curve's sentences: per architecture its values, the longest
    length it remembers, where it falls below the logistic baseline; then the
    book's claims and this length against the logistic baseline."""
    out = []
    for arch in sorted({a for p in points for a in p.tuned}):
        values = [(p.length, p.tuned[arch]) for p in points if arch in p.tuned]
        seeds = {v.seeds for _, v in values}
        basis = (f"mean test accuracy over {max(seeds)} seeds, 95 % interval" if min(seeds) > 1
                 else "test accuracy from one run per length: an anecdote, no interval")
        curve = ", ".join(f"L={L} {v.shown()}" for L, v in values)
        out.append(f"Memory curve, {arch} ({basis}): {curve}. {_longest(values)}; "
                   f"{_against_logistic(values, points)}.{_carried(values)}")
    if claims := _book_claims(points):
        out.append("Against the book's claims: " + "; ".join(claims) + ".")
    point = next((p for p in points if p.length == here), None)
    if point is not None and point.tuned and SELECTED_LOGISTIC in point.baselines:
        arch = max(point.tuned, key=lambda a: point.tuned[a].mean)
        ours, logistic = point.tuned[arch], point.baselines[SELECTED_LOGISTIC]
        if ours.low is not None and ours.high is not None:
            verb = ("is above" if ours.low > logistic else "is below" if ours.high < logistic
                    else "cannot be told apart from")
        else:
            verb = "scores above (one seed)" if ours.mean > logistic else \
                "scores below (one seed)" if ours.mean < logistic else "ties (one seed) with"
        out.append(f"At L={here} the best cell ({arch}, {ours.shown()}) {verb} the "
                   f"{SELECTED_LOGISTIC} ({logistic:.2f}), which can represent the task "
                   "exactly (class s scores a_s[d1] + b_s[d2], which can peak at "
                   "s = d1 + d2).")
    return out


def noise_position(split: Split) -> np.ndarray:
    """Per row of a book-mode split, the position (1-based) of its random digit,
    0 where that digit was drawn as 0 and cannot be seen."""
    later = split.inputs[:, 2:] != 0
    return np.where(later.any(axis=1), later.argmax(axis=1) + 3, 0)


@dataclass(frozen=True)
class LengthErrors:
    """One architecture's repeats at one book length: 1 per seed and test row
    where the answer is wrong, and the position of each row's random digit."""

    length: int
    #: seeds x test rows
    wrong: np.ndarray
    position: np.ndarray


def length_errors(task: DigitSumTask, points: dict[str, np.ndarray]
                  ) -> dict[str, LengthErrors]:
    """Per architecture, the wrong answers of its repeats' per-point results
    (seeds x test points) at ``task``'s length."""
    position = noise_position(task.splits().test)
    return {arch: LengthErrors(task.length, 1.0 - p, position) for arch, p in points.items()
            if p.shape[1] == len(position)}


def curve_errors(views: list[StudyView], like: DigitSumTask) -> dict[str, list[LengthErrors]]:
    """Per architecture, its repeats' wrong test answers at every book-mode
    length of ``like``'s seed whose per-point results can be read (none in
    dense mode: every later position holds a digit there)."""
    out: dict[str, list[LengthErrors]] = {}
    if like.mode != "book":
        return out
    for v in sorted(views, key=lambda v: getattr(v.task, "length", 0)):
        task = v.task
        if isinstance(task, DigitSumTask) and task.mode == "book" and task.seed == like.seed:
            for arch, errors in length_errors(task, v.repeat_points).items():
                out.setdefault(arch, []).append(errors)
    return out


@dataclass(frozen=True)
class WhereErrors:
    """Where one architecture's wrong test answers fall over the book curve: on
    rows whose random digit sits right after the two summands (position 3), or
    elsewhere (later, or drawn as 0)."""

    architecture: str
    lengths: tuple[int, ...]
    seeds: int
    #: per length, its test rows and those with the random digit at position 3
    rows_by_length: tuple[int, ...]
    rows_next_by_length: tuple[int, ...]
    #: wrong answers (seeds x rows), in all and on the position-3 rows
    wrong: int
    wrong_next: int
    #: the wrong answers the position-3 rows would hold were each length's wrong
    #: answers spread evenly over its rows
    expected_next: float
    #: two-sided permutation test of wrong_next - expected_next, the position-3
    #: label shuffled among the rows of each length
    p: float

    @property
    def rows(self) -> int:
        return sum(self.rows_by_length)

    @property
    def rows_next(self) -> int:
        return sum(self.rows_next_by_length)


def where_errors(architecture: str, errors: list[LengthErrors],
                 permutations: int = PERMUTATIONS, seed: int = 0) -> WhereErrors:
    """Count the wrong answers on rows whose random digit is at position 3 and
    test whether such rows are wrong more often than the others of their length
    (a stratified statistic: each length's excess over its own even spread)."""
    per_row = [e.wrong.sum(axis=0) for e in errors]
    nexts = [e.position == 3 for e in errors]
    expected = float(sum(w.sum() * m.mean() for w, m in zip(per_row, nexts, strict=True)))
    wrong_next = int(sum(w[m].sum() for w, m in zip(per_row, nexts, strict=True)))
    wrong = int(sum(w.sum() for w in per_row))
    p = 1.0
    if wrong and any(m.any() and not m.all() for m in nexts):
        rng = np.random.default_rng(seed)
        null = sum(np.take_along_axis(
            np.broadcast_to(m, (permutations, len(m))),
            rng.random((permutations, len(m))).argsort(axis=1), axis=1) @ w
            for w, m in zip(per_row, nexts, strict=True))
        excess = abs(wrong_next - expected)
        p = float((1 + np.sum(np.abs(null - expected) >= excess - 1e-9)) / (permutations + 1))
    return WhereErrors(
        architecture, tuple(e.length for e in errors),
        min(e.wrong.shape[0] for e in errors), tuple(len(m) for m in nexts),
        tuple(int(m.sum()) for m in nexts), wrong, wrong_next, expected, p)


def errors_sentence(w: WhereErrors) -> str:
    """Where one architecture errs, in words that follow from the test."""
    where = (f"Where the {w.architecture} errs (its repeats at L="
             f"{', '.join(map(str, w.lengths))}, {w.seeds} seed{'s' if w.seeds > 1 else ''})")
    if not w.wrong:
        return f"{where}: no wrong test answer."
    more = w.wrong_next > w.expected_next
    if w.p < ALPHA:
        finding = (f"those rows are {'more' if more else 'less'} often wrong than the other "
                   "rows of their length")
    else:
        finding = "those rows cannot be told apart from the other rows of their length"
    out = (f"{where}: {w.wrong_next} of its {w.wrong} wrong test answers are on the "
           f"{w.rows_next} of {w.rows} test rows whose random digit sits right after the two "
           f"summands (position 3), where {w.expected_next:.1f} would fall were each length's "
           f"wrong answers spread evenly over its rows: {finding} (permutation test within "
           f"lengths, {p_text(w.p)}).")
    if w.p < ALPHA and more and len(w.lengths) > 1:
        out += (f" The random digit sits there in {w.rows_next_by_length[0]} of the "
                f"{w.rows_by_length[0]} test rows at L={w.lengths[0]} and "
                f"{w.rows_next_by_length[-1]} of {w.rows_by_length[-1]} at "
                f"L={w.lengths[-1]}, so these rows weigh most on the short lengths.")
    return out


def _bin_label(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def _errors_panel(errors: dict[str, list[LengthErrors]]) -> Panel:
    fig = go.Figure()
    for arch, per_length in sorted(errors.items()):
        rates = np.concatenate([e.wrong.mean(axis=0) for e in per_length])
        position = np.concatenate([e.position for e in per_length])
        bins = [(_bin_label(lo, hi), (position >= lo) & (position <= hi))
                for lo, hi in POSITION_BINS] + [("none (drawn 0)", position == 0)]
        bins = [(label, m) for label, m in bins if m.any()]
        fig.add_bar(x=[label for label, _ in bins], y=[rates[m].mean() for _, m in bins],
                    customdata=[int(m.sum()) for _, m in bins], name=f"tuned {text(arch)}",
                    marker={"color": series_color(arch)},
                    hovertemplate="position %{x}: %{y:.1%} wrong over %{customdata} rows")
    fig.update_layout(barmode="group", xaxis_title="position of the random digit",
                      yaxis_title="share of test answers wrong", xaxis_type="category")
    return Panel("fig-errors", "Where the repeats err",
                 "Share of wrong test answers (over the repeat seeds) by the position of "
                 "each row's random digit, pooled over every book length: the two summands "
                 "are positions 1 and 2, so position 3 is the digit right after them "
                 "(positions past 35 exist only at the longer lengths).", fig)


def _confusion_panel(task: DigitSumTask, checkpoint: Checkpoint) -> Panel:
    test = task.splits().test
    labels = predict(checkpoint.model, test.inputs).argmax(axis=1)
    counts = np.zeros((N_CLASSES, N_CLASSES), dtype=int)
    np.add.at(counts, (labels, test.targets), 1)
    fig = go.Figure(go.Heatmap(z=counts, x=list(range(N_CLASSES)), y=list(range(N_CLASSES)),
                               colorscale="Blues", colorbar={"title": "rows"}))
    fig.update_layout(xaxis_title="true sum", yaxis_title="predicted sum")
    return Panel("fig-predicted", "Predicted vs true (best model, test)",
                 f"Counts of predicted against true sums for the {len(test)} test rows; "
                 "a perfect model fills only the diagonal.", fig)


def digitsum_panels(task: DigitSumTask, view: StudyView, views: list[StudyView]
                    ) -> list[Panel]:
    panels = [_memory_panel(memory_curve(views, task), task.length, task.mode)]
    if errors := curve_errors(views, task):
        panels.append(_errors_panel(errors))
    return panels + ([_confusion_panel(task, view.checkpoint)] if view.checkpoint else [])


def digitsum_verdict(task: DigitSumTask, views: list[StudyView]) -> list[str]:
    """The memory curve's verdict, then where each architecture's repeats err."""
    curve = memory_curve(views, task)
    if not curve:
        return []
    return curve_verdict(curve, task.length) + [
        errors_sentence(where_errors(arch, per_length))
        for arch, per_length in sorted(curve_errors(views, task).items())]
