"""``gradbounds check``: the bound hierarchy, layer by layer, with verdicts."""

from __future__ import annotations

import functools
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jax
import numpy as np

from gradbounds import core
from gradbounds.cli._main import UsageError, parse_ints, seed_arg
from gradbounds.io import json_header, write_json

HELP = "check E <= P <= J <= D <= G (and the lower bound) on networks, layer by layer"
DESCRIPTION = """\
Compute, for every layer l, the five levels of the bound hierarchy (docs/design.md §2)

  E  exact       ||delta^l||
  P  product     ||B^l ... B^{L-1} M_L|| ||g||
  J  per-layer   prod ||B^r|| ||M_L|| ||g||
  D  data split  prod ||Sigma'(z^r)|| prod ||W^r|| ||g||       (the data-split bound (*))
  G  sup bound   prod gamma_r prod ||W^r|| ||g||                (the textbook bound (**))

and the certified lower bound sigma_min(B^l ... M_L) ||g|| <= E, in log space, with a
verdict per layer from rigorous enclosures [lo, hi] of every level (forward pass,
sigma', products and norms included): holds when hi_X <= lo_Y, violated when lo_X > hi_Y,
else inconclusive; --exact re-decides those by proof in ball arithmetic (python-flint). Slack columns split log10 G - log10 E into
alignment (P-E), submultiplicativity (J-P), split (D-J) and activation (G-D).

Networks come from --widths/--activation/--init and --seed (--networks N of them), or
from --network FILE: an .npz (arrays W1, b1, ..., WL, bL and optional string array
activations), a .safetensors or a PyTorch .pt/.pth state dict (0.weight, 0.bias,
2.weight, ... in index order). A file that does not name its activations needs
--activation (one name, or L comma-separated names); one that does refuses it, as it
refuses --widths, --init, --sw2, --sb2 and --networks. A file's network is checked in
its own dtype (float32 stays float32) unless --dtype is given. Examples come from
--data FILE.npz (x of shape (n, n_0), y of shape (n, n_L); --examples is then refused)
or are drawn from the seed (x uniform in [0,1]^n_0, y a random one-hot).

Exit codes: 0 every verdict holds, 1 a violation was found, 2 bad usage or input,
3 some comparison stays inconclusive.

example:
  gradbounds check --widths 784,30,30,30,30,10 --activation sigmoid --cost quadratic
"""


def add_arguments(p) -> None:
    src = p.add_argument_group("network")
    src.add_argument("--widths", help="n_0,...,n_L (default: the seed network 784,30,30,30,30,10)")
    src.add_argument("--activation", help="one name, or L comma-separated names (default sigmoid)")
    src.add_argument("--init", help="nielsen (default), standard-normal, glorot, he, orthogonal, gaussian")
    src.add_argument("--sw2", type=float, help="sigma_w^2, a variance (gaussian, orthogonal; default 1)")
    src.add_argument("--sb2", type=float, help="sigma_b^2, a variance (gaussian, orthogonal; default 0)")
    src.add_argument(
        "--networks",
        type=int,
        metavar="N",
        help="number of random networks (default 1; drawn and checked in chunks, as many at once as there"
        " are cores, at most 4: the numbers do not depend on the cores)",
    )
    src.add_argument(
        "--network", metavar="FILE", help="a user's network (.npz, .safetensors, .pt/.pth state dict) instead"
    )
    data = p.add_argument_group("data")
    data.add_argument("--data", metavar="FILE.npz", help="arrays x (n, n_0) and y (n, n_L)")
    data.add_argument("--examples", type=int, help="examples drawn per network without --data (default 1)")
    p.add_argument(
        "--cost",
        default="quadratic",
        help="quadratic (default), cross-entropy (sigmoid output layer) or softmax-cross-entropy"
        " (on logits: a linear output layer)",
    )
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--dtype", choices=("float64", "float32"), help="default float64, or a --network file's own dtype")
    p.add_argument(
        "--exact",
        choices=("auto", "always", "never"),
        default="auto",
        help="re-decide inconclusive verdicts by proof in ball arithmetic (arb, 128 to 2048 bits): auto (default)"
        " does it when at most 16 examples need it and each network needs at most 10^7 ball operations"
        " (about sum of n_l^3; the seed network about 0.5 s); what the balls cannot separate stays inconclusive",
    )
    p.add_argument("--json", metavar="PATH", help="write the result as JSON ('-' for stdout)")
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (otherwise, with --networks N, one on stderr when it is a terminal, the run takes"
        " over 2 s and neither --json - nor --csv - writes to stdout)",
    )
    p.add_argument(
        "--csv",
        metavar="PATH",
        help="write one row per (network, example, layer) as CSV ('-' for stdout): network, example, layer,"
        " log10_lower, log10_E ... log10_G, lo_lower, hi_lower, lo_E ... hi_G (log10 enclosures of the exact"
        " values), slack_alignment ... slack_total, verdict",
    )
    p.add_argument(
        "--attribution",
        choices=("sequential", "shapley"),
        default="sequential",
        help="how the slack columns split log10 G - log10 E among the four steps: sequential (default; P-E,"
        " J-P, D-J, G-D, the steps in the hierarchy's order) or shapley (each step's exact Shapley value, its"
        " contribution averaged over the 24 orders of the steps; docs/design.md §2.4); --json then carries"
        " both",
    )
    p.add_argument(
        "--enclosures",
        action="store_true",
        help="add a table of enclosure widths per layer: log10 hi - log10 lo of each level (inf: no lower"
        " bound, the exact value may be 0; 0.000: a proved exact zero or a point value exact to the digits shown)",
    )


