"""CLI conventions: ``-h`` is ``--help``, the main job is listed first, help text
is not eaten by rich markup."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from seqtune.cli import app


def help_text(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def test_run_is_listed_first():
    panel = help_text("--help").split("Commands")[1]
    names = re.findall(r"^│ (\w+) ", panel, flags=re.M)
    assert names[0] == "run" and {"optimize", "leaderboard", "report", "predict"} <= set(names)


@pytest.mark.parametrize("command", [[], ["leaderboard"], ["optimize"], ["predict"]])
def test_short_help_is_help(command):
    assert help_text(*command, "-h") == help_text(*command, "--help")


def test_brackets_in_help_survive_rich_markup():
    assert "[start] table" in re.sub(r"[│\s]+", " ", help_text("postmortem", "--help"))
