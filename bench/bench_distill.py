"""Distillation: a fine-tuned DPA-3 teaches a small compressed se_e2_a student through the
loop (``label=deepmd``); the student's held-out error against the teacher's, and its MD
speed against the teacher's.

    python bench/bench_distill.py --teacher <run>/models/graph.000.pth [--steps 2000]

The teacher: any frozen ``.pth`` (the benchmark's own is a fine-tuned run of
``bench/bench_finetune.py``, ``<work>/finetune_s0/models/graph.000.pth``). The student:
``+exp=cu_smoke train=se_e2_a label=deepmd label.model=<teacher>`` — initial data,
labels and everything the student learns from come from the teacher; the MD model is
compressed (``dp compress``). Scored on ``raygen.examples.cu_holdout`` (EMT truth:
what both should reproduce) and on the same frames labelled by the teacher (what the
student was taught); MD: 32-atom fcc Cu NPT 600 K in raygen's in-process LAMMPS, one
thread (``bench/bench_backends.py``'s measurement), teacher as trained (DPA-3 cannot be
compressed), student compressed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_backends import run_child  # noqa: E402  (the MD speed, one process each)


def teacher_labelled(holdout: Path, teacher: Path, out: Path) -> list[Path]:
    """The held-out frames, labelled by the teacher (deepmd/npy, one folder per set)."""
    import dpdata
    from deepmd.calculator import DP

    from raygen.science.dataset import labelled_copy, write_deepmd_npy

    calc = DP(str(teacher))
    dirs = []
    for src in sorted(p.parent for p in holdout.glob("*/*/type.raw")):
        system = dpdata.LabeledSystem(str(src), fmt="deepmd/npy")
        frames = []
        for atoms in system.to("ase/structure"):
            atoms.calc = calc
            frames.append(labelled_copy(atoms))
        dst = out / src.parent.name / src.name
        write_deepmd_npy(frames, ["Cu"], dst.parent)
        dirs.append(dst.parent)
    return sorted(set(dirs))


def holdout_score(models: Path, data: list[Path], out: Path) -> dict:
    subprocess.run([sys.executable, "-m", "raygen.report.holdout", str(models),
                    *map(str, data), "--json", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())["all"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", type=Path, required=True, help="the teacher's frozen .pth")
    ap.add_argument("--steps", type=int, default=2000, help="student training steps")
    ap.add_argument("--md-steps", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    work = args.out or Path(tempfile.mkdtemp(prefix="bench_distill_"))
    work.mkdir(parents=True, exist_ok=True)
    teacher = args.teacher.resolve()
    student = work / "student"
    with open(work / "student.log", "w") as log:
        subprocess.run([sys.executable, "-m", "raygen", "+exp=cu_smoke", "train=se_e2_a",
                        f"train.numb_steps={args.steps}", "label=deepmd",
                        f"label.model={teacher}", f"workdir={student}"],
                       check=True, stdout=log, stderr=subprocess.STDOUT,
                       env={**os.environ, "HOME": str(work)})
    holdout = work / "cu_holdout"
    if not holdout.exists():
        subprocess.run([sys.executable, "-m", "raygen.examples.cu_holdout", str(holdout)],
                       check=True, stdout=subprocess.DEVNULL)
    sets = sorted(holdout.iterdir())
    taught = teacher_labelled(holdout, teacher, work / "holdout_teacher")
    result = {
        "student_vs_emt": holdout_score(student / "models", sets, work / "s_emt.json"),
        "teacher_vs_emt": holdout_score(teacher, sets, work / "t_emt.json"),
        "student_vs_teacher": holdout_score(student / "models", taught, work / "s_t.json"),
    }
    compressed = sorted((student / "models").parent.glob(
        "iter.*/00.train/graph.000.compressed.pb"))[-1]
    result["md_steps_per_s"] = {
        "teacher (dpa3, pt)": run_child("--what", "md", "--backend", "pt", "--graph",
                                        str(teacher), "--md-steps", str(args.md_steps),
                                        threads=1)["md_steps_per_s"],
        "student (se_e2_a, tf, compressed)": run_child(
            "--what", "md", "--backend", "tf", "--graph", str(compressed), "--md-steps",
            str(args.md_steps), threads=1)["md_steps_per_s"],
    }
    from raygen.science.dataset import count_frames, deepmd_systems

    result["student_labels"] = {
        "initial": count_frames(s for d in (student / "init").glob("data.*")
                                for s in deepmd_systems(d)),
        "selected": count_frames(s for d in student.glob("iter.*/02.fp/data.[0-9][0-9][0-9]")
                                 for s in deepmd_systems(d))}
    (work / "distill.json").write_text(json.dumps(result, indent=1))
    print(f"work folder: {work}; the student learnt from {result['student_labels']} "
          "teacher labels")
    print("| model | held-out F RMSE vs EMT (eV/Å) | E RMSE vs EMT (meV/atom) "
          "| F RMSE vs teacher (eV/Å) | MD steps/s |")
    print("|---|---|---|---|---|")
    md = list(result["md_steps_per_s"].values())
    print(f"| teacher (DPA-3, fine-tuned) | {result['teacher_vs_emt']['f_rmse_eV_A']:.4f} | "
          f"{result['teacher_vs_emt']['e_rmse_meV_atom']:.1f} | — | {md[0]} |")
    print(f"| student (se_e2_a, compressed) | {result['student_vs_emt']['f_rmse_eV_A']:.4f} | "
          f"{result['student_vs_emt']['e_rmse_meV_atom']:.1f} | "
          f"{result['student_vs_teacher']['f_rmse_eV_A']:.4f} | {md[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
