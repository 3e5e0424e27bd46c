"""The HTML report, opened by Debian's headless Chromium with the network off.

One small storage is filled once per module by seqtune itself: a seeded (drift)
study, a rainfall study on the post's CSV, two digitsum lengths (the memory curve), a study named
like a script whose only trial diverges, and a one-epoch post-mortem grid. The
report of it is written by the real ``seqtune report`` command.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import numpy as np
import optuna
import pytest
from browser import Browser, ensure_chromium
from conftest import run_cli
from optuna_dashboard import get_note, wsgi

from seqtune.config import load_config
from seqtune.postmortem import run_postmortems
from seqtune.report import write_report
from seqtune.report._pages import page_name
from seqtune.runtime import configure_threads
from seqtune.space import parse_space
from seqtune.study import leaderboard, open_storage, optimize, resolve_artifact_dir
from seqtune.study._refit import repeat_points, stored_repeats
from seqtune.tasks.digitsum import DigitSumTask

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "test-artifacts" / "report"
XSS = "<script>alert(1)</script>"
SMALL_SEEDED = {"name": "seeded", "rule": "drift", "n_seeds": 5, "horizon": 5,
                "n_train": 300, "n_val": 100, "n_test": 200}


def _config(study_file: str, **overrides: Any):
    base = load_config(REPO / "studies" / f"{study_file}.toml")
    return base.with_overrides(timeout=None, **overrides)


@pytest.fixture(scope="module")
def filled(tmp_path_factory, shared_data) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{folder / 'seqtune.db'}"
    configure_threads()
    small = {"n_trials": 2, "max_epochs": 2, "patience": 2}
    optimize(_config("seeded-drift", task=SMALL_SEEDED, n_trials=3, max_epochs=2, patience=2),
             url, show_progress_bar=False)
    optimize(_config("rainfall", csv=str(shared_data / "Rainfall_data.csv"), **small), url,
             show_progress_bar=False)
    for config in _config("digitsum", sweep={"length": [5, 10]}, **small).expand():
        optimize(config, url, show_progress_bar=False)
    diverge = {"architecture": "gru", "hidden_size": 8, "num_layers": 1,
               "learning_rate": 0.01, "batch_size": 32, "grad_clip": 0.0,
               "teacher_forcing": 0.0, "rollout": 5}
    space = {**parse_space(diverge), "learning_rate": 1e30}  # beyond a study file's 10: diverges
    optimize(_config("seeded-drift", name=XSS, task=SMALL_SEEDED, space=space,
                     start={}, n_trials=1, max_epochs=1), url, show_progress_bar=False)
    run_postmortems(url, ["drift"], studies=REPO / "studies", max_epochs=1, n_seeds=2,
                    n_draws=1, factorial=False)
    out = folder / "reports"
    started = time.perf_counter()
    done = run_cli("report", "--storage", url, "--out", str(out))
    assert done.returncode == 0, done.stderr
    return {"url": url, "out": out, "seconds": time.perf_counter() - started,
            "stdout": done.stdout}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ensure_chromium()
    session = Browser()
    try:
        yield session
    finally:
        session.close()


def _studies(url: str) -> dict[str, optuna.Study]:
    storage = open_storage(url, heartbeat_interval=None)
    return {name: optuna.load_study(study_name=name, storage=storage)
            for name in optuna.get_all_study_names(storage)}


def test_every_page_renders_offline_without_errors(filled, browser):
    out = filled["out"]
    assert str(out / "index.html") in filled["stdout"]
    studies = _studies(filled["url"])
    pages = {p.name for p in out.glob("*.html")}
    expected = {"index.html", "postmortem.html"} | {
        page_name(n) for n in studies if not n.startswith("postmortem")}
    assert pages == expected
    assert (out / "plotly.min.js").stat().st_size > 1_000_000
    for name in sorted(pages):
        html = (out / name).read_text()
        assert "https://" not in html and "http://" not in html.replace(
            "http://www.w3.org", "")  # nothing to fetch
        browser.open(out / name)
        assert browser.alert_text() is None, name
        figures = browser.script(
            "return Array.from(document.querySelectorAll('section.figure')).map(s => "
            "[s.querySelector('.plotly-graph-div')?.id, "
            "!!s.querySelector('.plotly-graph-div svg.main-svg')])")
        if name not in ("index.html", page_name(XSS)):
            assert len(figures) >= 4, (name, figures)
        assert all(rendered for _, rendered in figures), (name, figures)
        assert browser.console_errors() == [], name
        browser.screenshot(SHOTS / f"{Path(name).stem}.png")


def test_leaderboard_rows_in_the_page_equal_the_storage(filled, browser):
    for name, study in _studies(filled["url"]).items():
        if name.startswith("postmortem"):
            continue
        board = leaderboard(study, resolve_artifact_dir(filled["url"]))
        browser.open(filled["out"] / page_name(name))
        header, *rows = browser.script(
            "return Array.from(document.querySelectorAll('#leaderboard tr')).map(r => "
            "Array.from(r.children).map(c => c.textContent))")
        assert header == board.columns()
        assert rows == board.formatted(), name


def test_study_pages_show_the_task_figures_and_verdict_from_the_numbers(filled):
    studies = _studies(filled["url"])
    seeded = (filled["out"] / page_name("seeded-drift")).read_text()
    for figure in ("fig-task", "fig-attribution", "fig-predicted", "fig-history",
                   "fig-intermediate", "fig-importances", "fig-parallel", "fig-slice"):
        assert f'id="{figure}"' in seeded
    best = min((t for t in studies["seeded-drift"].trials if t.value is not None),
               key=lambda t: t.value)
    arch = best.params["architecture"]
    assert f"{arch} leads with {best.value:.4g} (trial {best.number})" in seeded
    assert f"a seed-4 slope of {best.user_attrs['seed4_slope']:.3g}" in seeded
    digitsum = (filled["out"] / page_name("digitsum-L10")).read_text()
    assert "Memory curve" in digitsum and "L=5 " in digitsum and "L=10 " in digitsum
    # the curve's sentence quotes each architecture's mean over its repeat seeds
    repeats = stored_repeats(studies["digitsum-L10"])
    assert repeats and all(f"L=10 {np.mean(r['test_accuracy']):.2f}" in digitsum
                           for r in repeats.values())
    # where the repeats err: their wrong answers, counted from the stored points
    assert 'id="fig-errors"' in digitsum
    artifacts = resolve_artifact_dir(filled["url"])
    for arch in repeats:
        wrong = wrong_next = 0
        for length in (5, 10):
            record = stored_repeats(studies[f"digitsum-L{length}"])[arch]
            missed = 1 - repeat_points(record, artifacts)
            after = DigitSumTask(length).splits().test.inputs[:, 2] != 0
            wrong, wrong_next = wrong + int(missed.sum()), wrong_next + int(missed[:, after].sum())
        assert (f"Where the {arch} errs (its repeats at L=5, 10, 5 seeds): {wrong_next} of its "
                f"{wrong} wrong test answers") in digitsum
    rainfall = (filled["out"] / page_name("rainfall")).read_text()
    assert "AutoReg(12)" in rainfall and "seasonal naive" in rainfall
    assert "actual Precipitation" in rainfall  # the CSV's target column names the series
    post = (filled["out"] / "postmortem.html").read_text()
    for fragment in ("pm0-question-original", "pm0-question-all-fixes", "pm0-conditioning",
                     "pm0-nmse", "The original setup"):
        assert fragment in post


def test_script_named_study_is_text_and_its_failure_is_shown(filled, browser):
    for page in ("index.html", page_name(XSS)):
        raw = (filled["out"] / page).read_text()
        assert XSS not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
        browser.open(filled["out"] / page)
        assert browser.alert_text() is None
        scripts = browser.script("return Array.from(document.scripts).map(s => s.text)")
        assert not any("alert(1)" in s for s in scripts)
        shown = browser.script("return document.body.innerText")
        assert XSS in shown
    assert browser.script("return document.querySelector('h1').textContent") == XSS
    errors = browser.script("return Array.from(document.querySelectorAll('#failed td pre'))"
                            ".map(e => e.textContent)")
    assert len(errors) == 1 and errors[0].startswith("TrainingDiverged")


def _get(app, path: str) -> dict[str, Any]:
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(PATH_INFO=path, REQUEST_METHOD="GET")
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, exc_info=None: status.append(s)))
    assert status[0].startswith("200"), status
    return json.loads(body)


def test_dashboard_shows_the_verdict_note_and_key_figures_and_a_rerun_replaces_them(filled):
    storage = open_storage(filled["url"], heartbeat_interval=None)
    app = wsgi(storage)
    ids = {s["study_name"]: s["study_id"] for s in _get(app, "/api/studies")["study_summaries"]}

    def shown() -> dict[str, Any]:
        detail = _get(app, f"/api/studies/{ids['seeded-drift']}")
        return {"note": detail["note"], "graphs": sorted(g["id"] for g in
                                                         detail["plotly_graph_objects"]),
                "artifacts": sorted(a["filename"] for a in detail["artifacts"])}

    before = shown()
    page = (filled["out"] / page_name("seeded-drift")).read_text()
    verdict_line = before["note"]["body"].splitlines()[2].removeprefix("- ")
    assert verdict_line.startswith("The study holds") and verdict_line in page
    assert before["graphs"] == ["seqtune-fig-attribution", "seqtune-fig-predicted",
                                "seqtune-fig-task"]
    figures = [a for a in before["artifacts"] if a.endswith(".plotly.json")]
    assert figures == ["fig-attribution.plotly.json", "fig-predicted.plotly.json",
                       "fig-task.plotly.json"]
    # and the repeats' per-point test results, one file per architecture
    assert any(a.startswith("repeat-points-") for a in before["artifacts"])
    xss_note = get_note(_studies(filled["url"])[XSS])
    assert XSS not in xss_note and "&lt;script&gt;" in xss_note
    write_report(filled["url"], filled["out"])
    assert shown() == before  # same note version, nothing piled up


def _start_report(filled: dict[str, Any]) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("seqtune")
    return subprocess.Popen([str(exe), "report", "--storage", filled["url"], "--out",
                             str(filled["out"])], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def _kill(proc: subprocess.Popen) -> bool:
    """SIGKILL ``proc``; whether it was still running."""
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return running


def test_killed_report_leaves_the_previous_pages_intact(filled):
    out = filled["out"]
    old = {p.name: p.read_bytes() for p in out.glob("*.html")}
    optuna.create_study(study_name="added-later", storage=filled["url"])  # pages will change

    # killed while rendering (half way through a run's measured time): nothing changed
    proc = _start_report(filled)
    time.sleep(filled["seconds"] / 2)
    assert _kill(proc), "the report finished before it was killed"
    assert {p.name: p.read_bytes() for p in out.glob("*.html")} == old

    # killed as soon as the first file is being replaced: each page is old or complete
    proc = _start_report(filled)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        names = {p.name for p in out.iterdir()}
        if any(n.startswith(".") for n in names) or any(
                (out / n).read_bytes() != old[n] for n in old if n in names):
            break
        time.sleep(0.002)
    _kill(proc)
    for page in out.glob("*.html"):
        data = page.read_bytes()
        assert data == old.get(page.name) or data.decode().rstrip().endswith("</html>"), page
    assert set(old) <= {p.name for p in out.glob("*.html")}

    write_report(filled["url"], out)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
    assert (out / page_name("added-later")).is_file()


def _page(filled, name: str):
    from seqtune.report._pages import load_view, study_page

    storage = open_storage(filled["url"])
    views = [load_view(storage, n, resolve_artifact_dir(filled["url"]))
             for n in (name, "digitsum-L5", "digitsum-L10")]
    return study_page(views[0], views)


def _trace_colour(trace) -> str | None:
    line = getattr(trace, "line", None)
    return (line.color if line is not None and line.color else None) or trace.marker.color


def test_one_colour_per_architecture_across_the_figures_of_a_page(filled):
    from seqtune.report._figures import ARCHITECTURE_COLORS, series_color

    for name in ("seeded-drift", "digitsum-L5"):
        seen: dict[str, set[str]] = {}
        figures: dict[str, set[str]] = {}
        for panel in _page(filled, name).panels:
            for trace in panel.figure.data:
                arch = next((a for a in ARCHITECTURE_COLORS if trace.name in (a, f"tuned {a}")),
                            None)
                if arch:
                    seen.setdefault(arch, set()).add(_trace_colour(trace))
                    figures.setdefault(arch, set()).add(panel.id)
        assert seen, name
        for arch, colours in seen.items():
            assert colours == {series_color(arch)}, (name, arch, colours)
        if name == "seeded-drift":  # task figures, history, intermediate values, slices
            assert all(len(ids) >= 4 for ids in figures.values()), figures


def test_mse_histories_are_on_log_axes_and_accuracy_is_not(filled):
    for name, log in (("seeded-drift", True), ("digitsum-L5", False)):
        panels = {p.id: p.figure for p in _page(filled, name).panels}
        for figure in ("fig-history", "fig-intermediate"):
            assert (panels[figure].layout.yaxis.type == "log") is log, (name, figure)


def test_figures_fit_the_page_width(filled, browser):
    from seqtune.report._figures import styled

    slices = next(p for p in _page(filled, "seeded-drift").panels if p.id == "fig-slice")
    assert "width" not in styled(slices.figure)["layout"]
    pages = [page_name("seeded-drift"), page_name("rainfall"), page_name("digitsum-L10"),
             "postmortem.html"]
    for name in pages:
        browser.open(filled["out"] / name)
        page, widest = browser.script(
            "return [document.documentElement.clientWidth, Math.max(...Array.from("
            "document.querySelectorAll('.plotly-graph-div .main-svg')).map("
            "s => s.getBoundingClientRect().right))]")
        assert widest <= page + 1, (name, widest, page)


#: a ratio of two numbers written with an exponent ("1.977e+10x"): a division by
#: a round-off-level number, which no page should show
ROUND_OFF_RATIO = re.compile(r"\d(?:\.\d+)?e[+]?\d+\s*(?:x|×|times)(?![\w-])")


def test_no_page_shows_a_ratio_against_a_round_off_baseline(filled):
    assert ROUND_OFF_RATIO.search("MSE 1.977e+10x the exact baseline's")
    for page in filled["out"].glob("*.html"):
        text = re.sub(r"<script.*?</script>", "", page.read_text(), flags=re.S)
        assert not ROUND_OFF_RATIO.search(text), (page.name, ROUND_OFF_RATIO.search(text))