_DEFAULTS = {"widths": "784,30,30,30,30,10", "init": "nielsen", "sw2": 1.0, "sb2": 0.0, "networks": 1, "examples": 1}


def _settle(args) -> None:
    """Refuses flags that the given files make meaningless, then fills in the defaults (nothing ignored)."""
    if args.network:
        for name in ("widths", "init", "sw2", "sb2", "networks"):
            if getattr(args, name) is not None:
                flag = "--" + name
                raise UsageError(f"{flag} does not apply to --network {args.network} (the file gives the network)")
    if args.data and args.examples is not None:
        raise UsageError(f"--examples does not apply to --data {args.data} (the file gives the examples)")
    for name, v in _DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, v)
    if args.activation is None and not args.network:
        args.activation = "sigmoid"


def _read_network(args):
    """The ``--network`` file's network (its own dtype unless ``--dtype``); refuses a redundant ``--activation``."""
    from gradbounds.adapters import read_network

    try:
        return read_network(args.network, args.activation, dtype=args.dtype)
    except ValueError as e:
        msg = str(e)
        if "names its activations" in msg and args.activation is not None:
            raise UsageError(f"--activation does not apply to --network {args.network}: {msg}") from None
        if "names no activations" in msg:
            raise UsageError(f"--network {args.network}: {msg.split(': ', 1)[-1]}; give --activation") from None
        raise


