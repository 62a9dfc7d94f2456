"""Experiments on the one-neuron chain, the exploding window, and plain backprop's underflow per dtype."""

from __future__ import annotations

import numpy as np

from gradbounds.experiments._common import Experiment, _tex, _x64

__all__ = ["CHAIN", "UNDERFLOW"]


# --- the one-neuron chain ------------------------------------------------------------------


def _chain_result(net, cost="quadratic"):
    from gradbounds.core import chain_gradients

    r = chain_gradients(net, 1.0, 0.0, cost=cost)
    w = np.array([float(lay.W[0, 0]) for lay in net])
    L = len(net)
    # γ-bound: |∂C/∂b_j| ≤ γ ∏_{k>j} |w_k| γ · |∂C/∂a_L|, γ = 1/4
    tail = np.concatenate([np.cumsum(np.log10(np.abs(w[1:]) / 4)[::-1])[::-1], [0.0]])
    bound = np.log10(0.25) + tail + np.log10(abs(r.dC_da))
    d = {k: np.asarray(v).tolist() if not np.isscalar(v) else v for k, v in r._asdict().items()}
    d.update(w=w, log10_bound=bound, depth=L)
    return d


def chain_compute(*, quick, seed, **_):
    import jax

    from gradbounds.core import chain_network

    _x64()
    vn = chain_network(jax.random.key(seed + 20), 40)
    ex = chain_network(None, 250, exploding=True)
    return {"vanishing": _chain_result(vn), "exploding": _chain_result(ex), "window": window_compute(quick=quick)}


def window_width(w):
    """Width of ``{a : |w σ'(w a + b)| ≥ 1}`` for the sigmoid (0 for ``|w| ≤ 4``; Nielsen ch. 5, problem).

    .. math:: \\frac{2}{|w|}\\ln\\Big(\\frac{|w|(1+\\sqrt{1-4/|w|})}{2}-1\\Big)
    """
    w = np.abs(np.asarray(w, float))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 2 / w * np.log(w * (1 + np.sqrt(1 - 4 / w)) / 2 - 1)
    return np.where(w > 4, out, 0.0)


def window_compute(*, quick):
    """The window's maximum over |w| (closed form on a grid) and a dense-grid check of the closed form."""
    ws = np.linspace(4.0, 40.0, 36_001 if quick else 360_001)
    width = window_width(ws)
    i = int(np.argmax(width))
    a = np.linspace(-3, 3, 600_001)
    checks = []
    for w in (4.5, ws[i], 10.0, 50.0):
        s = 1 / (1 + np.exp(-w * a))
        grid = np.count_nonzero(np.abs(w * s * (1 - s)) >= 1) * (a[1] - a[0])
        checks.append(abs(grid - float(window_width(w))))
    return {"w_best": float(ws[i]), "max_width": float(width[i]), "grid_error": float(max(checks))}


def chain_draw(result, path, **_):
    from gradbounds import plotting

    return plotting.chain(result["vanishing"], result["exploding"], path=path)


def chain_numbers(r):
    v, e = r["vanishing"], r["exploding"]
    fv = np.asarray(v["factors"], float)
    ge = np.asarray(e["grad_b"], float)
    over = np.where(~np.isfinite(ge))[0]
    return {
        "van.depth": (v["depth"], "d"),
        "van.log10first": (v["log10_abs_grad_b"][0], ".1f"),
        "van.log10last": (v["log10_abs_grad_b"][-1], ".2f"),
        "van.meanlog10factor": (np.mean(np.log10(np.abs(fv))), ".2f"),
        "van.maxfactor": (np.max(np.abs(fv)), ".3f"),
        "van.slack": (v["log10_bound"][0] - v["log10_abs_grad_b"][0], ".1f"),
        "exp.depth": (e["depth"], "d"),
        "exp.factor": (float(np.mean(e["factors"])), ".6g"),
        "exp.factorspread": (float(np.ptp(e["factors"])), ".1e"),
        "exp.log10first": (e["log10_abs_grad_b"][0], ".1f"),
        "exp.slack": (e["log10_bound"][0] - e["log10_abs_grad_b"][0], ".1e"),
        "exp.overflowlayers": (int(over.size), "d"),
        # layers whose exact value itself exceeds the largest float64 (the rest of the overflow is the
        # order of operations: BP2 forms w·δ = 100δ before the factor σ' = 1/4)
        "exp.exactoverlayers": (
            int(np.sum(np.asarray(e["log10_abs_grad_b"], float) > np.log10(np.finfo(np.float64).max))),
            "d",
        ),
        "exp.lastfinite": (int(over.max() + 2) if over.size else 1, "d"),
        "window.wbest": (r["window"]["w_best"], ".2f"),
        "window.max": (r["window"]["max_width"], ".3f"),
        "window.griderror": (r["window"]["grid_error"], ".0e"),
    }


