#!/usr/bin/env python
"""Builds paper/paper.pdf from scratch: figures, numbers, tables, then LaTeX.

    python paper/build.py            # full settings (a few minutes on 2 cores)
    python paper/build.py --quick    # small settings (about a minute)
    python paper/build.py --no-figures   # reuse paper/figures and paper/generated
    python paper/build.py --png DIR  # also render every page to DIR/page-N.png

Steps: ``gradbounds figures --out paper/figures --tex paper/generated``
(every figure, ``generated/numbers.tex`` with one ``\\gbn{key}`` per quoted
number, ``generated/table_*.tex``), then ``latexmk -pdf paper.tex``.  The
build fails when LaTeX fails, when a reference, citation or number is
undefined, or when the paper is shorter than four pages.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
APT = "texlive-latex-base texlive-latex-recommended texlive-science latexmk"
MIN_PAGES = 4


def sh(cmd, **kw):
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def pages(log: str) -> int:
    """Pages of the last pdflatex run, from its log ("Output written on paper.pdf (N pages, ...)")."""
    m = re.findall(r"Output written on \S+ \((\d+) pages?", log.replace("\n", ""))
    return int(m[-1]) if m else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small settings for the figures and numbers")
    p.add_argument("--no-figures", action="store_true", help="reuse paper/figures and paper/generated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--png", default=None, metavar="DIR", help="render the pages to DIR/page-N.png (pdftoppm)")
    p.add_argument(
        "--nielsen-dir",
        default=None,
        help="Nielsen's published curves (default: the curves shipped in gradbounds/training/published/nielsen)",
    )
    args = p.parse_args(argv)

    if not args.no_figures:
        cmd = [
            sys.executable,
            "-m",
            "gradbounds.cli",
            "figures",
            "--out",
            HERE / "figures",
            "--tex",
            HERE / "generated",
        ]
        cmd += ["--seed", str(args.seed)] + (["--quick"] if args.quick else [])
        cmd += ["--nielsen-dir", args.nielsen_dir] if args.nielsen_dir else []
        sh([str(c) for c in cmd])
    if not (HERE / "generated" / "numbers.tex").is_file():
        sys.exit("paper/build.py: generated/numbers.tex is missing; run without --no-figures")

    if shutil.which("latexmk") is None:
        sys.exit(f"paper/build.py: latexmk not found; install TeX: apt-get install -y {APT}")
    sh(
        ["latexmk", "-pdf", "-silent", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "paper.tex"],
        cwd=HERE,
    )
    log = (HERE / "paper.log").read_text(errors="replace")
    bad = [
        ln
        for ln in log.splitlines()
        if re.search(
            r"(Reference|Citation).*undefined|There were undefined|undefined number|Overfull \\hbox \((\d{2,}|[5-9])",
            ln,
        )
    ]
    if bad:
        sys.exit("paper/build.py: problems in paper.log:\n  " + "\n  ".join(bad))
    n = pages(log)
    print(f"paper/build.py: {HERE / 'paper.pdf'} ({n} pages)")
    if n < MIN_PAGES:
        sys.exit(f"paper/build.py: expected at least {MIN_PAGES} pages, got {n}")
    if args.png:
        out = Path(args.png)
        out.mkdir(parents=True, exist_ok=True)
        sh(["pdftoppm", "-png", "-r", "110", HERE / "paper.pdf", out / "page"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
