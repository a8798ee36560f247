"""Hydra sweeps (``python -m raygen -m ...``): one run directory per member, and one
table comparing the members at the end.

    python -m raygen -m +exp=cu select.f_trust_lo=0.03,0.05 select.f_trust_hi=0.15,0.25

runs four members in ``cu_run/f_trust_lo_0.03-f_trust_hi_0.15`` ... (the swept keys
and values name the folder; a ``workdir`` that itself interpolates a swept key, as
``'workdir=sweep/lo_${select.f_trust_lo}'``, is kept as written) and ends with the
comparison in ``cu_run/sweep.json`` and on stdout.

Where the members run is the ``raygen`` Hydra launcher's choice
(``hydra_plugins/raygen_launcher``): with ``cluster.address`` set (a Ray cluster is
there), all members start at once, each its own ``python -m raygen`` driver
process connected to that one cluster, so Ray shares the cluster's GPUs and CPUs
between them; on a laptop (``cluster=local``) they run one after another in this
process (two embedded Ray instances would fight over the same cores).
``hydra.launcher.side_by_side=true|false`` forces either,
``hydra.launcher.max_parallel=N`` caps how many run at once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from hydra.experimental.callback import Callback

_SWEEP_FN = re.compile(r"^(range|choice|glob|interval|tag|sort|shuffle)\(")
MEMBERS: list[dict] = []  # this process's members, in order (filled by the driver)


def _top_level_comma(value: str) -> bool:
    depth = 0
    for ch in value:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            return True
    return False


def swept_keys(argv: list[str]) -> list[str]:
    """Keys of the command-line overrides that sweep (``k=a,b`` or ``k=range(...)``)."""
    keys = []
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, _, value = arg.partition("=")
        key = key.lstrip("+~")
        if _top_level_comma(value) or _SWEEP_FN.match(value):
            keys.append(key)
    return keys


def member_name(task_overrides: list[str], keys: list[str]) -> Optional[str]:
    """The folder of one member: its values of the swept keys, e.g.
    ``f_trust_lo_0.03-f_trust_hi_0.15`` (None when nothing is swept)."""
    parts = []
    for ov in task_overrides:
        key, _, value = ov.partition("=")
        key = key.lstrip("+~")
        if key in keys:
            short = key.split(".")[-1] if key.count(".") else key
            parts.append(f"{short}_{value}")
    if not parts:
        return None
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", "-".join(parts)).strip(".-") or "member"
    return name.replace("..", "_")


def member_workdir(workdir: str, argv: list[str], task_overrides: list[str]) -> str:
    """``workdir`` of a sweep member: the user's when they made it differ per member
    (it interpolates a swept key), else ``<workdir>/<member_name>``."""
    keys = swept_keys(argv)
    if "workdir" in keys or any(a.split("=", 1)[0].lstrip("+~") == "workdir" and "${" in a
                                for a in argv):
        return workdir
    name = member_name(task_overrides, keys)
    return str(Path(workdir) / name) if name else workdir


def member_record(workdir: str, overrides: dict[str, str]) -> dict[str, Any]:
    """What a member did, read back from its run directory."""
    from raygen.config.backend import frozen_models
    from raygen.state.workdir import RunDir

    rd = RunDir(Path(workdir))
    summaries = []
    ii = 0
    while rd.summary(ii).exists():
        summaries.append(json.loads(rd.summary(ii).read_text()))
        ii += 1
    models = frozen_models(rd.models) if rd.models.exists() else []
    holdout = rd.root / "holdout.json"  # python -m raygen.report.holdout ... --json
    scores = json.loads(holdout.read_text()) if holdout.exists() else {}
    score = scores.get("all") or next(iter(scores.values()), {})
    return {
        "workdir": workdir, **overrides,
        "iterations": len(summaries),
        "labels": sum(s.get("labels_added", 0) + s.get("late_labels_joined", 0)
                      for s in summaries),
        "accurate_ratio": summaries[-1]["accurate_ratio"] if summaries else None,
        "finished": bool(models),
        "holdout_force_rmse": score.get("f_rmse_eV_A"),
    }


def format_members(rows: list[dict], keys: list[str]) -> str:
    def fmt(v, spec):
        return format("-", spec.split(".")[0]) if v is None else format(v, spec)

    head = " ".join(f"{k.split('.')[-1]:>12}" for k in keys) + \
        f" {'iters':>5} {'labels':>6} {'acc%':>6} {'holdout_F':>9} {'done':>4}  workdir"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(" ".join(f"{str(r.get(k, '')):>12}" for k in keys)
                     + f" {r['iterations']:>5d} {r['labels']:>6d} "
                     f"{fmt(r['accurate_ratio'] and 100 * r['accurate_ratio'], '>6.2f')} "
                     f"{fmt(r['holdout_force_rmse'], '>9.4f')} "
                     f"{'yes' if r['finished'] else 'no':>4}  {r['workdir']}")
    return "\n".join(lines)


def replace_workdir(overrides: Sequence[str], workdir: str) -> list[str]:
    """A member's command-line overrides with its own run directory."""
    return [o for o in overrides
            if o.partition("=")[0].lstrip("+~") != "workdir"] + [f"workdir={workdir}"]