# --- underflow per dtype ---------------------------------------------------------------------

DTYPES = ("float16", "bfloat16", "float32", "float64")


def underflow_compute(*, quick, seed, **_):
    import jax
    import jax.numpy as jnp

    import gradbounds as gb

    _x64()
    L, width, S = (500, 10, 2) if quick else (1000, 10, 8)
    per = {dt: [] for dt in DTYPES}
    curve = None
    for s in range(S):
        net = gb.init_network(jax.random.key(seed + 30 + s), (width,) * (L + 1), activation="sigmoid", init="nielsen")
        kx, ky = jax.random.split(jax.random.key(seed + 60 + s))
        x, y = jax.random.uniform(kx, (width,)), jax.random.uniform(ky, (width,))
        E = np.asarray(gb.bounds.levels(net, x, y).E) / np.log(10)  # layer l = 1..L
        k = np.arange(L, 0, -1)
        e_k = E[::-1]  # index k-1 -> layers crossed k
        if curve is None:
            curve = (k[::-1], e_k)
        for dt in DTYPES:
            depth = gb.underflow_depth(net, x, y, dtype=dt)
            per[dt].append((depth, float(e_k[depth - 1]) if depth else None))
    assert curve is not None  # S >= 1 networks
    dtypes = {}
    for dt in DTYPES:
        fi = jnp.finfo(dt)
        depths = [d for d, _ in per[dt] if d is not None]
        first = per[dt][0]
        dtypes[dt] = {
            "depth": first[0],
            "log10_E_at_depth": first[1],
            "depths": [d for d, _ in per[dt]],
            "log10_E_at_depths": [v for _, v in per[dt]],
            "median_depth": float(np.median(depths)) if len(depths) == S else None,
            "tiny_log10": float(np.log10(float(fi.tiny))),
            "subnormal_log10": float(np.log10(float(fi.smallest_subnormal))),
        }
    return {"k": curve[0], "log10_E": curve[1], "depth": L, "width": width, "networks": S, "dtypes": dtypes}


def underflow_draw(result, path, **_):
    from gradbounds import plotting

    return plotting.underflow(result, path=path)


def underflow_numbers(r):
    out = {"depth": (r["depth"], "d"), "width": (r["width"], "d"), "networks": (r["networks"], "d")}
    out["log10first"] = (r["log10_E"][-1], ".0f")
    for dt, d in r["dtypes"].items():
        out[f"{dt}.depth"] = (d["depth"], "d")
        out[f"{dt}.log10E"] = (d["log10_E_at_depth"], ".1f")
        out[f"{dt}.tiny"] = (d["tiny_log10"], ".1f")
        out[f"{dt}.subnormal"] = (d["subnormal_log10"], ".1f")
        ds = [x for x in d["depths"] if x is not None]
        out[f"{dt}.mindepth"] = (min(ds) if ds else None, "d")
        out[f"{dt}.maxdepth"] = (max(ds) if ds else None, "d")
    return out


def underflow_tables(r):
    rows = []
    for dt, d in r["dtypes"].items():
        ds = [x for x in d["depths"] if x is not None]
        es = [x for x in d["log10_E_at_depths"] if x is not None]
        rng = (f"{min(ds)}" if min(ds) == max(ds) else f"{min(ds)}--{max(ds)}") if ds else "none"
        erng = (
            (
                _tex(min(es), ".1f")
                if _tex(min(es), ".1f") == _tex(max(es), ".1f")
                else f"{_tex(min(es), '.1f')} to {_tex(max(es), '.1f')}"
            )
            if es
            else "--"
        )
        rows.append(
            f"\\texttt{{{dt}}} & {_tex(d['tiny_log10'], '.1f')} & {_tex(d['subnormal_log10'], '.1f')} & {rng} & {erng} \\\\"
        )
    return {
        "underflow": "\\begin{tabular}{l rr r r}\n\\toprule\n"
        "dtype & $\\log_{10}$ tiny & $\\log_{10}$ subnormal & zero from $k$ & exact $\\log_{10}\\|\\delta\\|$ there \\\\\n"
        "\\midrule\n" + "\n".join(rows) + "\n\\bottomrule\n\\end{tabular}\n"
    }


CHAIN = Experiment(chain_compute, chain_draw, chain_numbers)
UNDERFLOW = Experiment(underflow_compute, underflow_draw, underflow_numbers, underflow_tables)
