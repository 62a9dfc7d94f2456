"""Benchmark (e): what the rigorous enclosures cost, in one run on the same networks.

The enclosed sweep (:func:`gradbounds.sweep`: point levels, enclosures
``[lo, hi]`` of every level, verdicts) against the point-only levels as they
were computed before the enclosures came (``point_levels`` below: the same
forward pass, rescaled backpropagation, rescaled product with its SVD, the
Gram-matrix norms, no error bound but the first-order ``err_X``), both
``jit(vmap(vmap(...)))`` over N seed networks ``[784, 30, 30, 30, 30, 10]``,
one example each, float64.  Times are process CPU time (the machine is
shared: wall time would count the other processes), warm (compiled once)
and the first call (compilation); the issue asks for warm ≤ 1.5×.
"""

from __future__ import annotations

import math
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from bench.hierarchy import problem


def _rcs(x):
    return jnp.flip(jnp.cumsum(jnp.flip(x, -1), -1), -1)


def _safe_log(x):
    return jnp.log(jnp.where(x > 0, x, 0.0))


def _step_factory(n_L, u):
    from gradbounds import linalg

    log2 = math.log(2.0)

    def step(carry, item):
        v, Q = carry
        d, Wn, (log_w, err_w, cmax) = item
        n_l, n_next = d.shape[-1], Wn.shape[0]
        s1, s2, e = linalg.pow2_scale(jnp.max(jnp.abs(d) * cmax))
        shift = e.astype(d.dtype) * log2
        B = (d * s1 * s2)[:, None] * Wn.T
        fB = jnp.sqrt(jnp.sum(B * B))
        w = B @ v
        nw = jnp.linalg.norm(w)
        v_new = w / jnp.where(nw > 0, nw, 1)
        err_e = jnp.where(nw > 0, (n_next + 2) * u * fB / jnp.where(nw > 0, nw, 1), 0.0) + 2 * u
        R = B @ Q
        sv = linalg.svdvals(R)
        s = sv[0]
        smin = sv[-1] if n_l >= n_L else jnp.zeros((), R.dtype)
        Q_new = R / jnp.where(s > 0, s, 1)
        fQ = jnp.sqrt(jnp.sum(Q * Q))
        err_p = jnp.where(s > 0, (n_next + 2) * u * fB * fQ / jnp.where(s > 0, s, 1), 0.0) + 2 * max(n_l, n_L) * u
        log_b, err_b = linalg.log_norm_scaled(B, u)
        out = dict(
            inc_E=_safe_log(nw) + shift,
            inc_P=_safe_log(s) + shift,
            smin_rel=smin / jnp.where(s > 0, s, 1),
            log_B=log_b + shift,
            log_S=_safe_log(jnp.max(jnp.abs(d))),
            log_W=log_w,
            err_E=err_e,
            err_P=err_p,
            err_B=err_b,
            err_W=err_w,
        )
        return (v_new, Q_new), out

    return step


def point_levels(segs, x, y):
    """The point levels (and first-order errors) of one network at one example, without enclosures."""
    from gradbounds import core, linalg

    dtype = segs[0].W.dtype
    u = float(jnp.finfo(dtype).eps) / 2
    wstats = []
    for i, seg in enumerate(segs):
        W = seg.W if i > 0 else seg.W[1:]
        lw, ew = jax.vmap(lambda w: linalg.log_norm(w, u))(W)
        wstats.append((lw, ew, jnp.max(jnp.abs(W), axis=-2)))
    act_L = core.get_activation(segs[-1].activation)
    zs, a = core.forward_segments(segs, x)
    z_L = zs[-1][-1]
    out = core.output_error(core.get_cost("quadratic"), act_L, z_L, a, y)
    n_L = z_L.shape[0]
    m = act_L.deriv(z_L)
    log_g = _safe_log(jnp.linalg.norm(out.g))
    log_M = _safe_log(jnp.max(jnp.abs(m)))
    nd = jnp.linalg.norm(out.delta)
    v = out.delta / jnp.where(nd > 0, nd, 1)
    Q = jnp.diag(m) / jnp.where(log_M > -jnp.inf, jnp.exp(log_M), 1)
    _, per = core.backward_scan(_step_factory(n_L, u), (v, Q), segs, zs, tuple(wstats))

    def tail(x_, last):
        return jnp.concatenate([x_, jnp.reshape(jnp.asarray(last, dtype), (1,))])

    logQ = _rcs(tail(per["inc_P"], log_M))
    ratio = per["smin_rel"] - 4.0 * _rcs(tail(per["err_P"], 0.0))[:-1]
    return dict(
        lower=logQ[:-1] + _safe_log(ratio) + log_g,
        E=_rcs(tail(per["inc_E"], _safe_log(nd))),
        P=logQ + log_g,
        J=_rcs(tail(per["log_B"], log_M)) + log_g,
        D=_rcs(tail(per["log_S"], log_M)) + _rcs(tail(per["log_W"], 0.0)) + log_g,
        err=_rcs(tail(per["err_E"] + per["err_P"] + per["err_B"] + per["err_W"], 0.0)),
    )


@partial(jax.jit)
def _point_sweep(segs, x, y):
    return jax.vmap(lambda sg, xx, yy: jax.vmap(lambda a, b: point_levels(sg, a, b))(xx, yy))(segs, x, y)