def _relay(stream, prefix: str, sink, tail: list[str]) -> None:
    for line in iter(stream.readline, ""):
        sink.write(f"[{prefix}] {line}")
        sink.flush()
        tail.append(line)
        del tail[:-40]


def run_side_by_side(members: Sequence[tuple[str, list[str]]],
                     max_parallel: Optional[int] = None) -> list[tuple[int, str]]:
    """Run each member (its name and its overrides) as its own ``python -m raygen``
    process, at most ``max_parallel`` at once (None: all), their output relayed
    with the member's name in front. Returns each member's exit code and the tail
    of its output, in order."""
    limit = max_parallel or len(members)
    results: list[Optional[tuple[int, str]]] = [None] * len(members)
    gate = threading.Semaphore(limit)

    def one(k: int, name: str, overrides: list[str]) -> None:
        with gate:
            proc = subprocess.Popen(
                [sys.executable, "-m", "raygen", *overrides], stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            tail: list[str] = []
            _relay(proc.stdout, name, sys.stdout, tail)
            results[k] = (proc.wait(), "".join(tail))

    threads = [threading.Thread(target=one, args=(k, n, o), daemon=True)
               for k, (n, o) in enumerate(members)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r if r is not None else (1, "") for r in results]


class CompareMembers(Callback):
    """At the end of a sweep, one table of its members (and ``sweep.json`` in the
    common run directory)."""

    def on_multirun_start(self, config, **kwargs) -> None:
        # Hydra's sweeper writes multirun.yaml into the sweep dir (the start directory)
        self._hydra_record = Path(config.hydra.sweep.dir) / "multirun.yaml"
        self._had_record = self._hydra_record.exists()

    def _tidy(self, common: Path | None) -> None:
        """Hydra's multirun.yaml into the sweep's run directory, not the start one."""
        record = getattr(self, "_hydra_record", None)
        if record is None or self._had_record or not record.exists():
            return
        if common is not None:
            record.replace(common / "multirun.yaml")
        else:
            record.unlink()

    def on_multirun_end(self, config, **kwargs) -> None:
        import os
        import sys

        if not MEMBERS:
            self._tidy(None)
            return
        keys = swept_keys(sys.argv[1:])
        rows = [member_record(m["workdir"], m["overrides"]) for m in MEMBERS]
        table = format_members(rows, keys)
        common = os.path.commonpath([m["workdir"] for m in MEMBERS])
        Path(common).mkdir(parents=True, exist_ok=True)
        (Path(common) / "sweep.json").write_text(json.dumps(rows, indent=1))
        self._tidy(Path(common))
        print(f"\nsweep of {len(rows)} members ({Path(common) / 'sweep.json'}):\n{table}",
              flush=True)
