"""``seqtune space``, ``evaluate`` and ``predict``: work beside the ``optuna`` CLI.

``space --json`` and ``evaluate`` make an ``optuna ask`` / ``optuna tell``
shell loop possible (seqtune trains, Optuna keeps the study); ``predict``
loads a study's best checkpoint from the artifact store.
"""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    IntDistribution,
    distribution_to_json,
)
from rich.table import Table

from seqtune import jsontext
from seqtune.cli._app import (
    ArtifactDirOpt,
    FormatOpt,
    JsonAliasOpt,
    OutputFormat,
    StorageOpt,
    app,
    console,
    output_format,
    state,
)
from seqtune.cli._leaderboard import seqtune_study
from seqtune.cli._settings import SetOpt, parse_assignments, task_keys
from seqtune.config import StudyConfig, load_config
from seqtune.errors import SeqtuneError, TrainingDiverged
from seqtune.runtime import configure_threads
from seqtune.space import distributions
from seqtune.study import (
    Checkpoint,
    load_best_checkpoint,
    resolve_artifact_dir,
    resolve_storage_url,
    train_and_score,
)
from seqtune.tasks import TASKS, make_task

StudyArg = Annotated[str, typer.Argument(
    metavar="STUDY", help="A study file (studies/seeded-drift.toml) or the name of one in "
                          "studies/ (seeded-drift).")]


class ValueFormat(StrEnum):
    """``evaluate -f``: the value alone (for ``optuna tell --values``), a table, JSON."""

    value = "value"
    table = "table"
    json = "json"


def study_file(study: str) -> Path:
    """``studies/<name>.toml`` for a bare name, else the path as given."""
    path = Path(study)
    return path if path.suffix == ".toml" or len(path.parts) > 1 \
        else Path("studies") / f"{study}.toml"


def _describe(value: Any) -> str:
    if isinstance(value, CategoricalDistribution):
        return "one of " + ", ".join(map(str, value.choices))
    if isinstance(value, BaseDistribution):
        kind = "int" if isinstance(value, IntDistribution) else "float"
        extras = [e for e in ("log" if value.log else "",
                              f"step {value.step}" if value.step not in (None, 1) else "") if e]
        return f"{kind} {value.low}..{value.high}" + (f" ({', '.join(extras)})" if extras else "")
    return f"fixed {value!r}"


@app.command("space")
def space_cmd(
    study: StudyArg,
    fmt: Annotated[OutputFormat, typer.Option(
        "--format", "-f", metavar="table|json",
        help="table: every parameter, searched or fixed; json: only the searched part, as "
             "`optuna ask --search-space` takes it.")] = OutputFormat.table,
    as_json: JsonAliasOpt = False,
) -> None:
    """Print the search space of STUDY: what is searched, in which range, what is fixed.

    -f json prints the searched part in the form `optuna ask --search-space` takes.

    Examples:

      seqtune space seeded-drift
      seqtune space studies/rainfall.toml -f json
      seqtune space seeded-ar2 -f table
    """
    config = load_config(study_file(study))
    if output_format(fmt, as_json) == OutputFormat.json:
        print(jsontext.dumps({name: json.loads(distribution_to_json(dist))
                          for name, dist in distributions(config.space).items()}))
        return
    task = TASKS[config.task_name]
    table = Table(title=f"{config.name}: task {task.name}, {task.direction} {task.metric}")
    table.add_column("parameter")
    table.add_column("values")
    for name, value in config.space.items():
        table.add_row(name, _describe(value))
    console.print(table)


def _contains(dist: BaseDistribution, value: Any) -> bool:
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    number = int | float if not isinstance(dist, IntDistribution) else int
    if not isinstance(value, number) or isinstance(value, bool):
        return False
    step_ok = dist.step is None or abs((value - dist.low) / dist.step
                                       - round((value - dist.low) / dist.step)) < 1e-9
    return dist.low <= value <= dist.high and step_ok


def full_params(config: StudyConfig, text: str) -> dict[str, Any]:
    """The searched values from ``--params`` JSON plus the study file's fixed ones."""
    try:
        given = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeqtuneError(f"--params: not valid JSON ({exc}); expected an object such as "
                           "'{\"architecture\": \"lstm\", \"learning_rate\": 0.01}'") from None
    if not isinstance(given, dict):
        raise SeqtuneError(f"--params: expected a JSON object of parameter values, got {text}")
    searched = distributions(config.space)
    for name, value in given.items():
        if name not in config.space:
            raise SeqtuneError(f"--params: unknown parameter {name!r}; {config.source} "
                               f"searches {sorted(searched)}")
        dist = config.space[name]
        if name not in searched and value != dist:
            raise SeqtuneError(f"--params: {name} is fixed to {dist!r} in {config.source}, "
                               f"got {value!r}")
        if name in searched and not _contains(dist, value):
            raise SeqtuneError(f"--params: {name}={value!r} is outside the study's space "
                               f"({_describe(dist)})")
    if missing := sorted(set(searched) - set(given)):
        raise SeqtuneError(f"--params: missing searched parameter(s) {missing}")
    return {name: given.get(name, value) for name, value in config.space.items()}


