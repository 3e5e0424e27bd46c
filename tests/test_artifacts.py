"""Best-model checkpoints as Optuna artifacts, served by the real optuna-dashboard
and used by ``seqtune predict``.

One small storage is filled once per module by seqtune's own optimize loop:
a seeded (drift) study, a digitsum study (dense noise, L = 5) and a study whose
only trial diverges.
"""

from __future__ import annotations

import html
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import torch

from seqtune.blobs import get_blob
from seqtune.config import load_config
from seqtune.errors import SeqtuneError
from seqtune.models import build_model
from seqtune.report import write_report
from seqtune.space import parse_space
from seqtune.study import load_best_checkpoint, load_checkpoint, optimize
from seqtune.study._artifacts import make_checkpoint
from seqtune.tasks import make_task
from seqtune.tasks.digitsum import DigitSumTask, dense_data
from seqtune.tasks.forecast._predict import forecast
from seqtune.tasks.seeded import SeededTask, continue_sequence
from seqtune.trainer import predict as model_predict

REPO = Path(__file__).resolve().parents[1]
SEEDED, DIGITSUM, DIVERGE = "seeded-small", "digitsum-dense5", "seeded-diverge"
DIGITSUM_TASK = {"name": "digitsum", "length": 5, "mode": "dense", "seed": 0, "n_train": 3000}


def _config(study_file: str, name: str, space: dict[str, Any], **overrides: Any):
    base = load_config(REPO / "studies" / f"{study_file}.toml")
    return base.with_overrides(name=name, space=parse_space(space), start={}, sweep={},
                               pruner="none", timeout=None, **overrides)


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> dict[str, Any]:
    """Three studies in ``<tmp>/seqtune.db``; checkpoints land in ``<tmp>/artifacts``."""
    folder = tmp_path_factory.mktemp("filled")
    url = f"sqlite:///{folder / 'seqtune.db'}"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # these models are too small to gain from more
    seeded = {"architecture": "gru", "hidden_size": 32, "num_layers": 1,
              "learning_rate": 0.01, "batch_size": 32, "grad_clip": 1.0,
              "teacher_forcing": 0.0, "rollout": 5}
    try:
        optimize(_config("seeded-drift", SEEDED, seeded, n_trials=2, max_epochs=8, patience=8),
                 url, show_progress_bar=False)
        optimize(_config("digitsum", DIGITSUM, {"architecture": "lstm", "hidden_size": 64,
                                                "learning_rate": 0.01, "batch_size": 64,
                                                "grad_clip": 1.0},
                         task=DIGITSUM_TASK, n_trials=1, max_epochs=10, patience=3),
                 url, show_progress_bar=False)
        diverge = _config("seeded-drift", DIVERGE, {**seeded, "grad_clip": 0.0}, n_trials=1,
                          max_epochs=2)  # a rate no study file may set (at most 10): it diverges
        optimize(diverge.with_overrides(space={**diverge.space, "learning_rate": 1e30}), url,
                 show_progress_bar=False)
        write_report(url, folder / "reports", folder / "artifacts")  # saves the verdict notes
    finally:
        torch.set_num_threads(threads)
    return {"url": url, "artifacts": folder / "artifacts", "folder": folder}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