def compute(args):
    """Builds networks and data from ``args`` and returns (hierarchy, first net, x, y, meta)."""
    import jax
    import jax.numpy as jnp

    import gradbounds as gb

    _settle(args)
    if args.networks < 1:
        raise UsageError(f"--networks: expected N >= 1, got {args.networks}")
    if args.examples < 1:
        raise UsageError(f"--examples: expected n >= 1, got {args.examples}")
    for name in ("sw2", "sb2"):
        v = getattr(args, name)
        if not (math.isfinite(v) and v >= 0):
            raise UsageError(f"--{name}: expected a finite variance >= 0, got {v}")
    gb.core.get_cost(args.cost)  # an unknown cost is named before anything is built
    draw: dict[str, Any] | None = None
    if args.network:
        net = _read_network(args)
        args.file_activations = ",".join(q.activation for q in net)
        dtype = net[0].W.dtype
    else:
        dtype = jnp.float32 if args.dtype == "float32" else jnp.float64
        widths = parse_ints(args.widths)
        acts = args.activation.split(",")
        draw = dict(
            widths=widths,
            activation=acts[0] if len(acts) == 1 else tuple(acts),
            init=args.init,
            sw2=float(args.sw2),
            sb2=float(args.sb2),
        )
        # the arguments are checked by tracing alone (nothing compiled), so a bad one is named outside vmap
        shape_net = jax.eval_shape(lambda: gb.init_network(jax.random.key(0), dtype=dtype, **draw))
        net = None
    # a cost undefined for the output activation is named before any work
    gb.core.check_cost_defined(args.cost, (shape_net if net is None else net)[-1].activation)
    ws = parse_ints(args.widths) if net is None else gb.core.validate_network(net)
    examples = None if args.data else args.examples
    statics = dict(
        draw=None if draw is None else tuple(draw.items()),
        networks=args.networks,
        examples=examples,
        n_0=ws[0],
        n_L=ws[-1],
        dtype=np.dtype(dtype).name,
    )
    co = getattr(args, "attribution", "sequential") == "shapley"
    if draw is not None and examples is not None and args.networks > 1 and not co:
        return _sweep_in_chunks(args, statics)
    # Two threads: XLA compiles without the GIL, so on two cores a cold check compiles the draws' program
    # while the hierarchy's is traced, exported and compiled from the shapes alone (and the underflow
    # depths' program, below, while the hierarchy runs).  Every result is the same as one after another.
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        drawn_f = pool.submit(_draw, args.seed, **statics)
        if args.networks == 1 and not args.data and gb.core.program_store() is not None:
            shapes = jax.eval_shape(functools.partial(_draw.jitted, **statics), args.seed)
            net_a = shapes["net"] if net is None else net
            # a preparation that fails costs only time: the real call does the work and raises a real error
            # (stored_program logs a failed export with GRADBOUNDS_LOG_PROGRAMS=1)
            pool.submit(
                gb.core.prepare_underflow_depths, net_a, shapes["x0"], shapes["y0"], cost=args.cost, dtypes=UNDERFLOW
            )
            gb.bounds.prepare_hierarchy(net_a, shapes["x"], shapes["y"], cost=args.cost)
        drawn = drawn_f.result()
        net = drawn["net"] if net is None else net
        nets = drawn["nets"]
        ws = gb.core.validate_network(net)
        if args.data:
            x, y = gb.io.load_examples(args.data, ws[0], ws[-1], np.dtype(dtype))
            x0, y0 = x[0], y[0]
            if nets is not None:
                x = np.broadcast_to(x, (args.networks, *x.shape))
                y = np.broadcast_to(y, (args.networks, *y.shape))
            elif x.shape[0] == 1:
                x, y = x0, y0
        else:
            x, y, x0, y0 = drawn["x"], drawn["y"], drawn["x0"], drawn["y0"]
        under_f = pool.submit(gb.core.underflow_depths, net, x0, y0, cost=args.cost, dtypes=UNDERFLOW)
        if nets is None:
            h = gb.hierarchy(net, x, y, cost=args.cost, coalitions=co)
        else:
            h = _with_bar(args, lambda progress: gb.sweep(nets, x, y, cost=args.cost, coalitions=co, progress=progress))
        h = _redecide(h, net, nets, x, y, args)
        return h, under_f.result()
    finally:  # on an error or Ctrl-C, what has not started is dropped (exit still waits for a running task)
        pool.shutdown(wait=False, cancel_futures=True)


def _sweep_in_chunks(args, statics):
    """Many drawn networks: drawn and checked chunk by chunk, two or more chunks at once
    (:func:`gradbounds.bounds.sweep_drawn`), exactly the numbers of :func:`_draw` and one sweep."""
    import gradbounds as gb

    kn, kd = (np.asarray(k) for k in _network_keys(args.seed, networks=args.networks))
    rows = {k: statics[k] for k in ("draw", "examples", "n_0", "n_L", "dtype")}
    first: dict[str, Any] = {}

    def draw(start: int, stop: int, size: int):
        i = np.minimum(np.arange(start, start + size), stop - 1)  # the last chunk repeats its last network
        nets, x, y = _draw_rows(kn[i], kd[i], **rows)
        if start == 0 and not first:  # the first network and example, for the underflow depths
            first.update(net=jax.tree_util.tree_map(lambda t: np.asarray(t)[0], nets))
            first.update(x0=np.asarray(x)[0, 0], y0=np.asarray(y)[0, 0])
        return nets, x, y

    h = _with_bar(
        args,
        lambda progress: gb.bounds.sweep_drawn(
            draw, args.networks, cost=args.cost, exact=args.exact, progress=progress
        ),
    )
    net = tuple(first["net"])
    return h, gb.core.underflow_depths(net, first["x0"], first["y0"], cost=args.cost, dtypes=UNDERFLOW)


def _with_bar(args, sweep):
    """``sweep(progress)`` with a bar over ``args.networks`` networks (none with --quiet, off a terminal, or
    when --json - or --csv - writes the data to stdout), closed however the sweep ends."""
    from gradbounds.cli._progress import progress_bar

    bar = progress_bar(
        args.networks,
        unit="net",
        desc="check",
        quiet=getattr(args, "quiet", False),
        stdout_data="-" in (getattr(args, "json", None), getattr(args, "csv", None)),
    )
    try:
        return sweep(None if bar is None else bar.update)
    finally:
        if bar is not None:
            bar.close()


