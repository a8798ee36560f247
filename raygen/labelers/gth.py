"""GTH pseudopotentials from CP2K's library as ABINIT-format files for pw.x.

No Debian package ships a Quantum ESPRESSO pseudopotential for Cu (or most
metals), but CP2K's ``GTH_POTENTIALS`` holds analytic Goedecker-Teter-Hutter
potentials for every element, and pw.x reads GTH potentials natively in ABINIT's
format (``pspcod`` 10) when the file name ends in ``.gth``. The CP2K text itself is
not that format (pw.x stops with "Wrong zp"); :func:`to_abinit` converts one entry.

    python -m raygen.labelers.gth Cu GTH-PBE-q11 > Cu.pbe-q11.gth
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ase.data import atomic_numbers

CP2K_LIBRARY = Path("/usr/share/cp2k/GTH_POTENTIALS")
# ABINIT's pspxc (ixc) of the functionals GTH potentials are made for, as pw.x reads them
PSPXC = {"PBE": 11, "PADE": 1, "LDA": 1, "BLYP": 18}


def read_entry(text: str, element: str, name: str) -> list[list[float]]:
    """The numeric lines of ``element name`` in a CP2K potential file."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        words = line.split()
        if len(words) >= 2 and words[0] == element and name in words[1:]:
            body = []
            for nxt in lines[i + 1:]:
                if not nxt.strip() or nxt.lstrip().startswith("#") or nxt.split()[0].isalpha():
                    break
                body.append([float(w) for w in nxt.split()])
            return body
    raise KeyError(f"no potential {element} {name}")


def to_abinit(body: list[list[float]], element: str, name: str) -> str:
    """ABINIT pspcod-10 text of a CP2K GTH entry (its numeric lines)."""
    zion = int(sum(body[0]))
    rloc, n_c = body[1][0], int(body[1][1])
    coeffs = body[1][2:2 + n_c]
    n_chan = int(body[2][0])
    xc = name.split("-")[1].split("-")[0] if "-" in name else "PBE"
    out = [f"{element} {name} (converted by raygen from CP2K's GTH_POTENTIALS)",
           f"{atomic_numbers[element]} {zion} 000000    zatom, zion, pspdat",
           f"10 {PSPXC.get(xc.upper(), 11)} {n_chan - 1} 0 2001 0    "
           "pspcod, pspxc, lmax, lloc, mmax, r2well",
           f"{rloc:.8f} {n_c} " + " ".join(f"{c:.8f}" for c in coeffs) + "    rloc, nloc, c_i",
           f"{n_chan}    nnonloc"]
    row = 3
    for ell in range(n_chan):
        r_l, n_proj = body[row][0], int(body[row][1])
        h = [body[row][2:]]
        for k in range(1, n_proj):
            h.append(body[row + k])
        row += n_proj
        out.append(f"{r_l:.8f} {n_proj} " + " ".join(f"{x:.8f}" for x in h[0]))
        out += [" " * 20 + " ".join(f"{x:.8f}" for x in hk) for hk in h[1:]]
        if ell > 0:  # no spin-orbit terms: zero k_ij rows
            out += [" " * 20 + " ".join("0.0" for _ in range(n_proj - k))
                    for k in range(n_proj)]
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m raygen.labelers.gth", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("element")
    p.add_argument("name", help="e.g. GTH-PBE-q11")
    p.add_argument("library", nargs="?", default=str(CP2K_LIBRARY))
    args = p.parse_args(argv)
    try:
        body = read_entry(Path(args.library).read_text(), args.element, args.name)
    except (OSError, KeyError) as err:
        print(f"error: {args.library}: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(to_abinit(body, args.element, args.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