def task_settings(config: StudyConfig, assignments: list[str]) -> dict[str, Any]:
    """The study's task settings with ``--set KEY=VALUE`` applied; a sweep needs a pick."""
    settings = dict(config.task)
    allowed = task_keys(config.task_name)
    pairs = parse_assignments(assignments)
    for where, key, value in pairs:
        if key not in allowed:
            raise SeqtuneError(f"{where}: unknown setting {key!r} of task {config.task_name}; "
                               f"expected one of {allowed}")
        settings[key] = value
    for key, values in config.sweep.items():
        if not any(k == key for _, k, _ in pairs):
            raise SeqtuneError(f"--set: {config.source} sweeps {key} over {values}; pick "
                               f"one, e.g. --set {key}={values[0]}")
    return settings


@app.command("evaluate")
def evaluate_cmd(
    study: StudyArg,
    params: Annotated[str, typer.Option(
        metavar="JSON",
        help="Searched parameter values as a JSON object, e.g. the params of "
             "`optuna ask -f json`. Fixed values come from the study file.")],
    set_: SetOpt = None,
    csv: Annotated[Path | None, typer.Option(
        metavar="FILE", help="forecast, rainfall: read this CSV (same as --set csv=FILE).")]
    = None,
    max_epochs: Annotated[int | None, typer.Option(
        metavar="N", help="Upper bound on epochs (default: the study file's).")] = None,
    seed: Annotated[int | None, typer.Option(
        metavar="N", help="Training seed (default: the study file's).")] = None,
    fmt: Annotated[ValueFormat, typer.Option(
        "--format", "-f", metavar="value|table|json",
        help="value: the objective value alone (for `optuna tell --values`); table or json: "
             "every metric.")] = ValueFormat.value,
    as_json: JsonAliasOpt = False,
) -> None:
    """Train one configuration of STUDY and print its objective value (val metric).

    Nothing is written to any study: with `optuna ask` and `optuna tell` this
    makes a shell loop (see scripts/ask-tell-example.sh). Exit status 1 if
    training diverges (tell Optuna `--state fail`).

    Examples:

      seqtune -q evaluate seeded-drift --params "$params" --max-epochs 20
      seqtune evaluate digitsum --set length=35 --params "$params" -f json
    """
    config = load_config(study_file(study)).with_overrides(
        max_epochs=max_epochs, seed=seed, csv=str(csv) if csv else None)
    values = full_params(config, params)
    task = make_task(task_settings(config, set_ or []))
    configure_threads()
    try:
        outcome = train_and_score(task, values, config.max_epochs, config.patience, config.seed)
    except TrainingDiverged as exc:
        print(f"seqtune: error: training diverged: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    value = outcome.fit.best_value
    result = {"value": value, "metric": task.metric, "direction": task.direction,
              "params": values, "seed": config.seed, **outcome.user_attrs()}
    shown = output_format(fmt, as_json)
    if shown == ValueFormat.json:
        print(jsontext.dumps(result))
    elif shown == ValueFormat.table:
        table = Table(title=f"{config.name}: {values['architecture']}, val {task.metric} "
                            f"({task.direction})")
        table.add_column("key")
        table.add_column("value", justify="right")
        for key, item in result.items():
            if not isinstance(item, dict | list):
                table.add_row(key, _cell(item))
        for key, item in values.items():
            table.add_row(f"params.{key}", _cell(item))
        console.print(table)
    else:
        print(repr(value))
    if not state["quiet"]:
        print(f"{values['architecture']}: val {task.metric} {value:.6g}, test "
              f"{outcome.test[task.metric]:.6g} after {outcome.fit.epochs_run} epochs "
              f"({outcome.fit.seconds:.1f} s)", file=sys.stderr)


def _numbers(text: str, where: str) -> list[float]:
    try:
        return [float(v) for v in re.split(r"[,\s]+", text.strip()) if v]
    except ValueError:
        raise SeqtuneError(f"{where}: expected numbers separated by commas or spaces, "
                           f"got {text.strip()[:60]!r}") from None


def _inputs(seq: list[str], file: Path | None) -> list[tuple[str, list[float]]]:
    """(where it came from, numbers) per input sequence."""
    rows = [("--seq", _numbers(text, "--seq")) for text in seq]
    if file is not None:
        if not file.is_file():
            raise SeqtuneError(f"--file {file}: file not found")
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise SeqtuneError(f"--file {file}: not UTF-8 text (byte {exc.start}); expected "
                               "numbers separated by commas or spaces, one sequence a "
                               "line") from None
        except OSError as exc:
            raise SeqtuneError(f"--file {file}: cannot read ({exc.strerror})") from None
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                rows.append((f"--file {file}, line {n}", _numbers(line, f"{file}, line {n}")))
    return rows


def _predictions(checkpoint: Checkpoint, rows: list[tuple[str, list[float]]],
                 options: dict[str, Any]) -> list[dict[str, Any]]:
    """The task's predictions for the input; an option the task does not read,
    or no input at all, is one line."""
    name = checkpoint.task["name"]
    cls = TASKS[name]
    for option in options:
        if option not in cls.predict_options:
            reads = ", ".join(f"--{o}" for o in ("seq", "file", *cls.predict_options))
            raise SeqtuneError(f"--{option}: not for {name} studies (they read {reads})")
    if not rows and options.get("csv") is None:
        raise SeqtuneError("predict: no input; give --seq, --file" +
                           (" or --csv" if "csv" in cls.predict_options else ""))
    return cls.predict_input(checkpoint, rows, options)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        text = " ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in value)
        return text if len(text) <= 60 else "... " + text[-56:]
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@app.command("predict")
def predict_cmd(
    study_name: Annotated[str, typer.Argument(
        metavar="STUDY", help="Study name in the storage, e.g. seeded-drift or digitsum-L10.")],
    seq: Annotated[list[str] | None, typer.Option(
        metavar="NUMBERS",
        help="One input sequence, numbers separated by commas or spaces (repeatable): "
             "seeded: the seeds; digitsum: the digits; forecast, rainfall: the recent "
             "history.")] = None,
    file: Annotated[Path | None, typer.Option(
        metavar="FILE", help="A text file with one input sequence per line.")] = None,
    csv: Annotated[Path | None, typer.Option(
        metavar="FILE",
        help="forecast, rainfall: forecast after the last row of this CSV (the study's "
             "columns).")] = None,
    steps: Annotated[int | None, typer.Option(
        metavar="N", help="forecast, rainfall: values to forecast, each fed back as input "
                          "(default 1).")] = None,
    output: FormatOpt = OutputFormat.table,
    as_json: JsonAliasOpt = False,
    storage: StorageOpt = None,
    artifact_dir: ArtifactDirOpt = None,
) -> None:
    """Predict with the best model of STUDY, loaded from its checkpoint artifact.

    seeded: the continuation after given seeds; forecast, rainfall: the next values
    after a given series or CSV; digitsum: the sum of the first two digits; any
    other task: what its predict_input makes of the input.

    Examples:

      seqtune predict seeded-drift --seq "0.1 -0.4 0.9 0.5 0.2"
      seqtune predict digitsum-L10 --seq "3 4 0 0 0 0 7 0 0 0" -f json
      seqtune predict rainfall --file history.txt --steps 3
    """
    output = output_format(output, as_json)
    url = resolve_storage_url(storage)
    study = seqtune_study(study_name, url, "predict")
    checkpoint = load_best_checkpoint(study, resolve_artifact_dir(url, artifact_dir))
    options = {k: v for k, v in (("csv", csv), ("steps", steps)) if v is not None}
    rows = _predictions(checkpoint, _inputs(seq or [], file), options)
    info = checkpoint.data
    metric = TASKS[checkpoint.task["name"]].metric
    if output == OutputFormat.json:
        print(jsontext.dumps({"study": study.study_name, "trial": info["trial"], "metric": metric,
                          "value": info["value"], "task": checkpoint.task,
                          "params": info["params"], "predictions": rows}))
        return
    table = Table(title=f"{study.study_name}: best trial {info['trial']} "
                        f"({info['params'].get('architecture')}, val {metric} "
                        f"{info['value']:.4g})")
    columns = list(rows[0])
    for column in ["#", *columns]:
        table.add_column(column, justify="left" if column == "input" else "right")
    for n, row in enumerate(rows):
        table.add_row(str(n), *(_cell(row[c]) for c in columns))
    console.print(table)
