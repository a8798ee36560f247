"""The run report on a run directory that is still going and on a finished one."""

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raygen.report.page import write_report
from raygen.report.runinfo import read_lcurve, read_run
from raygen.state.lock import RunLock

LCURVE = """#  step      rmse_trn    rmse_e_trn    rmse_f_trn         lr
# If there is no available reference data, rmse_*_{val,trn} will print nan
      0      2.07e+00      9.63e-01      6.18e-02    1.0e-03
    100      1.00e+00      1.00e-01      3.00e-02    8.0e-04
    200      5.00e-01      5.00e-02      2.0"""  # a line being written


def make_run(root, iterations=2, finished=False):
    root.mkdir()
    (root / "raygen.yaml").write_text("select: {f_trust_lo: 0.05, f_trust_hi: 0.2}\n"
                                      "train: {numb_models: 2}\n")
    rng = np.random.default_rng(0)
    rec = []
    for ii in range(iterations):
        it = root / f"iter.{ii:06d}"
        (it / "00.train" / "000").mkdir(parents=True)
        (it / "00.train" / "000" / "lcurve.out").write_text(LCURVE)
        (it / "01.model_devi").mkdir()
        devs = rng.lognormal(np.log(0.08 / (ii + 1)), 0.5, 500)
        pq.write_table(pa.table({"max_devi_f": devs}),
                       it / "01.model_devi" / "model_devi.parquet")
        acc = float((devs < 0.05).mean() * 100)
        cand = float(((devs >= 0.05) & (devs < 0.2)).mean() * 100)
        (it / "summary.json").write_text(json.dumps({
            "iteration": ii, "stage": 0, "md_tasks": 4, "frames": 500, "accurate_pct": acc,
            "candidate_pct": cand, "failed_pct": 100 - acc - cand, "labels_added": 7 - ii,
            "train_s": 30.0, "explore_s": 20.0, "label_s": 5.0, "total_s": 57.0,
            "systems": {"0": {"f_trust": [0.05, 0.2]}}}))
        rec += [f"{ii} {j}" for j in range(9)]
    # the next iteration has started: trained, not summarised
    (root / f"iter.{iterations:06d}" / "00.train").mkdir(parents=True)
    rec += [f"{iterations} 0", f"{iterations} 1"]
    (root / "record.raygen").write_text("\n".join(rec) + "\n")
    if finished:
        (root / "models").mkdir()
        for m in range(2):
            (root / "models" / f"graph.{m:03d}.pb").write_bytes(b"x")
    return root


def test_lcurve_being_written_is_read_up_to_its_last_whole_line(tmp_path):
    (tmp_path / "lcurve.out").write_text(LCURVE)
    data = read_lcurve(tmp_path / "lcurve.out")
    assert list(data["step"]) == [0, 100] and data["rmse_f_trn"][1] == pytest.approx(0.03)


def test_a_run_still_going_says_where_it_is(tmp_path):
    run = make_run(tmp_path / "run")
    with RunLock(run):  # a live run holds the lock
        info = read_run(run)
    assert info.status == "running at iteration 2, after step 1 (run_train)"
    assert [s["iteration"] for s in info.summaries] == [0, 1]
    assert set(info.deviations) == {0, 1} and info.trust[0] == (0.05, 0.2)
    assert read_run(run).status.startswith("stopped at iteration 2")
    page = write_report(info, run / "report")
    text = page.read_text()
    assert "running at iteration 2" in text and "No property tests yet" in text
    for fig in ("outcomes.png", "deviation.png", "labels.png", "data.png", "walltime.png",
                "lcurve.png"):
        assert (run / "report" / fig).stat().st_size > 5000
    assert text.count("data:image/png;base64,") == 6  # no trust check yet: no such figure


