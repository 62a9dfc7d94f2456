"""``gradbounds figures``: regenerate every figure, and the numbers the paper quotes.

The work is :func:`gradbounds.experiments.run_experiments`; this module
parses the arguments and prints where each figure went.
"""

from __future__ import annotations

from gradbounds.cli._main import seed_arg

HELP = "regenerate every figure (vector PDF) and the numbers the paper quotes"
DESCRIPTION = """Regenerates the toolkit's publication figures into --out DIR:

  ladder     the bound hierarchy E <= P <= J <= D <= G on the seed network [784,30,30,30,30,10]
  slack      slack log10 G - log10 E and its four parts against depth
  chain      the one-neuron chain, vanishing and exploding (x25 a layer)
  underflow  plain backprop's underflow depth per dtype against the exact log10 ||delta||
  nielsen    per-layer speeds of learning beside the author's published curves
  spectra    singular values of layer Jacobians and products vs free probability
  phase      the mean-field phase diagram (chi_1, critical line)
  typical    typical (mean field) against worst case (the bound G)
  rnn        backpropagation through time: the error over time steps for three cells, and the adding problem

Results go to DIR/results/NAME.json (redraw without recomputing with --redraw),
numbers to DIR/numbers.json, and with --tex TEXDIR to TEXDIR/numbers.tex
(\\gbn{key} macros) and TEXDIR/table_*.tex.  Experiments whose optional dependencies
are not installed are skipped.  --quick uses small settings and takes about a minute.

Example:
  gradbounds figures --out paper/figures --tex paper/generated --quick
"""


def add_arguments(p) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the PDFs, results/ and numbers.json")
    p.add_argument("--quick", action="store_true", help="small settings (about a minute)")
    p.add_argument("--only", default=None, metavar="NAMES", help="comma-separated subset of the figures")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of every jax.random key (default 0)")
    p.add_argument("--tex", default=None, metavar="DIR", help="also write DIR/numbers.tex and DIR/table_*.tex")
    p.add_argument(
        "--nielsen-dir",
        default=None,
        metavar="DIR",
        help="Nielsen's published curves (default: the curves shipped in the package)",
    )
    p.add_argument("--redraw", action="store_true", help="redraw from DIR/results/*.json without recomputing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--json", default=None, metavar="PATH", help="write a summary as JSON ('-' for stdout)")


def run(args) -> int:
    from gradbounds.experiments import run_experiments
    from gradbounds.io import json_header, write_json

    names = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    report = run_experiments(
        args.out,
        names=names,
        quick=args.quick,
        seed=args.seed,
        nielsen_dir=args.nielsen_dir,
        redraw=args.redraw,
        tex=args.tex,
        progress=not args.no_progress,
    )
    status = report.pop("status")
    if args.json:
        write_json({**json_header(), **report}, args.json)
    if args.json != "-":
        for name, s in report["figures"].items():
            print(f"{name:10s} {s['pdf']}  ({s['seconds']:.1f} s)")
        for name, why in report["skipped"].items():
            print(f"{name:10s} skipped: {why}")
    return status
