"""``gradbounds rnn``: backpropagation through time, E_k <= P_k <= J_k <= G_k per time step."""

from __future__ import annotations

import numpy as np

from gradbounds.cli._main import UsageError, seed_arg
from gradbounds.io import json_header, write_json

HELP = "backpropagation through time in a plain, LSTM or GRU cell: E <= P <= J (<= G) per time step"
DESCRIPTION = """\
Backpropagation through time in one recurrent layer (PyTorch's equations and
state-dict names: torch.nn.RNN, LSTM, GRU) with a linear readout and the cost
C = 1/2 ||W_out h_T + b_out - y||^2. For every step k = 0..T:

  E_k = ||dC/ds_k||  <=  P_k = ||J_T ... J_{k+1}|| ||g||  <=  J_k = prod ||J_t|| ||g||
      <=  G_k = (gamma ||W_hh||)^(T-k) ||g||   (plain cell; Pascanu et al. 2013)

with J_t = ds_t/ds_{t-1} the state Jacobian (s = (h, c) for the LSTM), in log
space at any length, with rigorous enclosures and certified verdicts (plain
cell: a-posteriori error bounds; LSTM, GRU: interval arithmetic) and, for the
plain cell, Pascanu's conditions (gamma ||W_hh|| < 1 sufficient for vanishing,
> 1 necessary for exploding). The E and P enclosures widen with the sequence
length (inconclusive verdicts on long sequences); J and G stay tight.

Either --network FILE (.npz, .safetensors, .pt: weight_ih[_l0], weight_hh[_l0],
bias_ih[_l0], bias_hh[_l0], optional W_out, b_out, h0, c0) with --data FILE.npz
(x (T, n_in), y (n_out,), or y (T, n_out) with --losses sum), or a random cell and sequence from --hidden, --inputs,
--outputs, --steps, --sw2, --sb2, --seed.

example:
  gradbounds rnn --cell lstm --hidden 16 --steps 100 --json -
"""


def add_arguments(p) -> None:
    p.add_argument("--cell", default="rnn", choices=("rnn", "lstm", "gru"), help="cell kind (default rnn)")
    p.add_argument("--network", metavar="FILE", help="state dict (.npz, .safetensors, .pt, .pth)")
    p.add_argument("--data", metavar="FILE.npz", help="x (T, n_in) and y (n_out,) (with --network)")
    p.add_argument("--hidden", type=int, help="H of a random cell (default 16)")
    p.add_argument("--inputs", type=int, help="n_in of a random cell (default 1)")
    p.add_argument("--outputs", type=int, help="n_out of a random cell (default 1)")
    p.add_argument("--steps", type=int, help="T of a random sequence x_t ~ N(0, 1) (default 100)")
    p.add_argument("--activation", default="tanh", help="sigma of the plain cell (default tanh)")
    p.add_argument("--sw2", type=float, help="weight variance sigma_w^2 (times 1/fan_in; default 1)")
    p.add_argument("--sb2", type=float, help="bias variance sigma_b^2 (default 0)")
    p.add_argument("--forget-bias", type=float, help="added to the LSTM forget gate's (GRU update gate's) bias")
    p.add_argument("--seed", type=seed_arg, help="seed of the random cell, sequence and target (default 0)")
    p.add_argument(
        "--losses",
        default="final",
        choices=("final", "sum"),
        help="C at the last step (default) or summed over steps (then y is (T, n_out); levels E <= J (<= G))",
    )
    p.add_argument("--no-enclosures", action="store_true", help="point values only (faster)")
    p.add_argument("--json", metavar="PATH", help="write the result as JSON ('-' for stdout)")


RANDOM_ONLY = ("hidden", "inputs", "outputs", "steps", "sw2", "sb2", "forget_bias", "seed")
MAX_STEPS = 1_000_000