@pytest.fixture()
def dashboard(filled) -> Iterator[str]:
    """The real ``optuna-dashboard`` on a free loopback port; stopped afterwards."""
    port = _free_port()
    exe = Path(sys.executable).with_name("optuna-dashboard")
    proc = subprocess.Popen([str(exe), filled["url"], "--artifact-dir", str(filled["artifacts"]),
                             "--host", "127.0.0.1", "--port", str(port), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"optuna-dashboard exited {proc.returncode}: "
                            f"{proc.stderr.read().decode()[-2000:]}")
            try:
                _get(f"{base}/api/studies")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail("optuna-dashboard not ready within 60 s")
                time.sleep(0.25)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        proc.stderr.close()


def _attrs(serialized: list[dict[str, str]]) -> dict[str, str]:
    """The dashboard's ``[{"key", "value"}]`` attrs as a dict (values are strings)."""
    return {a["key"]: a["value"] for a in serialized}


def test_dashboard_shows_our_studies_metrics_errors_and_checkpoint(filled, dashboard):
    summaries = json.loads(_get(f"{dashboard}/api/studies"))["study_summaries"]
    ids = {s["study_name"]: s["study_id"] for s in summaries}
    assert set(ids) == {SEEDED, DIGITSUM, DIVERGE}
    assert {s["study_name"]: s["directions"] for s in summaries} == {
        SEEDED: ["minimize"], DIGITSUM: ["maximize"], DIVERGE: ["minimize"]}

    detail = json.loads(_get(f"{dashboard}/api/studies/{ids[SEEDED]}"))
    study_attrs = _attrs(detail["user_attrs"])
    assert json.loads(study_attrs["task"])["rule"] == "drift"
    assert study_attrs["metric"] == "mse"
    assert detail["objective_names"] == ["mse"]  # study.set_metric_names
    graphs = {g["id"]: json.loads(g["graph_object"]) for g in detail["plotly_graph_objects"]}
    assert graphs and all(g["layout"]["title"]["text"] for g in graphs.values()), graphs.keys()
    assert graphs["seqtune-fig-predicted"]["layout"]["title"]["text"] == \
        "Predicted vs true (best model, test)"
    stored = optuna.load_study(study_name=SEEDED, storage=filled["url"])
    baselines = get_blob(stored, "baselines")
    assert {"persistence", "least squares"} <= {r["name"] for r in baselines["results"]}
    # a blob, kept out of the user attrs; the note's leaderboard shows every baseline
    assert "baselines" not in study_attrs
    assert all(f"| {r['name']} |" in detail["note"]["body"] for r in baselines["results"])
    # the verdict note: the same sentences the HTML report shows for this study
    note = detail["note"]["body"]
    assert note.startswith(f"## seqtune report: {SEEDED}")
    bullets = [html.unescape(line[2:]) for line in note.splitlines() if line.startswith("- ")]
    page = html.unescape((filled["folder"] / "reports" / f"study-{SEEDED}.html").read_text())
    assert bullets and all(b in page for b in bullets)
    trials = detail["trials"]
    assert [t["state"] for t in trials] == ["Complete", "Complete"]
    for shown, trial in zip(trials, stored.trials, strict=True):
        attrs = _attrs(shown["user_attrs"])
        for key in ("val_mse", "test_mse", "val_nmse", "seed4_slope"):
            assert float(attrs[key]) == trial.user_attrs[key]
        assert json.loads(attrs["drift_ratio_per_step"]) == trial.user_attrs[
            "drift_ratio_per_step"]

    best = json.loads(study_attrs["best_checkpoint"])
    (best_trial,) = detail["best_trials"]
    assert best["trial"] == best_trial["number"] == stored.best_trial.number
    assert best["value"] == stored.best_value
    (artifact,) = [a for a in best_trial["artifacts"] if a["artifact_id"] == best["artifact_id"]]
    assert artifact["filename"] == best["filename"]
    served = _get(f"{dashboard}/artifacts/{ids[SEEDED]}/{best_trial['trial_id']}/"
                  f"{best['artifact_id']}")
    written = (filled["artifacts"] / best["artifact_id"]).read_bytes()
    assert served == written and len(written) > 1000

    path = filled["folder"] / "downloaded.pt"
    path.write_bytes(served)
    checkpoint = load_checkpoint(path)  # torch.load(weights_only=True) inside
    assert checkpoint.data["trial"] == best["trial"]
    assert checkpoint.data["params"]["architecture"] == "gru"

    failed = json.loads(_get(f"{dashboard}/api/studies/{ids[DIVERGE]}"))
    (trial,) = failed["trials"]
    assert trial["state"] == "Fail"
    assert _attrs(trial["user_attrs"])["error"].startswith("TrainingDiverged: training loss is")
    assert "best_checkpoint" not in _attrs(failed["user_attrs"])


def _predict(cli, filled, tmp_path, study: str, rows: np.ndarray, fmt: str = "json"):
    lines = "\n".join(" ".join(f"{v:.9g}" for v in row) for row in rows)
    (tmp_path / "input.txt").write_text(f"# one sequence per line\n{lines}\n")
    done = cli("predict", study, "--file", str(tmp_path / "input.txt"),
               "--storage", filled["url"], "--format", fmt)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if fmt == "json" else done.stdout


def test_predict_digitsum_sums_sequences_it_never_saw(filled, cli, tmp_path):
    (train_x, _), _, _ = dense_data(5, seed=0, n_train=3000)
    seen = {tuple(row) for row in train_x}
    (x, y), _, _ = dense_data(5, seed=2024, n_train=400)
    fresh = np.array([tuple(row) not in seen for row in x])
    x, y = x[fresh][:300], y[fresh][:300]
    out = _predict(cli, filled, tmp_path, DIGITSUM, x)
    assert out["study"] == DIGITSUM and out["task"]["length"] == 5
    assert [p["input"] for p in out["predictions"]] == x.tolist()
    sums = np.array([p["prediction"] for p in out["predictions"]])
    assert np.mean(sums == y) >= 0.99, np.flatnonzero(sums != y)


def test_predict_seeded_follows_the_rule_within_the_reported_error(filled, cli, tmp_path):
    seeds = np.random.default_rng(2024).uniform(-1, 1, size=(200, 5))
    out = _predict(cli, filled, tmp_path, SEEDED, seeds)
    reported = optuna.load_study(study_name=SEEDED, storage=filled["url"]).best_value
    assert out["value"] == reported < 0.05  # the study learned the rule, not the mean
    predicted = np.array([p["prediction"] for p in out["predictions"]])
    mse = float(np.mean((predicted - continue_sequence(seeds, 5, "drift")) ** 2))
    assert mse <= 3 * reported + 1e-3, (mse, reported)


def test_predict_input_and_artifact_folder_are_checked(filled, tmp_path):
    seeded = optuna.load_study(study_name=SEEDED, storage=filled["url"])
    checkpoint = load_best_checkpoint(seeded, filled["artifacts"])
    with pytest.raises(SeqtuneError, match=r"^--seq: expected 5 seed values per sequence, "
                                           r"got 3 \(0.1 0.2 0.3\)$"):
        SeededTask.predict_input(checkpoint, [("--seq", [0.1, 0.2, 0.3])], {})
    digits = load_best_checkpoint(optuna.load_study(study_name=DIGITSUM, storage=filled["url"]),
                                  filled["artifacts"])
    with pytest.raises(SeqtuneError, match=r"^--file f.txt, line 2: expected at least 2 "
                                           r"digits 0-9 per sequence, got 1 12$"):
        DigitSumTask.predict_input(digits, [("--file f.txt, line 1", [1, 2]),
                                            ("--file f.txt, line 2", [1, 12])], {})
    with pytest.raises(SeqtuneError, match=r"^--artifact-dir .*nowhere: no artifact"):
        load_best_checkpoint(seeded, tmp_path / "nowhere")
    failed = optuna.load_study(study_name=DIVERGE, storage=filled["url"])
    with pytest.raises(SeqtuneError, match="no best checkpoint"):
        load_best_checkpoint(failed, filled["artifacts"])


def test_rainfall_checkpoint_forecasts_like_training_saw_the_data(tmp_path):
    """Scaler and window travel in the checkpoint: the forecast after the true
    history equals the model's output on the split the trainer scored."""
    task = make_task({"name": "rainfall"})
    params = {"architecture": "gru", "hidden_size": 8, "num_layers": 1, "window": 9}
    torch.manual_seed(0)
    model = build_model(task.model_kind, "gru", 8, 1, **task.model_spec())
    path = tmp_path / "rain.pt"
    torch.save(make_checkpoint(task, params, model, trial=0, value=1.0), path)
    checkpoint = load_checkpoint(path)
    val = task.splits(window=9).val
    expected = task.unscale(val, model_predict(model, val.inputs))
    series = task.series
    for i in (0, 17, len(val) - 1):
        t = int(val.meta["index"][i])
        (got,) = forecast(checkpoint, series[:t])
        assert got == pytest.approx(expected[i], rel=1e-5, abs=1e-6)
    two = forecast(checkpoint, series, steps=2)
    assert len(two) == 2 and two[0] == pytest.approx(forecast(checkpoint, series)[0])
