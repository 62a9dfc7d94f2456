"""``gradbounds chain``: the one-neuron-per-layer chain, vanishing or exploding."""

from __future__ import annotations

import numpy as np

from gradbounds.cli._main import UsageError
from gradbounds.io import write_json

HELP = "the one-neuron chain dC/db_1 = s'(z_1) w_2 s'(z_2) ... w_L s'(z_L) dC/da_L"
DESCRIPTION = """\
The one-neuron-per-layer chain of Nielsen's chapter 5:

  dC/db_1 = sigma'(z_1) * w_2 sigma'(z_2) * ... * w_L sigma'(z_L) * dC/da_L

Vanishing case (default): w_j, b_j ~ N(0, 1) from --seed, so |w_j sigma'(z_j)| is
usually below 1/4 and the gradient shrinks layer by layer. Exploding case
(--exploding): every w_j = 100 and the biases make every z_j = 0, so every factor
w_j sigma'(z_j) is exactly 100 * 1/4 = 25. Gradients are printed both as the plain
floating-point product (which underflows or overflows) and in log10.

example:
  gradbounds chain --depth 10 --exploding
"""


def add_arguments(p) -> None:
    p.add_argument("--depth", type=int, required=True, help="number of layers L")
    p.add_argument("--exploding", action="store_true", help="w = 100 and z_j = 0: every factor is 25")
    p.add_argument("--seed", type=int, default=0, help="seed for the vanishing chain's weights (default 0)")
    p.add_argument("--x", type=float, default=1.0, help="input (default 1)")
    p.add_argument("--y", type=float, default=0.0, help="target (default 0)")
    p.add_argument("--cost", default="quadratic", help="quadratic or cross-entropy")
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--json", metavar="PATH", help="write the result as JSON ('-' for stdout)")


def run(args) -> int:
    import jax
    import jax.numpy as jnp

    from gradbounds.core import chain_gradients, chain_network

    if args.depth < 1:
        raise UsageError(f"--depth: expected L >= 1, got {args.depth}")
    for name in ("x", "y"):
        if not np.isfinite(getattr(args, name)):
            raise UsageError(f"--{name}: expected a finite number, got {getattr(args, name)}")
    dtype = getattr(jnp, args.dtype)
    net = chain_network(jax.random.key(args.seed), args.depth, exploding=args.exploding, x=args.x, dtype=dtype)
    r = chain_gradients(net, args.x, args.y, cost=args.cost)
    out = {
        "depth": args.depth,
        "case": "exploding" if args.exploding else "vanishing",
        "dtype": args.dtype,
        "w": [float(layer.W[0, 0]) for layer in net],
        "b": [float(layer.b[0]) for layer in net],
        "z": r.z,
        "factors": r.factors,
        "grad_b": r.grad_b.astype(np.float64),
        "log10_abs_grad_b": r.log10_abs_grad_b,
        "sign_grad_b": r.sign_grad_b,
        "dC_da_L": r.dC_da,
    }
    if args.json:
        write_json(out, args.json)
    if args.json != "-":
        print(f"one-neuron chain, depth {args.depth}, {out['case']} case, {args.dtype}, cost {args.cost}")
        print(f"{'j':>5} {'w_j':>10} {'z_j':>10} {'w_j s(z_j)':>12} {'dC/db_j':>12} {'log10|dC/db_j|':>15}")
        for j in range(args.depth):
            fac = f"{r.factors[j - 1]:12.5g}" if j > 0 else f"{'':>12}"
            print(
                f"{j + 1:>5} {out['w'][j]:10.4g} {r.z[j]:10.4g} {fac} {float(r.grad_b[j]):12.5g}"
                f" {r.log10_abs_grad_b[j]:15.4f}"
            )
    return 0
