"""The sampling distributions behind the notebooks' tolerances, measured over many seeds.

    python notebooks/tolerances.py [nielsen|rate|spectrum|gaussian|orthogonal|underflow|all] [--seeds 200] [--full]

Each notebook assertion that compares a random measurement with an independent
value (Nielsen's published speeds, ``log10 χ₁``, the free-probability moments)
states a tolerance; this script measures where that tolerance comes from: the
measured quantity over ``--seeds`` independent draws (networks, inputs), with
the notebooks' quick settings, and its 0.1 %, 0.5 %, 1 %, 50 %, 99 %, 99.5 % and
99.9 % quantiles.

It also evaluates the same quantity under a plausible bug, to
show that the tolerance would catch it.  The numbers it prints are quoted in
the notebooks' text; rerun it when a notebook's settings change.  It takes a
few minutes on two cores (the orthogonal spectra most of an hour: JAX
draws each Haar matrix by its own QR) and is not part of the test suite.

With ``--full`` it measures the same quantities at the notebooks' full
settings (what a notebook runs without ``GRADBOUNDS_QUICK=1``): 05 on the
first 1000 Fashion-MNIST training images, 06's rate and spectra at width 300,
depth 40, 16 networks.  Full-settings draws cost more, so there are fewer of
them, and the far quantiles are not estimated from the draws themselves: each
quantity also gets a robust normal fit, median ``m`` and ``s`` = IQR/1.349,
and the range ``m ± h`` the notebooks check, with
``h = 3.29 s (1 + 2·1.166/√N) + 2·1.2533 s/√N``: the 0.05–99.95 % range of a
normal distribution (false-failure probability 0.1 % per check) after
widening ``s`` and moving the median by two of their standard errors for
``N`` draws (1.166 s/√N and 1.2533 s/√N for a normal sample).  The seeds
differ from the quick ones and from the notebooks' own.  On one core:
``nielsen --full --seeds 200`` 15 s, ``rate --full --seeds 100`` 14 min,
``gaussian --full --seeds 50`` 4 min, ``orthogonal --full --seeds 40`` 8 min.
"""

from __future__ import annotations

import argparse
import math
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

import gradbounds as gb  # noqa: E402
from gradbounds import spectra, theory, training  # noqa: E402

Q = (0.1, 0.5, 1, 50, 99, 99.5, 99.9)


def _report(name, v, centre=None, fit=False):
    v = np.asarray(v, float)
    qs = np.percentile(v, Q)
    line = ", ".join(f"{q:g}%: {x:.4g}" for q, x in zip(Q, qs))
    line += f"; mean {v.mean():.4g}, sd {v.std(ddof=1):.4g}, min {v.min():.4g}, max {v.max():.4g}"
    print(f"{name}: n={v.size}, {line}" + (f"; independent value {centre:.4g}" if centre is not None else ""))
    if fit:
        m, h = robust_range(v)
        print(f"   robust fit: median {m:.4g}, s {_iqr_sd(v):.4g}; checked range [{m - h:.4g}, {m + h:.4g}]")
    return qs


def _iqr_sd(v):
    q1, q3 = np.percentile(v, (25, 75))
    return (q3 - q1) / 1.349


def robust_range(v, z=3.29):
    """Median and half-width ``h`` of the range the notebooks check at full settings (few draws).

    Args:
        v: the measured quantity over ``N`` independent draws.
        z: the normal quantile; 3.29 leaves 0.05 % in each tail (false failure 0.1 % per check).

    Returns:
        ``(m, h)``: the median and ``h = z s (1 + 2·1.166/√N) + 2·1.2533 s/√N`` with ``s`` = IQR/1.349, i.e.
        ``s`` and the median each moved by two of their standard errors for a normal sample of ``N``.
    """
    v = np.asarray(v, float)
    n, s = v.size, _iqr_sd(v)
    return float(np.median(v)), z * s * (1 + 2 * 1.166 / math.sqrt(n)) + 2 * 1.2533 * s / math.sqrt(n)


