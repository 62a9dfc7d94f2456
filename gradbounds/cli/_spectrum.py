"""``gradbounds spectrum``: free-probability vs measured spectrum of the input-output Jacobian."""

from __future__ import annotations

import math

from gradbounds.cli._main import UsageError, seed_arg
from gradbounds.io import json_header, write_json

HELP = "squared singular values of da^L/dx: free-probability prediction vs a random network"
DESCRIPTION = """\
The spectrum of J J^T, J = da^L/dx = D^L W^L ... D^1 W^1, for a random network of
--depth layers of --width units (W ~ N(0, sw2/n) with --init gaussian, or
W = sqrt(sw2) * Haar-orthogonal with --init orthogonal; b ~ N(0, sb2)).
--sw2 and --sb2 are VARIANCES.

predicted (infinite width, Pennington, Schoenholz & Ganguli 2017, 2018):
  mean      chi1^L
  variance  chi1^(2L) L (mu2/mu1^2 - 1 - s1),  mu_k = E[s'(sqrt(q*) z)^(2k)],
            s1 = -1 (gaussian) or 0 (orthogonal)
  edge      largest squared singular value, from the S-transform
measured: the squared singular values of J for one network drawn from --seed,
at an input drawn from the same seed with |x|^2/n = (q* - sb2)/sw2 (so that the
pre-activations start at the fixed point q*). Also reported: a histogram of the
squared singular values and, per layer, the measured q^l = |z^l|^2/n against the
length map and log10 of the largest singular value of J^l.

example (Pennington et al. 2017's critical tanh network):
  gradbounds spectrum --activation tanh --init orthogonal --sw2 1.05 --sb2 2.01e-5 \\
      --depth 32 --width 1000 --seed 0 --json -
"""


def add_arguments(p) -> None:
    from gradbounds.core import activation_names

    p.add_argument("--activation", default="tanh", help=f"one of {', '.join(activation_names())} (default tanh)")
    p.add_argument(
        "--init", default="orthogonal", choices=("gaussian", "orthogonal"), help="weight ensemble (default orthogonal)"
    )
    p.add_argument("--sw2", metavar="VAR", type=float, required=True, help="weight variance sigma_w^2 (> 0)")
    p.add_argument("--sb2", metavar="VAR", type=float, default=0.0, help="bias variance sigma_b^2 (default 0)")
    p.add_argument("--depth", type=int, default=32, help="number of layers L (default 32)")
    p.add_argument("--width", type=int, default=1000, help="width n of every layer, input included (default 1000)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed for the network and the input (default 0)")
    p.add_argument("--bins", type=int, default=20, help="histogram bins (default 20)")
    p.add_argument("--json", metavar="PATH", help="write the result as JSON ('-' for stdout)")
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (otherwise one on stderr when it is a terminal, the run takes over 2 s and"
        " --json - does not write to stdout)",
    )


def _check(args) -> None:
    if not (math.isfinite(args.sw2) and args.sw2 > 0):
        raise UsageError(f"--sw2: expected a finite variance > 0, got {args.sw2}")
    if not (math.isfinite(args.sb2) and args.sb2 >= 0):
        raise UsageError(f"--sb2: expected a finite variance >= 0, got {args.sb2}")
    for name, lo in (("depth", 1), ("width", 1), ("bins", 1), ("seed", 0)):
        if getattr(args, name) < lo:
            raise UsageError(f"--{name}: expected an int >= {lo}, got {getattr(args, name)}")


def run(args) -> int:
    from gradbounds import core, theory

    _check(args)
    act = core.get_activation(args.activation).name
    pred = theory.jacobian_spectrum(act, args.sw2, args.sb2, args.depth, init=args.init)
    from gradbounds.cli._progress import progress_bar
    from gradbounds.theory import SPECTRUM_STAGES

    bar = progress_bar(SPECTRUM_STAGES, unit="stage", desc="spectrum", quiet=args.quiet, stdout_data=args.json == "-")
    try:
        meas = theory.sample_jacobian_spectrum(
            act,
            args.init,
            args.sw2,
            args.sb2,
            args.depth,
            args.width,
            seed=args.seed,
            bins=args.bins,
            progress=None if bar is None else bar.update,
        )
    finally:
        if bar is not None:
            bar.close()
    out = {
        **json_header(),
        "activation": act,
        "init": args.init,
        "sw2": args.sw2,
        "sb2": args.sb2,
        "depth": args.depth,
        "width": args.width,
        "seed": args.seed,
        "q_star": pred.q_star,
        "chi1": pred.chi1,
        "predicted": {
            "mean": pred.mean,
            "variance": pred.variance,
            "edge": pred.edge,
            "log10_mean": pred.log_mean / math.log(10),
            "mu1": pred.mu1,
            "mu2": pred.mu2,
            "s1": pred.s1,
        },
        "measured": meas,
        "note": "squared singular values of da^L/dx; predicted = infinite-width free probability; sw2, sb2 are variances",
    }
    if args.json:
        write_json(out, args.json)
    if args.json != "-":
        print(
            f"spectrum of J J^T, J = da^L/dx: {act}, {args.init}, sw2={args.sw2:g}, sb2={args.sb2:g} (variances), "
            f"L={args.depth}, n={args.width}, seed={args.seed}"
        )
        print(f"  q* = {pred.q_star:.6g}, chi1 = {pred.chi1:.8g}")
        print(f"  {'':<10} {'predicted':>12} {'measured':>12}")
        for k in ("mean", "variance", "edge"):
            print(f"  {k:<10} {out['predicted'][k]:12.6g} {meas[k]:12.6g}")
        print("  histogram of squared singular values:")
        h = meas["histogram"]
        width = max(h["counts"].max(), 1)
        for lo, hi, c in zip(h["edges"][:-1], h["edges"][1:], h["counts"]):
            print(f"  [{lo:9.4g}, {hi:9.4g}) {int(c):6d} {'#' * int(round(40 * c / width))}")
    return 0