def _cpu(fn):
    t = time.process_time()
    jax.block_until_ready(fn())
    return time.process_time() - t


def point_sweep(nets, x, y):
    """The point-only sweep: :func:`gradbounds.sweep`'s input checks, then :func:`point_levels` on the host."""
    from gradbounds import core

    first = jax.tree_util.tree_map(lambda t: t[0], tuple(nets))
    core.validate_network(first)
    for l, layer in enumerate(nets, start=1):
        core.check_finite(f"layer {l}: W", layer.W)
        core.check_finite(f"layer {l}: b", layer.b)
    core.check_finite("x", x)
    core.check_finite("y", y)
    out = _point_sweep(core.segments(tuple(nets), batched=True), x, y)
    return jax.tree_util.tree_map(np.asarray, out)


def measure(n_networks: int = 1000, repeats: int = 7) -> dict:
    """CPU seconds of the enclosed sweep and the point-only sweep (first call, warm minimum) and their ratios.

    The two are timed alternately (``repeats`` rounds), so a load that comes and goes on a
    shared machine weighs on both alike.
    """
    import gradbounds as gb

    nets, x, y = problem(n_networks)
    pf = _cpu(lambda: point_sweep(nets, x, y)["E"])
    ef = _cpu(lambda: gb.sweep(nets, x, y, cost="quadratic").levels.hi_E)
    pw, ew = [], []
    for _ in range(repeats):
        pw.append(_cpu(lambda: point_sweep(nets, x, y)["E"]))
        ew.append(_cpu(lambda: gb.sweep(nets, x, y, cost="quadratic").levels.hi_E))
    pw, ew = min(pw), min(ew)
    pt = point_sweep(nets, x, y)
    h = gb.sweep(nets, x, y, cost="quadratic")
    same = all(np.allclose(pt[k], np.asarray(getattr(h.levels, k)), rtol=1e-12) for k in ("E", "P", "J", "D"))
    return dict(
        networks=n_networks,
        point_first_s=pf,
        point_warm_s=pw,
        enclosed_first_s=ef,
        enclosed_warm_s=ew,
        warm_ratio=ew / pw,
        first_ratio=ef / pf,
        compile_ratio=(ef - ew) / (pf - pw),
        same_points=same,
    )


GOAL = 1.5  # issue 10: enclosures and verdicts may cost at most 1.5x the sweep before them


PROCESSES = 3  # fresh processes measured one after another: the ratio varies by up to 15 % between processes


def _in_fresh_process(n_networks: int, repeats: int) -> dict:
    """:func:`measure` in a new Python process (its own thread pool and memory layout), as a dict."""
    import json
    import subprocess
    import sys

    code = (
        "import json, jax; jax.config.update('jax_enable_x64', True); from bench.enclosures import measure; "
        f"print(json.dumps(measure({n_networks}, {repeats})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(*, quick: bool = False, log=print) -> dict:
    """``make bench`` (e): the enclosed sweep against the point-only sweep, warm and compiling.

    Measured in ``PROCESSES`` fresh processes (one with ``quick``); the row times and the ratios
    are the medians over them, and the per-process warm ratios are listed.
    """
    n, reps, procs = (100, 3, 1) if quick else (1000, 7, PROCESSES)
    rs = [_in_fresh_process(n, reps) for _ in range(procs)]
    med = {k: float(np.median([r[k] for r in rs])) for k in rs[0] if isinstance(rs[0][k], float)}
    r = dict(med, networks=n, same_points=all(r["same_points"] for r in rs))
    ratios = ", ".join(f"{x['warm_ratio']:.2f}" for x in rs)
    log(
        f"point-only {r['point_warm_s']:.3f} s, enclosed {r['enclosed_warm_s']:.3f} s (CPU, warm; medians over "
        f"{procs} processes, warm ratios {ratios}); first calls {r['point_first_s']:.1f} s and "
        f"{r['enclosed_first_s']:.1f} s"
    )
    N = r["networks"]
    return dict(
        setup=f"{N} random [784, 30, 30, 30, 30, 10] sigmoid networks (Nielsen's init), one example each, "
        "quadratic cost, float64. Process CPU time (the machine may be shared), the two timed alternately; "
        "warm = minimum over the repeats, compile = first call minus warm; each number the median over "
        f"{procs} fresh processes (the warm ratio varies by up to 15 % from process to process: {ratios}).",
        rows=[
            ("point-only sweep (levels as before the enclosures), warm", r["point_warm_s"], "CPU time"),
            ("gradbounds.sweep (levels, enclosures, verdicts), warm", r["enclosed_warm_s"], "CPU time"),
            ("point-only sweep, first call (compilation)", r["point_first_s"], "CPU time"),
            ("gradbounds.sweep, first call (compilation)", r["enclosed_first_s"], "CPU time"),
        ],
        checks="the point levels E, P, J, D of both agree to 1e-12 relative"
        if r["same_points"]
        else "**the point levels differ**",
        goals=[
            dict(
                what="enclosed / point-only, warm (median over processes)",
                ratio=r["warm_ratio"],
                goal=f"<= {GOAL}x",
                met=r["warm_ratio"] <= GOAL,
            ),
            dict(what="enclosed / point-only, compile time", ratio=r["compile_ratio"], goal="(reported)", met=True),
        ],
    )


if __name__ == "__main__":
    import sys

    jax.config.update("jax_enable_x64", True)
    r = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))