def nielsen(seeds: int, full: bool = False):
    """05: last/first hidden-layer speed at initialisation, per depth, over network draws (1000 images).

    Args:
        seeds: the number of network draws per depth.
        full: Fashion-MNIST (the notebook's full run) instead of the embedded digits.
    """
    ds = training.load_dataset("fashion-mnist") if full else training.load_digits()
    base = 60_000 if full else 10_000
    X = jnp.asarray(ds.x_train[:1000])
    Y = jnp.asarray(ds.y_train()[:1000])
    pub = training.load_published_speeds()

    def speeds(net):
        deltas = jax.vmap(lambda x, y: gb.errors(net, x, y, cost="cross-entropy"))(X, Y)
        return jnp.stack([jnp.linalg.norm(jnp.mean(d, axis=0)) for d in deltas[:-1]])

    for k in (2, 3, 4):
        ws = (ds.n_inputs,) + (30,) * k + (10,)
        f = jax.jit(speeds)
        r, r_bug = [], []
        for s in range(seeds):
            net = gb.init_network(jax.random.key(base + 1000 * k + s), ws, activation="sigmoid", init="nielsen")
            sp = np.asarray(f(net))
            r.append(sp[-1] / sp[0])
            # plausible bug: the book's older initialiser W ~ N(0, 1) (large_weight_initializer), not N(0, 1/n_in)
            big = gb.network_from_arrays(
                [lay.W * math.sqrt(lay.W.shape[1]) for lay in net], [lay.b for lay in net], ["sigmoid"] * len(net)
            )
            sb = np.asarray(f(big))
            r_bug.append(sb[-1] / sb[0])
        r_pub = pub[k][0][-1] / pub[k][0][0]
        _report(f"05 {ds.name} k={k}: log10 last/first", np.log10(r), math.log10(r_pub), fit=full)
        _report(f"05 {ds.name} k={k}: log10 last/first under the bug (W ~ N(0, 1))", np.log10(r_bug))


def _measured_rate(key, ws, sw2, sb2, n_networks, _scale={}):  # noqa: B006  (x_scale per setting, cached)
    """``typical_vs_worst(...).measured_rate`` without the bound G (the same draws from ``key``, only ``δ``)."""
    if (sw2, sb2) not in _scale:
        mf = theory.mean_field("tanh", sw2, sb2, correlation=False)
        _scale[(sw2, sb2)] = math.sqrt((mf.q_star - sb2) / sw2)
    ms = np.asarray(_log_mean_sq(key, ws, float(sw2), float(sb2), n_networks, _scale[(sw2, sb2)]))
    return -float(np.polyfit(np.arange(1, ms.size + 1), ms, 1)[0]) / math.log(10)


@partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def _log_mean_sq(key, ws, sw2, sb2, n_networks, x_scale):
    from gradbounds.theory._typical import readout

    kn, kx, ky = jax.random.split(key, 3)
    keys = jax.random.split(kn, n_networks)
    nets = jax.vmap(lambda k: gb.init_network(k, ws, activation="tanh", init="gaussian", sw2=sw2, sb2=sb2))(keys)
    x = x_scale * jax.random.normal(kx, (n_networks, 1, ws[0]), jnp.float64)
    y = jax.random.normal(ky, (n_networks, 1, ws[-1]), jnp.float64) / math.sqrt(ws[-1])
    d = jax.vmap(lambda net, x, y: gb.errors(net, x[0], y[0], cost=readout))(nets, x, y)
    return jnp.log(jnp.mean(jnp.stack([jnp.sum(v**2, -1) for v in d], -1), 0))  # log mean ||delta^l||^2


def rate(seeds: int, full: bool = False):
    """06: measured per-layer rate of mean ‖δ^l‖² minus log10 χ₁, per setting.

    Args:
        seeds: the number of draws (each of ``NETS`` networks and inputs).
        full: width 300, depth 40, 16 networks (the notebook's full run), not width 100, depth 16, 6 networks.
    """
    WIDTH, DEPTH, NETS = (300, 40, 16) if full else (100, 16, 6)
    base = 70_000 if full else 50_000
    ws = (WIDTH,) * (DEPTH + 1)
    sw2_c, _ = theory.critical_sw2("tanh", 0.05)
    for name, sw2 in {"ordered": 0.8, "critical": sw2_c, "chaotic": 3.5}.items():
        chi = theory.chi1("tanh", sw2, 0.05)
        tw = theory.typical_vs_worst(jax.random.key(base), ws, activation="tanh", sw2=sw2, sb2=0.05, n_networks=NETS)
        m0 = _measured_rate(jax.random.key(base), ws, sw2, 0.05, NETS)
        assert abs(m0 - tw.measured_rate) < 1e-9, (m0, tw.measured_rate)  # the same quantity, the same draws
        d, d_bug = [], []
        for s in range(seeds):
            m = _measured_rate(jax.random.key(base + s), ws, sw2, 0.05, NETS)
            d.append(m - math.log10(chi))
            # plausible bug: the rate of the rms norm (half the rate of the mean square) against log10 chi_1
            d_bug.append(m / 2 - math.log10(chi))
        _report(f"06 {name}: measured rate - log10 chi1", d, 0.0, fit=full)
        _report(f"06 {name}: the same under the bug (rate of the norm)", d_bug, 0.0)


