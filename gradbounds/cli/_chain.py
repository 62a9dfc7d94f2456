"""``gradbounds chain``: the one-neuron-per-layer chain, vanishing or exploding."""

from __future__ import annotations

import json
import sys

import numpy as np

from gradbounds.cli._main import UsageError, seed_arg
from gradbounds.io import json_header, to_json

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
    p.add_argument("--seed", type=seed_arg, default=0, help="seed for the vanishing chain's weights (default 0)")
    p.add_argument("--x", type=float, default=1.0, help="input (default 1)")
    p.add_argument("--y", type=float, default=0.0, help="target (default 0)")
    p.add_argument("--cost", default="quadratic", help="quadratic or cross-entropy")
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--json", metavar="PATH", help="write the result as JSON ('-' for stdout)")


MAX_DEPTH = 10_000_000
"""Deepest chain ``chain`` computes: its arrays take about 100 bytes a layer (1 GB at the limit)."""
TABLE_ROWS = 1000
"""Chains up to this depth print every layer; deeper ones print the first and last 10 (all are in --json)."""


def _write_json(out: dict, path: str) -> None:
    """:func:`gradbounds.io.write_json` with 1-D arrays written in chunks (10^6 layers hold ~10^7 numbers).

    Same encoding (:func:`gradbounds.io.to_json`: ``"inf"``, ``"-inf"``, ``null``);
    arrays sit on one line each.
    """
    f = sys.stdout if path == "-" else open(path, "w")
    try:
        f.write("{\n")
        for i, (k, v) in enumerate(out.items()):
            f.write(f"  {json.dumps(k)}: ")
            if isinstance(v, np.ndarray) and v.ndim == 1:
                f.write("[")
                for s in range(0, v.size, 1 << 16):
                    chunk = v[s : s + (1 << 16)]
                    if chunk.dtype.kind == "f" and np.all(np.isfinite(chunk)):  # what json.dumps writes, faster
                        text = ", ".join(map(float.__repr__, chunk.tolist()))
                    else:
                        text = json.dumps(to_json(chunk), allow_nan=False)[1:-1]
                    f.write((", " if s else "") + text)
                f.write("]")
            else:
                f.write(json.dumps(to_json(v), allow_nan=False))
            f.write(",\n" if i < len(out) - 1 else "\n")
        f.write("}\n")
    finally:
        if f is not sys.stdout:
            f.close()


def run(args) -> int:
    import jax
    import jax.numpy as jnp

    from gradbounds.core import chain_gradients_arrays, chain_weights, get_cost

    if args.depth < 1:
        raise UsageError(f"--depth: expected L >= 1, got {args.depth}")
    if args.depth > MAX_DEPTH:
        raise UsageError(f"--depth: at most {MAX_DEPTH} layers (about 100 bytes a layer), got {args.depth}")
    for name in ("x", "y"):
        if not np.isfinite(getattr(args, name)):
            raise UsageError(f"--{name}: expected a finite number, got {getattr(args, name)}")
    get_cost(args.cost)
    dtype = getattr(jnp, args.dtype)
    w, b = chain_weights(jax.random.key(args.seed), args.depth, exploding=args.exploding, x=args.x, dtype=dtype)
    r = chain_gradients_arrays(w, b, args.x, args.y, activation="sigmoid", cost=args.cost)
    out = {
        **json_header(),
        "depth": args.depth,
        "case": "exploding" if args.exploding else "vanishing",
        "dtype": args.dtype,
        "w": w.astype(np.float64),
        "b": b.astype(np.float64),
        "z": r.z,
        "factors": r.factors,
        "grad_b": r.grad_b.astype(np.float64),
        "log10_abs_grad_b": r.log10_abs_grad_b,
        "sign_grad_b": r.sign_grad_b,
        "dC_da_L": r.dC_da,
    }
    if args.json:
        _write_json(out, args.json)
    if args.json != "-":
        print(f"one-neuron chain, depth {args.depth}, {out['case']} case, {args.dtype}, cost {args.cost}")
        print(f"{'j':>5} {'w_j':>10} {'z_j':>10} {'w_j s(z_j)':>12} {'dC/db_j':>12} {'log10|dC/db_j|':>15}")
        rows = (
            range(args.depth) if args.depth <= TABLE_ROWS else [*range(10), None, *range(args.depth - 10, args.depth)]
        )
        for j in rows:
            if j is None:
                print(f"{'...':>5}  ({args.depth - 20} more layers; --json PATH writes all of them)")
                continue
            fac = f"{r.factors[j - 1]:12.5g}" if j > 0 else f"{'':>12}"
            print(
                f"{j + 1:>5} {out['w'][j]:10.4g} {r.z[j]:10.4g} {fac} {float(r.grad_b[j]):12.5g}"
                f" {r.log10_abs_grad_b[j]:15.4f}"
            )
    return 0
