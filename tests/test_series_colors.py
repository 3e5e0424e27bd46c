"""series_color: one colour per series name, the same in every figure and process."""

from __future__ import annotations

import os
import subprocess
import sys

from seqtune.report._figures import ARCHITECTURE_COLORS, series_color

#: the series one page may show together
PAGES = {
    "seeded": ["gru", "lstm", "rnn", "per-step mean", "persistence", "least squares",
               "pooled AR(3)"],
    "rainfall": ["gru", "lstm", "rnn", "best model", "actual", "AutoReg(12)", "AutoReg(BIC)",
                 "persistence", "seasonal naive", "seasonal mean", "ETS (Holt-Winters)",
                 "SARIMA", "ridge (window 12)"],
    "digitsum": ["gru", "lstm", "rnn", "majority class", "logistic regression, all positions",
                 "logistic regression, selected positions"],
}


def test_architectures_have_fixed_colours_whatever_the_wording():
    assert series_color("gru") == series_color("tuned GRU") == \
        series_color("best model (gru)") == ARCHITECTURE_COLORS["gru"]
    assert len(set(ARCHITECTURE_COLORS.values())) == 3
    assert series_color("lstm") != series_color("gru") != series_color("rnn")


def test_series_of_one_page_never_share_a_colour():
    for page, names in PAGES.items():
        colors = [series_color(n) for n in names]
        assert len(set(colors)) == len(colors), (page, dict(zip(names, colors, strict=True)))


def test_a_baseline_never_takes_an_architecture_colour():
    for name in {n for names in PAGES.values() for n in names} - set(ARCHITECTURE_COLORS):
        assert series_color(name) not in ARCHITECTURE_COLORS.values(), name
    assert series_color("some series nobody named") not in ARCHITECTURE_COLORS.values()


def test_colours_are_the_same_in_another_process():
    names = ["AutoReg(12)", "an unknown series", "lstm", "configuration 7"]
    code = ("import sys; from seqtune.report._figures import series_color; "
            "print(' '.join(series_color(n) for n in sys.argv[1:]))")
    other = subprocess.run([sys.executable, "-c", code, *names], capture_output=True,
                           text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert other.stdout.split() == [series_color(n) for n in names]
