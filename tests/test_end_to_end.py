"""The whole loop through the command line: real deepmd-kit, LAMMPS, Ray and EMT."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from raygen.science.dataset import count_frames, deepmd_systems
from raygen.science.deviation import MODEL_DEVI_HEADER
from raygen.state.record import last_record

pytestmark = pytest.mark.slow


def raygen_cmd(workdir: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "raygen", "+exp=cu_smoke", f"workdir=\"{workdir}\"",
            "progress=false", *overrides]


def env_for(tmp_path: Path) -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def records(workdir: Path) -> list[tuple[int, int]]:
    return [tuple(map(int, line.split())) for line in
            (workdir / "record.raygen").read_text().splitlines()]


def test_two_iterations_leave_a_dpgen_run_directory(tmp_path):
    """Started from an empty directory, with a run directory whose path has spaces
    and a group-writable umask: every file lands in the run directory, readable by
    the group, and the run is a DP-GEN run directory with frames and labels."""
    start = tmp_path / "start here"
    start.mkdir()
    run = tmp_path / "my run (Cu)"
    proc = subprocess.run(raygen_cmd(run, "max_iter=2"), cwd=start, env=env_for(tmp_path),
                          capture_output=True, text=True, timeout=1200,
                          preexec_fn=lambda: os.umask(0o002))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list(start.iterdir()) == [], "nothing is written outside the run directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my run (Cu)", "start here"]
    assert (run / "iter.000000/01.model_devi/task.000.000000/log.lammps").exists()
    # the MD is driven by the first model, compressed (explore.compress)
    assert "graph.000.compressed.pb" in (
        run / "iter.000000/01.model_devi/task.000.000000/in.lammps").read_text()
    assert (run / "iter.000000/00.train/graph.000.compressed.pb").stat().st_size > 0
    assert (run / "iter.000000/summary.json").stat().st_mode & 0o777 == 0o664
    assert (run / "record.raygen").stat().st_mode & 0o777 == 0o664
    recs = records(run)
    assert recs[:18] == [(i, j) for i in range(2) for j in range(9)]
    for ii in range(2):
        it = run / f"iter.{ii:06d}"
        for m in range(4):
            assert (it / "00.train" / f"graph.{m:03d}.pb").stat().st_size > 0
            assert (it / "00.train" / f"{m:03d}" / "lcurve.out").exists()
        tasks = sorted((it / "01.model_devi").glob("task.*"))
        assert len(tasks) == 4
        n_frames = 0
        for t in tasks:
            lines = (t / "model_devi.out").read_text().splitlines()
            assert lines[0] == MODEL_DEVI_HEADER
            n_frames += len(lines) - 1
        summary = json.loads((it / "summary.json").read_text())
        fp = it / "02.fp"
        listed = sum(len(p.read_text().splitlines()) for kind in
                     ("candidate", "rest_accurate", "rest_failed")
                     for p in fp.glob(f"{kind}.shuffled.*.out"))
        assert listed == n_frames == summary["frames"]
        assert summary["accurate"] + summary["candidate"] + summary["failed"] == n_frames
        assert count_frames(deepmd_systems(fp)) == summary["labels_added"]
        assert summary["labels_added"] <= 10 * 2  # fp_task_max per system
        for step in ("train_s", "explore_s", "label_s"):
            assert summary[step] > 0
        # the orchestration overhead, from the compute measured in the workers
        assert set(summary["compute"]) == {"run_train", "make_model_devi", "run_model_devi",
                                           "run_fp"}  # make_model_devi: dp compress
        assert summary["compute"]["run_train"]["tasks"] == 4
        assert summary["compute"]["run_model_devi"]["tasks"] == len(tasks)
        assert 0 < summary["compute_s"] <= summary["total_s"]
        assert summary["overhead_pct"] == pytest.approx(
            100 * (summary["total_s"] - summary["compute_s"]) / summary["total_s"])
        first = (fp / "candidate.shuffled.000.out").read_text().split()
        if first:
            assert (run / first[0] / "model_devi.out").exists()
    # labels of iteration 0 are training data of iteration 1
    inp = json.loads((run / "iter.000001/00.train/000/input.json").read_text())
    systems = inp["training"]["training_data"]["systems"]
    assert any("iter.000000/02.fp/data." in s for s in systems) == (
        json.loads((run / "iter.000000/summary.json").read_text())["labels_added"] > 0)
    assert sorted(p.name for p in (run / "models").iterdir()) == [
        f"graph.{m:03d}.pb" for m in range(4)] + ["manifest.json"]
    log = (run / "raygen.log").read_text()
    assert "acc%" in log and "iteration 1 done" in log
    assert sum(json.loads((run / f"iter.{i:06d}/summary.json").read_text())["frames"]
               for i in range(2)) > 0
    # the same command again: nothing to do, it says so and shows the table
    again = subprocess.run(raygen_cmd(run, "max_iter=2"), cwd=start, env=env_for(tmp_path),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "run already finished (2 iterations)" in again.stderr
    assert "acc%" in again.stderr
    # a production training of the final ensemble (train.final), which a finished
    # run still owes once asked for, then its property tests (the loop's props step)
    # and the run report
    iteration_models = mtimes((run / "iter.000002/00.train").glob("graph.*.pb"))
    final_args = ("train.final.numb_steps=200", "+train.final.input={loss:{limit_pref_v:5}}",
                  "props.enabled=true", "props.a=3.61",
                  "props.properties=[equilibrium,eos,elastic,vacancy,stacking_fault,phonon]",
                  "props.phases=[fcc,hcp,bcc]")
    props = subprocess.run(raygen_cmd(run, "max_iter=2", *final_args), cwd=start,
                           env=env_for(tmp_path), capture_output=True, text=True, timeout=900)
    assert props.returncode == 0, props.stderr[-3000:]
    assert "final training: 4 models, 200 steps each" in props.stderr
    assert "property tests of the final ensemble" in props.stderr
    made = json.loads((run / "models" / "final_train.json").read_text())
    # the loop's own final training (iteration 2, on all labels) has the same data
    assert made["settings"]["numb_steps"] == 200 and made["data_iteration"] == 2
    final_dir = run / made["from"]
    for m in range(4):
        inp = json.loads((final_dir / f"{m:03d}" / "input.json").read_text())
        assert inp["training"]["numb_steps"] == 200 and inp["loss"]["limit_pref_v"] == 5
        assert (inp["training"]["training_data"]["systems"] == json.loads(
            (run / "iter.000002/00.train" / f"{m:03d}" / "input.json").read_text())
            ["training"]["training_data"]["systems"]), "all the run's labels"
        assert (run / "models" / f"graph.{m:03d}.pb").read_bytes() == (
            final_dir / f"graph.{m:03d}.pb").read_bytes()
        assert "200" in (final_dir / f"{m:03d}" / "lcurve.out").read_text().splitlines()[-1]
    assert mtimes((run / "iter.000002/00.train").glob("graph.*.pb")) == iteration_models
    same = subprocess.run(raygen_cmd(run, "max_iter=2", *final_args), cwd=start,
                          env=env_for(tmp_path), capture_output=True, text=True, timeout=300)
    assert same.returncode == 0 and "run already finished" in same.stderr
    assert "final training" not in same.stderr
    rec = json.loads((run / "props" / "props.json").read_text())
    assert rec["models"] == [f"graph.{m:03d}.pb" for m in range(4)] and not rec["errors"]
    row = next(r for r in rec["table"] if r["property"] == "elastic.C11_GPa")
    assert len(row["models"]) == 4 and row["std"] > 0  # four models, their spread
    assert {"eos.png", "phonon.png", "stacking_fault.png", "parity.png"} <= set(rec["figures"])
    report = subprocess.run([sys.executable, "-m", "raygen.report", str(run)], cwd=start,
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "finished" in report.stdout
    check_report_in_browser(run / "report" / "index.html", tmp_path / "shot.png")
    assert list(start.iterdir()) == []


def check_report_in_browser(page: Path, shot: Path) -> None:
    """Open the report in headless Chromium; its screenshot shows the plots (many
    coloured pixels: text and tables are black and grey)."""
    import shutil

    from PIL import Image

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no Chromium (.ci/run installs Debian's chromium)")
    html = page.read_text()
    assert html.count("data:image/png;base64,") >= 8  # self-contained: figures inside
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", f"--screenshot={shot}", "--window-size=1200,6000",
                    page.as_uri()], capture_output=True, timeout=120, check=True)
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    coloured = (img.max(axis=2) - img.min(axis=2)) > 60
    content = np.nonzero((img.min(axis=2) < 240).any(axis=1))[0]
    end = int(content.max()) + 1
    assert end > 2500, f"the page is only {end} px tall: figures missing"
    # the run's figures at the top, the property figures (EOS bands, phonon lines,
    # the fault line) in the last part of the page, below the property table
    top, bottom = coloured[: int(0.4 * end)].mean(), coloured[int(0.6 * end):end].mean()
    assert top > 0.02, f"only {top:.3%} coloured pixels among the run's figures"
    assert bottom > 0.003, f"only {bottom:.3%} coloured pixels among the property figures"


def wait_for(predicate, proc, timeout=600.0, poll=0.05):
    start = time.time()
    while time.time() - start < timeout:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(poll)
    return False


def processes_in(root: Path) -> list[str]:
    """Command lines of live processes whose working directory is inside ``root``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cwd.startswith(str(root)) and int(pid) != os.getpid():
            found.append(cmd)
    return found