def spectrum(seeds: int, inits=("gaussian", "orthogonal"), full: bool = False):
    """06: Gaussian and orthogonal Jacobian spectra: log10 of measured/predicted mean, variance and edge.

    Args:
        seeds: the number of draws (each of ``NETS`` networks and inputs).
        inits: the weight ensembles to measure.
        full: width 300, depth 40, 16 networks (the notebook's full run), not width 100, depth 16, 6 networks.
    """
    sw2, sb2 = 1.05, 2.01e-5
    L, n, NETS = (40, 300, 16) if full else (16, 100, 6)
    base = 3_000_000 if full else 1_000_000
    q = float(theory.q_star("tanh", sw2, sb2))
    for i, init in enumerate(("gaussian", "orthogonal")):
        if init not in inits:
            continue
        pred = theory.jacobian_spectrum("tanh", sw2, sb2, L, init=init)
        other = theory.jacobian_spectrum("tanh", sw2, sb2, L, init=("orthogonal", "gaussian")[i])
        rows = []
        for s in range(seeds):
            lams = []
            for j in range(NETS):
                kk = base + 1000 * s + 100 * i + j
                net = gb.init_network(
                    jax.random.key(kk), (n,) * (L + 1), activation="tanh", init=init, sw2=sw2, sb2=sb2
                )
                g = jax.random.normal(jax.random.key(kk + 500_000), (n,))
                x = math.sqrt((q - sb2) / sw2 * n) * g / np.linalg.norm(np.asarray(g))
                lams.append(np.exp(2 * np.asarray(spectra.input_output_spectrum(net, x, method="svd").log_sv)))
            lam = np.concatenate(lams)
            rows.append((lam.mean(), lam.var(), lam.max()))
        rows = np.asarray(rows)
        for c, key in enumerate(("mean", "variance", "edge")):
            _report(
                f"06 {init} log10 measured/predicted {key}", np.log10(rows[:, c] / getattr(pred, key)), 0.0, fit=full
            )
            # plausible bug: the other ensemble's prediction (s_1 of the wrong ensemble)
            print(
                f"   the other ensemble's prediction: log10 measured/predicted = "
                f"{np.log10(np.median(rows[:, c]) / getattr(other, key)):.4g} (median)"
            )


def underflow(seeds: int):
    """03: where the exact log10 ||delta|| sits in the underflow window, per dtype (width 10, depth 500)."""
    from gradbounds.core import underflow_depths

    L, n = 500, 10
    for s in range(seeds):
        deep = gb.init_network(jax.random.key(3 + 1000 * s), (n,) * (L + 1), activation="sigmoid", init="nielsen")
        kx, ky = jax.random.split(jax.random.key(4 + 1000 * s))
        xd, yd = jax.random.uniform(kx, (n,)), jax.random.uniform(ky, (n,))
        e_k = (np.asarray(gb.bounds.levels(deep, xd, yd).E) / np.log(10))[::-1]
        dts = ("float16", "bfloat16", "float32", "float64")
        for dt, k in underflow_depths(deep, xd, yd, dtypes=dts).items():
            fi = jnp.finfo(dt)
            flushes = float(jax.jit(lambda t: t * 0.5)(jnp.asarray(fi.tiny, dt))) == 0.0
            theta = float(fi.tiny) if flushes else float(fi.smallest_subnormal) / 2
            if k is None:
                print(f"03 seed {s} {dt}: never zero")
                continue
            below_hi = math.log10(math.sqrt(n) * theta) - e_k[k - 1]
            above_lo = e_k[k - 2] - math.log10(theta)
            drop = e_k[k - 2] - e_k[k - 1]
            print(
                f"03 seed {s} {dt}: k={k}, below the upper end {below_hi:.3f}, above the lower {above_lo:.3f}, "
                f"last layer's drop {drop:.3f} decades"
            )


def main():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "which",
        nargs="?",
        default="all",
        choices=("nielsen", "rate", "spectrum", "gaussian", "orthogonal", "underflow", "all"),
    )
    p.add_argument("--seeds", type=int, default=200, help="independent draws per quantity (default 200)")
    p.add_argument(
        "--full",
        action="store_true",
        help="the notebooks' full settings (05 on Fashion-MNIST; 06 at width 300, depth 40, 16 networks), "
        "with a robust normal fit and the range m +- h checked there (see above); not for underflow",
    )
    a = p.parse_args()
    for name, f in (
        ("nielsen", nielsen),
        ("rate", rate),
        ("spectrum", spectrum),
        ("gaussian", lambda s, full: spectrum(s, ("gaussian",), full)),
        ("orthogonal", lambda s, full: spectrum(s, ("orthogonal",), full)),  # alone: most of an hour (Haar draws by QR)
        ("underflow", lambda s, full: underflow(s)),
    ):
        if a.which == name or (a.which == "all" and name not in ("gaussian", "orthogonal")):
            if a.full and name == "underflow":
                continue  # 03 has no full settings
            t = time.time()
            f(a.seeds, full=a.full)
            print(f"({name}: {time.time() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
