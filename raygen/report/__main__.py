"""``python -m raygen.report <workdir> [--out DIR]``: one self-contained HTML page
of a run (finished or still going): where it is, accurate/candidate/failed and
labels per iteration, the model-deviation distribution of every iteration with the
trust levels, wall time of each step, learning curves, and the property tests when
``<workdir>/props/props.json`` exists. Written to ``<workdir>/report/index.html``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from raygen.report.page import write_report
    from raygen.report.runinfo import read_run
    from raygen.state.workdir import RunDir

    ap = argparse.ArgumentParser(prog="python -m raygen.report", description=__doc__.split("\n")[0])
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="default: <workdir>/report")
    args = ap.parse_args(argv)
    try:
        info = read_run(args.workdir)
    except ValueError as err:
        print(f"raygen.report: {err}", file=sys.stderr)
        return 2
    page = write_report(info, args.out or RunDir(args.workdir).report)
    print(f"{info.status}\nreport: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
