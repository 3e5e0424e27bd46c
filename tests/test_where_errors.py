"""Where the digitsum repeats err: rows whose random digit follows the two summands,
counted and tested against the other rows of their length."""

from __future__ import annotations

import numpy as np

from seqtune.tasks.digitsum import DigitSumTask
from seqtune.tasks.digitsum._report import (
    LengthErrors,
    errors_sentence,
    noise_position,
    where_errors,
)


def test_the_position_of_the_random_digit_is_read_from_the_row():
    for length in (5, 10, 35):
        test = DigitSumTask(length).splits().test
        position = noise_position(test)
        for row, at in zip(test.inputs, position, strict=True):
            later = np.flatnonzero(row[2:]) + 3
            assert list(later) == ([at] if at else [])  # one random digit, or one drawn 0
        # the book draws the position uniformly from 3..L: about 1 row in L - 2
        assert abs((position == 3).sum() - 100 / (length - 2)) < 4 * np.sqrt(100 / (length - 2))


def _errors(length: int, wrong_rows: list[np.ndarray], seeds: int = 5) -> LengthErrors:
    position = noise_position(DigitSumTask(length).splits().test)
    wrong = np.zeros((seeds, len(position)))
    for seed, rows in enumerate(wrong_rows):
        wrong[seed, rows] = 1.0
    return LengthErrors(length, wrong, position)


def test_errors_piled_on_the_digit_after_the_summands_are_a_finding():
    errors = []
    for length in (5, 10):
        after = np.flatnonzero(noise_position(DigitSumTask(length).splits().test) == 3)
        errors.append(_errors(length, [after[:4], after[2:6], after[:3], [], after[5:7]]))
    w = where_errors("lstm", errors)
    assert (w.wrong, w.wrong_next) == (26, 26)
    assert w.rows_next_by_length == tuple(int((e.position == 3).sum()) for e in errors)
    # spread evenly, each length's wrong answers would put share-of-rows of them there
    assert w.expected_next == sum(13 * (e.position == 3).mean() for e in errors)
    assert w.p < 0.05
    line = errors_sentence(w)
    assert "26 of its 26 wrong test answers" in line
    assert f"where {w.expected_next:.1f} would fall" in line
    assert "more often wrong than the other rows of their length" in line
    assert (f"in {w.rows_next_by_length[0]} of the 100 test rows at L=5 and "
            f"{w.rows_next_by_length[1]} of 100 at L=10") in line


def test_errors_spread_like_the_rows_are_not_a_finding():
    length = 10
    position = noise_position(DigitSumTask(length).splits().test)
    after, other = np.flatnonzero(position == 3), np.flatnonzero(position != 3)
    # the same share of each group wrong under every seed
    share = len(after) / len(position)
    rows = [np.concatenate([after[k:k + 1], other[8 * k:8 * k + round(1 / share) - 1]])
            for k in range(5)]
    w = where_errors("gru", [_errors(length, rows)])
    assert abs(w.wrong_next - w.expected_next) < 1
    assert w.p > 0.05
    line = errors_sentence(w)
    assert "those rows cannot be told apart from the other rows of their length" in line
    assert "weigh most" not in line


def test_errors_kept_away_from_the_digit_after_the_summands_are_said_so():
    length = 5
    position = noise_position(DigitSumTask(length).splits().test)
    other = np.flatnonzero(position != 3)
    w = where_errors("rnn", [_errors(length, [other[:30]] * 5)])
    assert w.wrong_next == 0 and w.p < 0.05
    assert "those rows are less often wrong than the other rows of their length" in \
        errors_sentence(w)


def test_each_length_is_weighed_against_its_own_rows():
    # at L=5 only the position-3 rows are wrong (one seed each); at L=35 every
    # answer is wrong. Pooled, the position-3 rows (mostly from L=5) look rarely
    # wrong; within L=5 they are the only ones, and L=35 says nothing either way
    short = noise_position(DigitSumTask(5).splits().test)
    after = np.flatnonzero(short == 3)
    errors = [_errors(5, [after[k::5] for k in range(5)]),
              _errors(35, [np.arange(100)] * 5)]
    w = where_errors("rnn", errors)
    assert w.wrong_next == len(after) + 5 * int((errors[1].position == 3).sum())
    assert w.p < 0.05
    assert "those rows are more often wrong" in errors_sentence(w)


def test_no_wrong_answer_is_said_plainly():
    w = where_errors("gru", [_errors(5, [])])
    assert (w.wrong, w.p) == (0, 1.0)
    assert errors_sentence(w).endswith(": no wrong test answer.")