def _cell_and_data(args):
    import jax
    import jax.numpy as jnp

    from gradbounds import rnn

    if args.network:
        given = [f"--{k.replace('_', '-')}" for k in RANDOM_ONLY if getattr(args, k) is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: only for a random cell, not with --network")
        if not args.data:
            raise UsageError("--network needs --data FILE.npz (x (T, n_in), y (n_out,))")
        cell = rnn.load_cell(args.network, args.cell, activation=args.activation)
        xs, y = rnn.load_data(args.data, cell, per_step=args.losses == "sum")
        return cell, xs, y
    if args.data:
        raise UsageError("--data needs --network")
    H = 16 if args.hidden is None else args.hidden
    n_in = 1 if args.inputs is None else args.inputs
    n_out = 1 if args.outputs is None else args.outputs
    T = 100 if args.steps is None else args.steps
    for name, v, hi in (("--hidden", H, 4096), ("--inputs", n_in, 1 << 20), ("--outputs", n_out, 1 << 20)):
        if not 1 <= v <= hi:
            raise UsageError(f"{name}: expected an integer in [1, {hi}], got {v}")
    if not 1 <= T <= MAX_STEPS:
        raise UsageError(f"--steps: expected an integer in [1, {MAX_STEPS}], got {T}")
    sw2 = 1.0 if args.sw2 is None else args.sw2
    sb2 = 0.0 if args.sb2 is None else args.sb2
    if not (np.isfinite(sw2) and sw2 >= 0 and np.isfinite(sb2) and sb2 >= 0):
        raise UsageError(f"--sw2, --sb2: expected finite values >= 0, got {sw2}, {sb2}")
    fb = 0.0 if args.forget_bias is None else args.forget_bias
    if not np.isfinite(fb):
        raise UsageError(f"--forget-bias: expected a finite value, got {fb}")
    key = jax.random.key(0 if args.seed is None else args.seed)
    kc, kx, ky = jax.random.split(key, 3)
    cell = rnn.init_cell(
        kc,
        args.cell,
        hidden=H,
        inputs=n_in,
        outputs=n_out,
        activation=args.activation,
        sw2=sw2,
        sb2=sb2,
        forget_bias=fb,
    )
    xs = jax.random.normal(kx, (T, n_in), jnp.float64)
    y = jax.random.normal(ky, (T, n_out) if args.losses == "sum" else (n_out,), jnp.float64)
    return cell, xs, y


def _fmt(x: float) -> str:
    return f"{x:10.3f}" if np.isfinite(x) else f"{x:>10}"


def run(args) -> int:
    from gradbounds import core, rnn

    core.get_activation(args.activation)  # unknown name: one-line error
    cell, xs, y = _cell_and_data(args)
    res = rnn.bptt(cell, xs, y, enclosures=not args.no_enclosures, losses=args.losses)
    out = {**json_header(), **res.to_dict()}
    if args.json:
        write_json(out, args.json)
    if args.json != "-":
        keys = list(res.levels)
        print(f"{res.kind} cell, H = {res.hidden}, T = {res.T}: log10 of the levels per step k")
        print(f"{'k':>8} " + " ".join(f"{k:>10}" for k in keys) + "  verdict")
        T = res.T
        rows = range(T + 1) if T <= 40 else [*range(10), *range(T - 9, T + 1)]
        for k in rows:
            if T > 40 and k == T - 9:
                print(f"{'...':>8}")
            print(f"{k:8d} " + " ".join(_fmt(float(res.log10(X)[k])) for X in keys) + f"  {res.verdicts[k]}")
        print(f"decay of E per step (log10): {res.decay_per_step:.4f}")
        if res.pascanu is not None:
            p = res.pascanu
            print(
                f"Pascanu: gamma = {p['gamma']:.6g}, ||W_hh|| = {p['norm_W_hh']:.6g}; "
                f"vanishing sufficient (gamma||W_hh|| < 1): {p['vanishing_sufficient']}; "
                f"exploding necessary (> 1): {p['exploding_necessary']}"
            )
        print(f"verdict: {res.verdict}{'' if res.certified else ' (point values, not certified)'}")
    return {"holds": 0, "violated": 1, "inconclusive": 3}[res.verdict]