UNDERFLOW = ("float32", "float64")  # the dtypes whose plain backprop's underflow check reports


@core.stored_program(static_argnames=("networks",))
def _network_keys(seed, networks):
    """The key data of every network's key and every network's examples' key, as :func:`_draw` splits them."""
    k_net, k_data = jax.random.split(jax.random.key(seed))
    return tuple(jax.random.key_data(jax.random.split(k, networks)) for k in (k_net, k_data))


@core.stored_program(static_argnames=("draw", "examples", "n_0", "n_L", "dtype"))
def _draw_rows(k_nets, k_examples, draw, examples, n_0, n_L, dtype):
    """Networks and examples from rows of :func:`_network_keys` (key data): :func:`_draw`'s numbers."""
    return _draw_many(
        jax.random.wrap_key_data(k_nets), jax.random.wrap_key_data(k_examples), draw, examples, n_0, n_L, dtype
    )


def _draw_many(k_nets, k_examples, draw, examples, n_0, n_L, dtype) -> tuple[Any, Any, Any]:
    """``(nets, x, y)`` of one network per key in ``k_nets`` (``None`` without ``draw``) and ``examples``
    examples per key in ``k_examples`` (``None, None`` without ``examples``)."""
    import gradbounds as gb

    nets = x = y = None
    if draw is not None:
        nets = jax.vmap(lambda k: gb.init_network(k, dtype=dtype, **dict(draw)))(k_nets)
    if examples is not None:
        x, y = jax.vmap(lambda k: gb.core.draw_examples(k, examples, n_0, n_L, dtype))(k_examples)
    return nets, x, y


@core.stored_program(static_argnames=("draw", "networks", "examples", "n_0", "n_L", "dtype"))
def _draw(seed, draw, networks, examples, n_0, n_L, dtype):
    """Every random draw of ``check`` in one compiled program (a few dozen small kernels otherwise).

    From ``key(seed)`` split into ``(k_net, k_data)``: the networks (``draw``, the
    items of a dict of :func:`gradbounds.init_network` arguments, hashable; ``None`` for a network
    from a file) and the examples (``examples`` of them; ``None`` for examples
    from a file), exactly the numbers the same calls give op by op.  ``x0, y0``
    is the first example of the first network (the underflow depths use it);
    one network at one example gives ``x, y`` without a batch axis.
    """
    import gradbounds as gb

    k_net, k_data = jax.random.split(jax.random.key(seed))
    out: dict = {"net": None, "nets": None, "x": None, "y": None, "x0": None, "y0": None}
    if networks == 1:
        if draw is not None:
            out["net"] = gb.init_network(k_net, dtype=dtype, **dict(draw))
        if examples is not None:
            x, y = gb.core.draw_examples(k_data, examples, n_0, n_L, dtype)
    else:
        nets, x, y = _draw_many(
            jax.random.split(k_net, networks), jax.random.split(k_data, networks), draw, examples, n_0, n_L, dtype
        )
        if draw is not None:
            out["nets"] = nets
            out["net"] = jax.tree_util.tree_map(lambda t: t[0], nets)
    if examples is not None:
        out["x0"], out["y0"] = x.reshape(-1, n_0)[0], y.reshape(-1, n_L)[0]
        if networks == 1 and examples == 1:
            x, y = x[0], y[0]
        out["x"], out["y"] = x, y
    return out


def _redecide(h, net, nets, x, y, args):
    """Re-decides inconclusive comparisons by proof in ball arithmetic (see ``--exact``)."""
    from gradbounds.bounds import redecide_mode

    if nets is None:
        return redecide_mode(h, net, x, y, cost=args.cost, exact=args.exact)
    return redecide_mode(h, nets, x, y, cost=args.cost, exact=args.exact, batched=True)


def _said(args) -> str:
    """Where the networks and examples came from, defaults included (nothing chosen silently)."""
    if args.network:
        net = f"network from {args.network} (activations {getattr(args, 'file_activations', '?')})"
    else:
        net = f"activation {args.activation}  init {args.init}"
        if args.init in ("gaussian", "orthogonal"):
            net += f" (sw2 {args.sw2:g}, sb2 {args.sb2:g})"
    data = f"examples from {args.data}" if args.data else "examples drawn from the seed (x uniform in [0,1], y one-hot)"
    return f"{net}  seed {args.seed}  {data}"


