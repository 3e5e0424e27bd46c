"""CLI conventions: ``-h`` is ``--help``, the main job is listed first, help text
is not eaten by rich markup, every command has examples that parse, metavars are
words (no ``<bool>``), one output flag (``-f/--format``) everywhere."""

from __future__ import annotations

import re
import shlex

import pytest
import typer
from typer.testing import CliRunner

from seqtune.cli import app

GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)
#: what typer shows by default for a value's type
TYPE_METAVAR = re.compile(r"<(?:bool|str|int|float|path|text|list\[[^>]*\]|"
                          r"(?:int|float) range|[\w.]+\|[\w.|]+)>", re.I)


def help_text(*args: str, width: int = 100) -> str:
    result = CliRunner().invoke(app, list(args), terminal_width=width,
                                env={"COLUMNS": str(width), "TERMINAL_WIDTH": str(width)})
    assert result.exit_code == 0, result.output
    return result.output


def test_run_is_listed_first():
    panel = help_text("--help", width=120).split("Commands")[1]
    names = re.findall(r"^│ (\w+) ", panel, flags=re.M)
    assert names[0] == "run" and {"optimize", "leaderboard", "report", "predict"} <= set(names)


@pytest.mark.parametrize("command", [[], ["leaderboard"], ["optimize"], ["predict"]])
def test_short_help_is_help(command):
    assert help_text(*command, "-h") == help_text(*command, "--help")


def test_brackets_in_help_survive_rich_markup():
    assert "[start] table" in re.sub(r"[│\s]+", " ", help_text("postmortem", "--help"))


def test_every_command_is_covered():
    assert {"run", "optimize", "leaderboard", "report", "predict", "postmortem", "space",
            "evaluate"} <= set(COMMANDS)


def examples(text: str) -> list[str]:
    """The command lines of a help text's ``Examples:`` block."""
    block = text.split("Examples:", 1)[1]
    lines = []
    for line in block.splitlines():
        line = line.strip(" │")
        if line.startswith(("╭", "╰")):
            break
        if line:
            lines.append(line)
    return lines


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_help_has_examples_one_command_a_line(command):
    # 80 columns: an example that rich would wrap on a small terminal fails here
    text = help_text(*([command] if command else []), "--help", width=80)
    assert "Examples:" in text
    lines = examples(text)
    assert len(lines) >= 2 if command else len(lines) >= 3
    for line in lines:  # rich kept the line breaks: each line is one whole command
        assert line.startswith(("seqtune ", "optuna ")), line
        if command and line.startswith("seqtune "):
            assert f" {command}" in line, line


def _parses(argv: list[str]) -> None:
    """Parse ``seqtune ARGV`` as the CLI would, without running the command."""
    ctx = GROUP.make_context("seqtune", list(argv))
    at = next(i for i, word in enumerate(argv) if word in GROUP.commands)
    GROUP.get_command(ctx, argv[at]).make_context(argv[at], argv[at + 1:], parent=ctx)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_example_is_a_real_command_line(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # folder options are checked against this empty folder
    for line in examples(help_text(command, "--help")):
        if line.startswith("seqtune "):
            _parses(shlex.split(line)[1:])


def test_a_wrong_example_would_be_caught():
    with pytest.raises(Exception, match="No such option"):
        _parses(["optimize", "x.toml", "--n-trails", "3"])


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_metavars_are_words_not_python_types(command):
    text = help_text(*([command] if command else []), "--help")
    assert not TYPE_METAVAR.findall(text), TYPE_METAVAR.findall(text)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage and "<" not in usage, usage


def test_the_metavar_check_would_see_typer_defaults():
    assert TYPE_METAVAR.findall("--json <bool>  --set <list[str]>  --repeats <int range>")


def test_arguments_are_named_in_capitals_in_usage_and_panel():
    text = help_text("optimize", "--help")
    assert re.search(r"Usage: \S+ optimize \[OPTIONS\] STUDY_FILE\s", text)
    assert re.search(r"│ \*\s+STUDY_FILE\s", text)


@pytest.mark.parametrize("command", COMMANDS)
def test_first_paragraph_of_every_command_is_one_line(command):
    first = GROUP.commands[command].help.strip().split("\n\n")[0]
    assert "\n" not in first, first
    panel = help_text("--help", width=120).split("Commands")[1]
    row = [line for line in panel.splitlines() if re.match(rf"│ {command}\s", line)]
    following = panel.splitlines()[panel.splitlines().index(row[0]) + 1]
    assert re.match(r"│ \w", following) or following.startswith("╰"), following


@pytest.mark.parametrize("command, formats", [
    ("optimize", "table|json"), ("space", "table|json"), ("evaluate", "value|table|json"),
    ("predict", "table|json"), ("leaderboard", "table|csv|json|markdown")])
def test_one_output_flag_everywhere_and_json_is_a_hidden_alias(command, formats):
    text = help_text(command, "--help")
    assert re.search(rf"--format\s+-f\s+{re.escape(formats)}", text), text
    assert "--json" not in text
    if command != "leaderboard":
        names = {o for p in GROUP.commands[command].params for o in p.opts}
        assert "--json" in names