def kill_run(proc, run: Path):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while processes_in(run) and time.time() < deadline:
        time.sleep(0.5)
    # no orphan (a `dp train`, an MD task) keeps writing into the run directory
    assert processes_in(run) == []


def mtimes(paths):
    return {str(p): p.stat().st_mtime_ns for p in paths}


def kill_9_when(cmd, cwd: Path, run: Path, ready) -> None:
    """Start the run ``cmd``, ``kill -9`` its process group once ``ready()``; no orphan
    keeps writing into ``run``."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env_for(cwd), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(ready, proc)
    kill_run(proc, run)


def test_kill_9_and_resume_redoes_nothing_finished(tmp_path):
    run = tmp_path / "run"
    # longer MD so the second kill lands inside the exploration stage (the compressed
    # MD model runs 1500 steps fast enough for all four tasks to end before the kill)
    cmd = raygen_cmd(run, "max_iter=1", "explore.jobs.0.nsteps=5000")
    env = env_for(tmp_path)
    train = run / "iter.000000" / "00.train"

    # 1. kill -9 while the ensemble trains: some models frozen, others not
    kill_9_when(cmd, tmp_path, run, lambda: (train / "graph.000.pb").exists())
    done_models = sorted(train.glob("graph.*.pb"))
    assert 0 < len(done_models) < 4
    before = mtimes(done_models + [run / "init" / "data.fcc" / "done"])

    # 2. resume; kill -9 again in the middle of the MD
    md = run / "iter.000000" / "01.model_devi"
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: len(list(md.glob("task.*/traj.parquet"))) >= 1, proc)
    kill_run(proc, run)
    assert mtimes(done_models) == {k: v for k, v in before.items() if "graph" in k}
    done_md = sorted(md.glob("task.*/traj.parquet"))
    assert 0 < len(done_md) < 4, "the kill should land inside the MD stage"
    before.update(mtimes(done_md + sorted(train.glob("graph.*.pb"))))
    assert last_record(run / "record.raygen", 9) == (0, 3)

    # 3. resume to the end: nothing that was finished is redone
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert mtimes(Path(p) for p in before) == before
    assert records(run)[-1][0] >= 0 and (0, 8) in records(run)
    log = (run / "raygen.log").read_text()
    assert "resuming at iteration 0, step 1" in log or "resuming at iteration 0, step 0" in log
    assert "resuming at iteration 0, step 4" in log
    # each model was frozen exactly once
    assert len(list(train.glob("graph.[0-9][0-9][0-9].pb"))) == 4
    assert np.all([p.stat().st_size > 0 for p in train.glob("graph.[0-9][0-9][0-9].pb")])


def test_sigterm_stops_the_run_promptly_and_cleanly(tmp_path):
    """What Ctrl-C, scancel or a Slurm time limit do: the driver stops within
    seconds, says how to resume, and Ray and every worker (a `dp train`
    included) go with it."""
    run = tmp_path / "run"
    proc = subprocess.Popen(raygen_cmd(run, "max_iter=1"), cwd=tmp_path, env=env_for(tmp_path),
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / "stderr.txt", "w"))
    train = run / "iter.000000" / "00.train"
    assert wait_for(lambda: any(train.glob("00*/lcurve.out")), proc)
    # the same run started again while this one works in its directory: refused at once
    second = subprocess.run(raygen_cmd(run, "max_iter=1"), cwd=tmp_path, env=env_for(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 1, second.stderr[-2000:]
    assert f"is in use by process {proc.pid} on host" in second.stderr
    proc.send_signal(signal.SIGTERM)  # the driver only, as scancel/Slurm would
    start = time.time()
    proc.wait(timeout=60)
    assert time.time() - start < 30
    err = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == 130 and "run the same command to resume" in err
    deadline = time.time() + 30
    while processes_in(run) and time.time() < deadline:
        time.sleep(0.5)
    assert processes_in(run) == []
    assert last_record(run / "record.raygen", 9) in (None, (0, 0))


@pytest.mark.parametrize("after_s", [1.0, 2.5, 4.0])
def test_sigterm_while_starting_is_a_clean_stop_too(tmp_path, after_s):
    """A SIGTERM while the config is checked or Ray starts (Ray's own handler is in place
    then): exit 130 with raygen's line, not Ray's stack dump or a bare 143/134."""
    run = tmp_path / "run"
    proc = subprocess.Popen(raygen_cmd(run, "max_iter=1"), cwd=tmp_path, env=env_for(tmp_path),
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(after_s)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "raygen: interrupted; finished work is kept" in err and "Traceback" not in err
    deadline = time.time() + 30
    while processes_in(run) and time.time() < deadline:
        time.sleep(0.5)
    assert processes_in(run) == []


def holding_files_below(root: Path) -> list[int]:
    """PIDs of this user's processes with a file open below ``root``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if any(link.startswith(f"{root}/") for link in links):
            found.append(int(pid))
    return found