def _widths_table(h) -> list[str]:
    """Enclosure widths ``log10 hi − log10 lo`` per layer (the largest over a batch)."""
    levels = ("lower", "E", "P", "J", "D", "G")
    w = {}
    for k in levels:
        lo, hi = h.enclosure(k)
        with np.errstate(invalid="ignore"):
            d = np.where(np.isneginf(lo) & np.isneginf(hi), 0.0, hi - lo)
        w[k] = np.max(d.reshape(-1, d.shape[-1]), axis=0)
    head = f"{'layer':>5} | " + " ".join(f"{k:>9}" for k in levels)
    out = ["enclosure widths (log10 hi - log10 lo; the largest over the batch)", head, "-" * len(head)]
    for l in range(w["E"].shape[0]):
        out.append(f"{l + 1:>5} | " + " ".join(f"{w[k][l]:>9.2e}" for k in levels))
    return out


def _table(h, under, args=None) -> str:
    d = h.to_dict()
    lines = []
    head = f"{'layer':>5} | {'lower':>8} {'E':>8} {'P':>8} {'J':>8} {'D':>8} {'G':>8} |"
    head += f" {'align':>6} {'submul':>6} {'split':>6} {'act':>6} {'total':>6} | verdict"
    summary = d.get("summary", "one network, one example")
    lines.append(f"widths {d['widths']}  cost {d['cost']}  dtype {d['dtype']}  start {d['start']}  ({summary})")
    if args is not None:
        lines.append(_said(args))
    shapley = args is not None and getattr(args, "attribution", "sequential") == "shapley"
    key = "slack_log10_shapley" if shapley else "slack_log10"
    how = "Shapley values over the 24 orders of the steps" if shapley else "the steps in the order E, P, J, D, G"
    lines.append(f"log10 of each level; slack = log10 G - log10 E split into its four steps ({how})")
    lines.append(head)
    lines.append("-" * len(head))

    def f(v, w=8):  # a level's -inf (exact zero) as "-inf"; an undefined slack (between two zeros) as "n/a"
        return f"{v:>{w}.3f}" if isinstance(v, float) else f"{'n/a' if v is None else str(v):>{w}}"

    for e in d["layers"]:
        lv, sl = e["log10"], e[key]
        row = f"{e['layer']:>5} | {f(e['log10_lower'])} " + " ".join(f(lv[k]) for k in ("E", "P", "J", "D", "G"))
        row += " | " + " ".join(
            f(sl[k], 6) for k in ("alignment", "submultiplicativity", "split", "activation", "total")
        )
        row += f" | {e['verdict']}"
        lines.append(row)
    if args is not None and getattr(args, "enclosures", False):
        lines.extend(_widths_table(h))
    u = ", ".join(f"{k}: {'none' if v is None else f'after {v} layers'}" for k, v in under.items())
    lines.append(f"plain backprop underflows to exactly 0 ({u})")
    if any(v is None for e in d["layers"] for v in e["slack_log10"].values()):
        lines.append("n/a: slack undefined where the levels are exactly 0 (-inf in log10; a dead layer)")
    lines.append(f"verdict: {d['verdict']}")
    n = int(np.sum(np.any(h.codes.reshape(-1, *h.codes.shape[-2:]) == 1, axis=(1, 2))))
    if n:
        lines.append(
            f"{n} example(s) stay inconclusive: their two sides agree within the enclosures"
            " ('--exact always' re-decides them in ball arithmetic)"
        )
    return "\n".join(lines)


def run(args) -> int:
    if args.json == "-" and args.csv == "-":
        raise UsageError("--json - and --csv -: only one of them can go to stdout")
    h, under = compute(args)
    out = {**json_header(), **h.to_dict()}
    out["activation"] = args.activation if not args.network else args.file_activations
    out["init"] = args.init if not args.network else "from file"
    out["networks"] = args.networks
    out["seed"] = args.seed
    out["underflow_depth"] = under
    out["worst"] = h.worst()
    out["violating"] = h.where("violated")
    out["inconclusive"] = h.where("inconclusive")
    if args.json:
        write_json(out, args.json)
    if args.csv:
        h.write_csv(args.csv)
    if "-" not in (args.json, args.csv):
        print(_table(h, under, args))
    elif h.verdict != "holds":
        print(f"verdict: {h.verdict}", file=sys.stderr)
    return {"holds": 0, "violated": 1, "inconclusive": 3}[h.verdict]