def test_a_finished_run_with_property_tests(tmp_path):
    run = make_run(tmp_path / "run", finished=True)
    (run / "props").mkdir()
    (run / "props" / "props.json").write_text(json.dumps({
        "models": ["graph.000.pb", "graph.001.pb"], "reference": {"label": "emt"},
        "points_computed": 10, "points_cached": 0, "wall_s": 1.0, "figures": [], "errors": [],
        "table": [{"property": "elastic.C11_GPa", "reference": 172.6, "mean": 170.0,
                   "std": 2.0, "abs_error": -2.6, "rel_error": -0.015, "tolerance": "3%",
                   "pass": True}]}))
    proc = subprocess.run([sys.executable, "-m", "raygen.report", str(run)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("finished")
    text = (run / "report" / "index.html").read_text()
    assert "elastic.C11_GPa" in text and "-1.50 %" in text


def test_not_a_run_directory(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "raygen.report", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "not a raygen run directory" in proc.stderr


def add_run_details(run):
    """What a run with the newer steps leaves: frames per (system, T, P), the trust
    check, label outcomes, overhead, initial data."""
    for ii in range(2):
        fp = run / f"iter.{ii:06d}" / "02.fp"
        fp.mkdir(parents=True, exist_ok=True)
        (fp / "by_condition.json").write_text(json.dumps([
            {"sys_idx": 0, "temp": 300.0, "press": 1.0, "accurate": 80, "candidate": 15,
             "failed": 5},
            {"sys_idx": 0, "temp": 900.0, "press": 1.0, "accurate": 10, "candidate": 40,
             "failed": 50}]))
        (fp / "trust_check.json").write_text(json.dumps([
            {"fp_task": f"task.000.{k:06d}", "sys_idx": 0, "max_devi_f": d,
             "max_force_error": 1.3 * d, "rms_force_error": 0.5 * d}
            for k, d in enumerate((0.06, 0.1, 0.15))]))
        summary = json.loads((run / f"iter.{ii:06d}" / "summary.json").read_text())
        summary.update(label_status={"converged": 6, "scf_unconverged": 1, "late": 1},
                       labels_retried=2, labels_late=1, overhead_pct=3.5 + ii,
                       systems={"0": {"accurate": 90, "candidate": 55, "failed": 55,
                                      "f_trust": [0.05, 0.2]}})
        (run / f"iter.{ii:06d}" / "summary.json").write_text(json.dumps(summary))
    (run / "raygen.yaml").write_text("select: {f_trust_lo: 0.05, f_trust_hi: 0.2}\n"
                                     "train: {numb_models: 2}\nsystems: [{name: fcc}]\n")
    data = run / "init" / "data.fcc" / "Cu4" / "set.000"
    data.mkdir(parents=True)
    np.save(data / "box.npy", np.zeros((44, 9)))


def test_the_report_says_what_a_scientist_checks(tmp_path, monkeypatch):
    from raygen.report import page

    run = make_run(tmp_path / "run")
    add_run_details(run)
    info = read_run(run)
    assert info.init_frames == 44 and page.cumulative_frames(info) == [44 + 7, 44 + 7 + 6]
    text = write_report(info, run / "report").read_text()
    # label outcomes per iteration, the cumulative data, ovh %
    for col in ("converged", "retried", "failed", "late", "data", "ovh %"):
        assert f"<th>{col}</th>" in text, col
    assert "<td>51</td>" in text and "<td>3.5</td>" in text
    # per system and per (T, P)
    assert "By system and condition" in text and "<td class=l>fcc</td>" in text
    assert "<td>900</td>" in text
    # the trust check: figure and sentence
    assert (run / "report" / "trust_check.png").stat().st_size > 5000
    assert "rank correlation 1.00" in text
    # the deviation histogram: counts per bin, trust values written on the lines
    figs = []
    monkeypatch.setattr(page, "_save", lambda fig, path: figs.append(fig))
    assert page.deviation_figure(info, tmp_path / "d.png")
    ax = figs[0].axes[0]
    assert ax.get_ylabel() == "frames per bin"
    ys = np.concatenate([p.get_xy()[:, 1] for p in ax.patches])
    assert np.allclose(ys, np.round(ys)) and ys.max() > 1  # counts, not a density
    labels = [t.get_text() for t in ax.texts]
    assert any("trust_lo 0.05" in t for t in labels) and any("trust_hi 0.2" in t for t in labels)
    assert any("(500 frames)" in t.get_text() for t in ax.get_legend().get_texts())


def test_property_headline_counts_what_was_judged(tmp_path):
    run = make_run(tmp_path / "run", finished=True)
    (run / "props").mkdir()
    rows = [{"property": "a", "reference": 1.0, "mean": 1.0, "std": 0.0, "abs_error": 0.0,
             "rel_error": 0.0, "tolerance": "3%", "pass": True},
            {"property": "b", "reference": 1.0, "mean": 1.0, "std": 0.5, "abs_error": 0.0,
             "rel_error": 0.0, "tolerance": "3%", "pass": False, "fails_on": "spread"},
            {"property": "c", "reference": 0.0, "mean": 0.0, "std": 0.0, "abs_error": 0.0,
             "rel_error": None, "tolerance": "0.002", "pass": None,
             "note": "zero by construction"}]
    (run / "props" / "props.json").write_text(json.dumps({
        "models": ["graph.000.pb", "graph.001.pb"], "reference": {"label": "emt"},
        "points_computed": 1, "points_cached": 0, "wall_s": 1.0, "figures": [], "errors": [],
        "table": rows}))
    text = write_report(read_run(run), run / "report").read_text()
    assert "<b>1 of 2</b> judged values within tolerance" in text
    assert "no (spread)" in text and "zero by construction" in text
