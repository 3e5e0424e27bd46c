"""The ``sequences`` task: your own integer-token sequences and labels from an
``.npz`` or a CSV, digitsum's head and baselines, one-line errors for bad files,
and the README's "Sequence classification" subsection run as written."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import optuna
import pytest
from test_own_data import TINY, readme_blocks

from seqtune.baselines import evaluate_baselines
from seqtune.config import check_against_task, parse_config
from seqtune.errors import SeqtuneError
from seqtune.tasks import make_task

REPO = Path(__file__).resolve().parents[1]


def data(n: int = 60, length: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tokens 0..4; the label says whether the first token is above 2."""
    x = np.random.default_rng(seed).integers(0, 5, size=(n, length))
    return x, (x[:, 0] > 2).astype(int)


def write_csv(path: Path, x: np.ndarray, y: np.ndarray, sequence: str = "sequence",
              label: str = "label") -> Path:
    lines = [f"{sequence},{label}"] + [" ".join(map(str, r)) + f",{v}"
                                       for r, v in zip(x, y, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_npz_and_csv_give_the_same_seeded_splits(tmp_path):
    x, y = data()
    np.savez(tmp_path / "d.npz", X=x, y=y)
    write_csv(tmp_path / "d.csv", x, y, "tokens", "class")
    a = make_task({"name": "sequences", "file": str(tmp_path / "d.npz")})
    b = make_task({"name": "sequences", "file": str(tmp_path / "d.csv"), "sequence": "tokens",
                   "label": "class"})
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(a.splits()[name].inputs, b.splits()[name].inputs)
        np.testing.assert_array_equal(a.splits()[name].targets, b.splits()[name].targets)
    assert [len(a.splits()[k]) for k in ("train", "val", "test")] == [42, 9, 9]
    assert a.model_kind == "classifier" and a.model_spec() == {"vocab_size": 5, "n_classes": 2}
    # every row once, shuffled by the seed
    rows = np.concatenate([a.splits()[k].inputs for k in ("train", "val", "test")])
    assert sorted(map(tuple, rows)) == sorted(map(tuple, x))
    other = make_task({"name": "sequences", "file": str(tmp_path / "d.npz"), "seed": 1})
    assert not np.array_equal(other.splits().test.inputs, a.splits().test.inputs)


def test_digitsums_baselines_apply(tmp_path):
    x, y = data(n=120)
    np.savez(tmp_path / "d.npz", X=x, y=y)
    task = make_task({"name": "sequences", "file": str(tmp_path / "d.npz")})
    results = {r.name: r for r in evaluate_baselines(task)}
    assert list(results) == ["majority class", "logistic regression, all positions",
                             "logistic regression, raw positions"]
    assert results["logistic regression, all positions"].test["accuracy"] == 1.0
    assert results["majority class"].test["accuracy"] < 0.8


def _ragged(path: Path) -> None:
    path.write_text("sequence,label\n1 2 3,0\n1 2,1\n", encoding="utf-8")


def _token(path: Path) -> None:
    path.write_text("sequence,label\n1 2 3,0\n1 x 3,1\n", encoding="utf-8")


def _label(path: Path) -> None:
    path.write_text("sequence,label\n1 2 3,0\n1 2 3,yes\n", encoding="utf-8")


def _column(path: Path) -> None:
    path.write_text("seq,label\n1 2 3,0\n", encoding="utf-8")


def _few(path: Path) -> None:
    write_csv(path, *data(n=4))


BAD_CSV = {"ragged": (_ragged, "line 3: a sequence of 2 tokens, but the first row has 3"),
           "token": (_token, "line 3: column 'sequence': token 'x' is not an integer"),
           "label": (_label, "line 3: column 'label': label 'yes' is not an integer"),
           "column": (_column, "missing column 'sequence'"),
           "few": (_few, "too few rows: 4 rows")}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_a_bad_csv_is_one_line(tmp_path, case):
    spoil, message = BAD_CSV[case]
    spoil(tmp_path / "d.csv")
    with pytest.raises(SeqtuneError) as info:
        make_task({"name": "sequences", "file": str(tmp_path / "d.csv")})
    text = str(info.value)
    assert message in text and "d.csv" in text and "\n" not in text, text


BAD_NPZ = {"no y": ({"X": np.zeros((9, 3), int)}, "missing array(s) ['y']"),
           "floats": ({"X": np.zeros((9, 3)), "y": np.zeros(9, int)}, "X must hold integers"),
           "1-D X": ({"X": np.zeros(9, int), "y": np.zeros(9, int)}, "X must be 2-D"),
           "ragged": ({"X": np.array([[1, 2], [1]], dtype=object), "y": np.zeros(2, int)},
                      "not a readable .npz"),
           "y length": ({"X": np.zeros((9, 3), int), "y": np.zeros(8, int)}, "one label per row"),
           "negative": ({"X": -np.ones((9, 3), int), "y": np.zeros(9, int)},
                        "token -1 is outside 0..999")}


@pytest.mark.parametrize("case", sorted(BAD_NPZ))
def test_a_bad_npz_is_one_line(tmp_path, case):
    arrays, message = BAD_NPZ[case]
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(SeqtuneError) as info:
        make_task({"name": "sequences", "file": str(tmp_path / "d.npz")})
    text = str(info.value)
    assert message in text and "d.npz" in text and "\n" not in text, text


def test_a_study_of_sequences_may_not_search_another_tasks_parameter(tmp_path):
    x, y = data()
    np.savez(tmp_path / "d.npz", X=x, y=y)
    doc = {"study": {"name": "s"}, "task": {"name": "sequences", "file": str(tmp_path / "d.npz")},
           "space": {"architecture": "gru", "window": 3}}
    with pytest.raises(SeqtuneError, match=r"task 'sequences' does not use window \(only "
                                           r"rainfall, forecast do(es)?\); remove it"):
        check_against_task(parse_config(doc, "s.toml"))


def test_the_readme_example_is_the_shipped_example():
    [toml] = [c for lang, c in readme_blocks("Sequence classification", "###") if lang == "toml"]
    assert toml == (REPO / "examples" / "sequences.toml").read_text(encoding="utf-8")


def test_the_readme_sequence_classification_commands_run_as_written(tmp_path, cli):
    blocks = readme_blocks("Sequence classification", "###")
    [toml] = [c for lang, c in blocks if lang == "toml"]
    [bash] = [c for lang, c in blocks if lang == "bash"]
    [sample] = [c for lang, c in blocks if lang == "csv"]
    (tmp_path / "my-sequences.toml").write_text(toml, encoding="utf-8")
    x, y = data(n=80)
    write_csv(tmp_path / "my_sequences.csv", x, y)
    # the README's sample rows are a valid file too
    (tmp_path / "sample.csv").write_text(sample * 3, encoding="utf-8")
    commands = [c for c in (shlex.split(line, comments=True) for line in bash.splitlines()) if c]
    assert [c[:2] for c in commands] == [["seqtune", "optimize"], ["seqtune", "leaderboard"],
                                         ["seqtune", "report"]]
    outputs = []
    for command in commands:
        args = command[1:] + (TINY if command[1] == "optimize" else [])
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr[-2000:])
        outputs.append(result.stdout)
    assert "majority class" in outputs[1] and "logistic regression, all positions" in outputs[1]
    study = optuna.load_study(study_name="my-sequences",
                              storage=f"sqlite:///{tmp_path / 'storage' / 'seqtune.db'}")
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
    assert study.user_attrs["task"]["file"] == str((tmp_path / "my_sequences.csv").resolve())
    assert (tmp_path / "reports" / "study-my-sequences.html").is_file()
    # the checkpoint predicts labels of new sequences; a token beyond the data's is one line
    result = cli("predict", "my-sequences", "--seq", "4 0 1 2 3 0", "-f", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    [row] = json.loads(result.stdout)["predictions"]
    assert row["input"] == [4, 0, 1, 2, 3, 0] and row["prediction"] in (0, 1)
    result = cli("predict", "my-sequences", "--seq", "4 0 9", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.endswith("--seq: expected one or more tokens 0-4 per sequence, got 4 0 9"), line
    # a forecast's options are not a classifier's
    result = cli("predict", "my-sequences", "--seq", "4 0 1 2 3 0", "--steps", "2", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.endswith("--steps: not for sequences studies (they read --seq, --file)"), line


def test_a_bad_file_through_the_cli_is_one_line_and_exit_2(tmp_path, cli):
    [toml] = [c for lang, c in readme_blocks("Sequence classification", "###") if lang == "toml"]
    (tmp_path / "my-sequences.toml").write_text(toml, encoding="utf-8")
    _ragged(tmp_path / "my_sequences.csv")
    result = cli("optimize", "my-sequences.toml", *TINY, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "my_sequences.csv, line 3" in lines[0], lines
    assert not (tmp_path / "storage").exists()