def test_a_restart_ends_what_a_killed_driver_left_behind_and_nothing_else(tmp_path):
    """kill -9 of the driver alone leaves Ray's agents running (ppid 1, deaf to
    SIGTERM); the next start of the same run directory ends them, and never another
    run's Ray."""
    from raygen.cluster import local_ray_dir

    run = tmp_path / "run"
    proc = subprocess.Popen(raygen_cmd(run, "max_iter=1"), cwd=tmp_path, env=env_for(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: any((run / "iter.000000" / "00.train").glob("00*/lcurve.out")),
                    proc)
    proc.kill()  # the driver only
    proc.wait()
    ray_dir = local_ray_dir(run)
    time.sleep(8)
    left = holding_files_below(ray_dir)
    assert left, "nothing was left behind to end"
    other_dir = local_ray_dir(tmp_path / "another_run")
    other_dir.mkdir(parents=True, exist_ok=True)
    other = subprocess.Popen(["bash", "-c", f'exec 3>"{other_dir}/x.log"; '
                              f'exec -a "ray::DashboardAgent" sleep 300'])
    near = subprocess.Popen(["bash", "-c", f'exec -a "agent --temp-dir={ray_dir}x" sleep 300'])
    try:
        again = subprocess.run(raygen_cmd(run, "max_iter=0"), cwd=tmp_path,
                               env=env_for(tmp_path), capture_output=True, text=True,
                               timeout=600)
        assert again.returncode == 0, again.stderr[-2000:]
        assert "an earlier run of this directory left behind" in again.stderr
        time.sleep(1)
        assert [p for p in left if Path(f"/proc/{p}").exists()
                and b"zombie" not in Path(f"/proc/{p}/status").read_bytes().lower()] == []
        assert other.poll() is None and near.poll() is None, "another run's process was hit"
    finally:
        for p in (other, near):
            p.kill()
            p.wait()


def worker_pids(name: str) -> list[int]:
    """PIDs of Ray worker processes running actor class ``name`` (by process title)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        if title.startswith(f"ray::{name}"):
            found.append(int(pid))
    return found


KILLED_WORKERS = {  # cluster.lanes: the process titles of the worker killed in each phase
    "false": ("Trainer", "Explorer", "Evaluator"),
    "true": ("Lane.train", "Lane.run", "Lane.evaluate"),
}


@pytest.mark.parametrize("lanes", sorted(KILLED_WORKERS))
def test_killed_workers_do_not_hang_the_run(tmp_path, lanes):
    """kill -9 of a Trainer, an Explorer and an Evaluator worker on a 2-CPU local
    cluster — or of a warm lane while it trains, runs MD and evaluates: each is
    replaced (or restarted by Ray) and the run completes in bounded time."""
    run = tmp_path / "run"
    cmd = raygen_cmd(run, "max_iter=1", "explore.jobs.0.nsteps=1500", "cluster.num_cpus=2",
                     f"cluster.lanes={lanes}")
    train, md_, evaluate = KILLED_WORKERS[lanes]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env_for(tmp_path), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "err.txt", "w"))
    md = run / "iter.000000" / "01.model_devi"
    killed = []
    try:
        for name, ready in (
                (train, lambda: any(run.glob("iter.000000/00.train/00*/lcurve.out"))),
                (md_, lambda: any(md.glob("task.*/traj.parquet"))),
                (evaluate, lambda: bool(worker_pids(evaluate)))):
            assert wait_for(lambda r=ready, n=name: r() and worker_pids(n), proc, timeout=900), \
                f"no {name} to kill: " + (tmp_path / "err.txt").read_text()[-2000:]
            pid = worker_pids(name)[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(name)
        proc.wait(timeout=900)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    err = (tmp_path / "err.txt").read_text()
    assert proc.returncode == 0, err[-3000:]
    assert killed == list(KILLED_WORKERS[lanes])
    assert (0, 8) in records(run) and len(list(md.glob("task.*/model_devi.out"))) == 4


def test_a_run_whose_md_all_fails_is_an_error_with_the_reason(tmp_path):
    """Every MD task stops with a LAMMPS error (a 30 Å neighbor skin overflows its
    neighbor lists): the run stops with exit 1 and says why, instead of finishing
    with nothing done. numb_steps=150 (not a multiple of disp_freq) trains and
    freezes on the way."""
    run = tmp_path / "run"
    proc = subprocess.run(raygen_cmd(run, "max_iter=1", "train.numb_steps=150",
                                     "explore.neigh_skin=30"),
                          cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "raygen: iter 0: all 4 MD tasks failed; task.000.000000:" in proc.stderr
    assert "Neighbor list overflow" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Traceback" in (run / "raygen.log").read_text()
    assert len(list(run.glob("iter.000000/00.train/graph.[0-9][0-9][0-9].pb"))) == 4


@pytest.mark.skipif(not Path("/usr/bin/python3").exists() or subprocess.run(
    ["/usr/bin/python3", "-c", "import gpaw"], capture_output=True).returncode != 0,
    reason="GPAW (Debian's gpaw, gpaw-data) is installed by .ci/run")
def test_two_iterations_with_real_dft_from_the_first_frame(tmp_path):
    """cu_dft, trimmed: initial data, then two iterations of labels, all by GPAW."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "raygen", "+exp=cu_dft", f"workdir={run}", "progress=false",
           "max_iter=2", "init.systems=[fcc,bcc]", "init.scales=[1.0,0.96]", "init.n_perturb=2",
           "train.numb_steps=300", "train.init_model_numb_steps=200", "select.fp_task_max=2",
           "explore.jobs.0.temps=[600]", "explore.jobs.1.temps=[600]"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env_for(tmp_path), capture_output=True,
                          text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert count_frames(deepmd_systems(run / "init")) == 8
    for ii in range(2):
        summary = json.loads((run / f"iter.{ii:06d}/summary.json").read_text())
        labelled = count_frames(deepmd_systems(run / f"iter.{ii:06d}/02.fp"))
        assert labelled == summary["labels_added"] == summary["label_status"].get("converged", 0)
        for t in (run / f"iter.{ii:06d}/02.fp").glob("task.*"):
            assert (t / "gpaw.txt").exists() and (t / "outcome.json").exists()
    assert len(list((run / "models").glob("graph.*.pb"))) == 4


LATE_EXP = """\
# @package _global_
# cu_smoke labelled by the user's own program (label=custom): EMT in a script that
# takes 25 s for every other labelling task of the iterations
defaults:
  - override /label: custom
workdir: late_run
type_map: [Cu]
systems:
  - {name: fcc, crystal: fcc, a: 3.59, supercell: [2, 2, 2], n_confs: 2, relax: false}
  - {name: bcc, crystal: bcc, a: 2.87, supercell: [2, 2, 2], n_confs: 2, relax: false}
init: {systems: [fcc, bcc], scales: [1.0, 0.96], n_perturb: 2, md_steps: 0}
train: {numb_steps: 300}
explore:
  jobs:
    - {sys_idx: [0, 1], temps: [300], press: [1.0], ensemble: npt, nsteps: 300, trj_freq: 10}
    - {sys_idx: [0, 1], temps: [600], press: [1000.0], ensemble: nvt, nsteps: 300, trj_freq: 10}
select: {fp_task_max: 5, converge_accurate_ratio: null}
label: {proceed_ratio: 0.5}
"""

SLOW_EMT = """\
import os, time
from ase.calculators.emt import EMT
from ase.io import read, write
here = os.getcwd()
if "02.fp" in here and int(here[-1]) % 2:
    time.sleep(25)
atoms = read("input.extxyz")
atoms.calc = EMT()
atoms.get_potential_energy(); atoms.get_forces(); atoms.get_stress()
write("output.extxyz", atoms)
"""


def test_late_labels_survive_kill_9_and_each_joins_the_data_once(tmp_path):
    """label.proceed_ratio=0.5: iteration 1 trains while half of iteration 0's
    labels still run; kill -9 then, resume: every label is in exactly one training
    data set, no finished label is redone, and the final training waited for all."""
    (tmp_path / "conf" / "exp").mkdir(parents=True)
    (tmp_path / "conf" / "exp" / "late.yaml").write_text(LATE_EXP)
    (tmp_path / "slow_emt.py").write_text(SLOW_EMT)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "raygen", "--config-dir", str(tmp_path / "conf"),
           "+exp=late", f"workdir={run}", "progress=false",
           f"label.command={sys.executable} {tmp_path / 'slow_emt.py'}"]
    fp0 = run / "iter.000000" / "02.fp"

    def late_still_running():
        try:
            late = json.loads((fp0 / "collected.json").read_text())["late"]
        except (OSError, ValueError, KeyError):
            return False
        return any(not (fp0 / e["fp_task"] / "outcome.json").exists() for e in late)

    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env_for(tmp_path), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(late_still_running, proc, timeout=900), "no late labels to kill"
    kill_run(proc, run)
    late = json.loads((fp0 / "collected.json").read_text())["late"]
    finished = mtimes(sorted(run.glob("iter.*/02.fp/task.*/outcome.json")))
    assert any(not (fp0 / e["fp_task"] / "outcome.json").exists() for e in late)

    proc = subprocess.run(cmd, cwd=tmp_path, env=env_for(tmp_path), capture_output=True,
                          text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((run / "models").glob("graph.*.pb"))) == 4
    assert mtimes(Path(p) for p in finished) == finished  # nothing finished is redone
    outcomes = [json.loads(p.read_text())["status"]
                for p in run.glob("iter.*/02.fp/task.*/outcome.json")]
    selected = sum(len(json.loads(p.read_text())["tasks"])
                   for p in run.glob("iter.*/02.fp/selection.json"))
    assert len(outcomes) == selected, "every selected frame was labelled"
    in_data = sum(count_frames(deepmd_systems(p)) for p in run.glob("iter.*/02.fp/data.*"))
    late_data = sum(count_frames(deepmd_systems(p))
                    for p in run.glob("iter.*/00.train/data.late.*"))
    assert late_data >= 1
    assert in_data + late_data == outcomes.count("converged"), "each label joins once"
    joined = [e["fp_task"] for p in run.glob("iter.*/00.train/late_labels.json")
              for e in json.loads(p.read_text())["collected"] if e["iteration"] == 0]
    assert sorted(joined) == sorted(e["fp_task"] for e in late)
    assert "late labelling tasks of earlier iterations submitted again" in \
        (run / "raygen.log").read_text()
