"""The experiments behind ``gradbounds figures`` and the paper's numbers.

Each :class:`Experiment` has ``compute(quick, seed, nielsen_dir) -> dict``
(JSON-ready), ``draw(result, path, ...)`` (a :mod:`gradbounds.figures`
function), ``numbers(result) -> {key: (value, format)}`` and optionally
``tables(result) -> {name: LaTeX}``; ``requires`` names the modules it needs.
Every random draw comes from ``jax.random.key(seed + offset)``.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5; DESIGN.md §2–3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

SEED_WIDTHS = (784, 30, 30, 30, 30, 10)


class Experiment(NamedTuple):
    compute: Callable
    draw: Callable
    numbers: Callable | None = None
    tables: Callable | None = None
    requires: tuple = ()


def _x64():
    import jax

    if not jax.config.jax_enable_x64:
        raise ValueError("figures: expected jax_enable_x64 (float64 verdicts); run through `gradbounds figures`")


def random_family(seed, widths, N, n, **init):
    """``N`` networks (stacked) and ``n`` examples each: inputs U[0,1], one-hot targets of random classes."""
    import jax

    import gradbounds as gb

    keys = jax.random.split(jax.random.key(seed), N)
    nets = jax.vmap(lambda k: gb.init_network(k, widths, **init))(keys)
    kx, ky = jax.random.split(jax.random.key(seed + 1))
    x = jax.random.uniform(kx, (N, n, widths[0]))
    y = jax.nn.one_hot(jax.random.randint(ky, (N, n), 0, widths[-1]), widths[-1], dtype=x.dtype)
    return nets, x, y


# --- ladder -------------------------------------------------------------------


def ladder_compute(*, quick, seed, **_):
    import jax

    import gradbounds as gb

    _x64()
    N, n = (4, 8) if quick else (50, 20)
    nets, x, y = random_family(seed, SEED_WIDTHS, N, n, activation="sigmoid", init="nielsen")
    d = gb.sweep(nets, x, y, cost="quadratic").to_dict()
    d.update(activation="sigmoid", init="nielsen", networks=N, examples=n)
    d.update(product_check(jax.tree_util.tree_map(lambda t: t[0], nets), x[0], y[0]))
    return d


def product_check(net, X, Y) -> dict:
    """Largest relative differences: closed-form backprop vs autodiff, and ‖∂C/∂W^l‖ vs ‖δ^l‖‖a^{l-1}‖."""
    import gradbounds as gb

    pe, we = 0.0, 0.0
    for x, y in zip(X, Y):
        cf, ad = gb.errors(net, x, y), gb.errors_autodiff(net, x, y)
        a, gWs = gb.forward(net, x).a, gb.weight_gradients(net, x, y)
        for l, (u, v) in enumerate(zip(cf, ad)):
            pe = max(pe, float(np.linalg.norm(u - v) / np.linalg.norm(v)))
            gW = np.asarray(gWs[l])
            rhs = float(np.linalg.norm(v) * np.linalg.norm(a[l]))
            for ord_ in (2, "fro"):
                we = max(we, abs(np.linalg.norm(gW, ord_) - rhs) / rhs)
    return {"product_error": pe, "weight_error": we}


def ladder_draw(result, path, **_):
    from gradbounds import figures

    return figures.bound_ladder(result, path=path)


def ladder_numbers(r):
    lay = r["layers"]
    out = {"networks": (r["networks"], "d"), "examples": (r["examples"], "d"), "verdict": (r["verdict"], "s")}
    out["producterror"] = (r["product_error"], ".0e")
    out["weighterror"] = (r["weight_error"], ".0e")
    for e in lay:
        l = e["layer"]
        for k in ("E", "P", "J", "D", "G"):
            out[f"{k}.{l}"] = (e["log10"][k], ".2f")
        for k, v in e["slack_log10"].items():
            out[f"slack.{k}.{l}"] = (v, ".2f")
    out["ratioE"] = (10 ** (lay[-2]["log10"]["E"] - lay[0]["log10"]["E"]), ".0f")  # last hidden / first hidden
    out["ratioG"] = (10 ** (lay[-2]["log10"]["G"] - lay[0]["log10"]["G"]), ".0f")
    return out


def ladder_tables(r):
    rows = []
    for e in r["layers"]:
        lv, s = e["log10"], e["slack_log10"]
        cells = [str(e["layer"])] + [_tex(lv[k]) for k in "EPJDG"]
        cells += [_tex(s[k]) for k in ("alignment", "submultiplicativity", "split", "activation", "total")]
        rows.append(" & ".join(cells) + r" \\")
    head = r"$l$ & $E$ & $P$ & $J$ & $D$ & $G$ & $P{-}E$ & $J{-}P$ & $D{-}J$ & $G{-}D$ & $G{-}E$ \\"
    body = "\n".join(rows)
    return {
        "ladder": "\\begin{tabular}{r rrrrr rrrrr}\n\\toprule\n"
        "& \\multicolumn{5}{c}{$\\log_{10}$ level} & \\multicolumn{5}{c}{slack, $\\log_{10}$} \\\\\n"
        "\\cmidrule(lr){2-6}\\cmidrule(lr){7-11}\n"
        f"{head}\n\\midrule\n{body}\n\\bottomrule\n\\end{{tabular}}\n"
    }


def _tex(v, fmt=".2f"):
    from gradbounds.commands.figures import tex_number

    return "--" if v is None or isinstance(v, str) else tex_number(v, fmt)


# --- slack against depth ------------------------------------------------------------

SLACK_FAMILIES = (
    ("sigmoid, Nielsen init", dict(activation="sigmoid", init="nielsen")),
    ("relu, He", dict(activation="relu", init="he")),
)


def slack_compute(*, quick, seed, **_):
    _x64()
    L, width, N, n = (32, 16, 4, 4) if quick else (200, 30, 10, 10)
    fams = []
    for i, (label, init) in enumerate(SLACK_FAMILIES):
        nets, x, y = random_family(seed + 10 * i, (width,) * (L + 1), N, n, **init)
        import gradbounds as gb

        h = gb.sweep(nets, x, y)
        s = h.slack_log10()
        k = np.arange(L, 0, -1)  # layers crossed at layer l = 1..L
        order = np.argsort(k)
        ok = np.isfinite(s["total"])  # E = 0 (a dead relu network) has no finite slack
        tot = np.where(ok, s["total"], np.nan)
        fam = {
            "label": label,
            "init": init,
            "k": k[order],
            "slack": {
                p: (np.sum(np.where(ok, v, 0.0), axis=(0, 1)) / np.sum(ok, axis=(0, 1)))[order] for p, v in s.items()
            },
            "slack_min": np.nanmin(tot, axis=(0, 1))[order],
            "slack_max": np.nanmax(tot, axis=(0, 1))[order],
            "excluded": int(np.sum(~ok[..., 0])),
            "verdict": h.verdict,
        }
        fams.append(fam)
    verdict = max((f["verdict"] for f in fams), key=("holds", "inconclusive", "violated").index)
    return {"families": fams, "depth": L, "width": width, "networks": N, "examples": n, "verdict": verdict}


def slack_draw(result, path, **_):
    from gradbounds import figures

    return figures.slack_depth(result, path=path)


def slack_numbers(r):
    out = {"depth": (r["depth"], "d"), "width": (r["width"], "d"), "networks": (r["networks"], "d")}
    for fam, key in zip(r["families"], ("sigmoid", "relu")):
        k = np.asarray(fam["k"], float)
        tot = np.asarray(fam["slack"]["total"], float)
        slope = np.polyfit(k[k >= 5], tot[k >= 5], 1)[0]
        out[f"{key}.perlayer"] = (slope, ".2f")
        out[f"{key}.total"] = (tot[-1], ".1f")
        for p in ("alignment", "submultiplicativity", "split", "activation"):
            out[f"{key}.share.{p}"] = (100 * fam["slack"][p][-1] / tot[-1], ".0f")
    return out


# --- the one-neuron chain ------------------------------------------------------------------


def _chain_result(net, cost="quadratic"):
    from gradbounds.chain import chain_gradients

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

    from gradbounds.chain import chain_network

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
    from gradbounds import figures

    return figures.chain(result["vanishing"], result["exploding"], path=path)


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
        E = np.asarray(gb.levels(net, x, y).E) / np.log(10)  # layer l = 1..L
        k = np.arange(L, 0, -1)
        e_k = E[::-1]  # index k-1 -> layers crossed k
        if curve is None:
            curve = (k[::-1], e_k)
        for dt in DTYPES:
            depth = gb.underflow_depth(net, x, y, dtype=dt)
            per[dt].append((depth, float(e_k[depth - 1]) if depth else None))
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
    from gradbounds import figures

    return figures.underflow(result, path=path)


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
        rng = f"{min(ds)}--{max(ds)}" if ds else "none"
        erng = f"{_tex(min(es), '.1f')} to {_tex(max(es), '.1f')}" if es else "--"
        rows.append(
            f"\\texttt{{{dt}}} & {_tex(d['tiny_log10'], '.1f')} & {_tex(d['subnormal_log10'], '.1f')} & {rng} & {erng} \\\\"
        )
    return {
        "underflow": "\\begin{tabular}{l rr r r}\n\\toprule\n"
        "dtype & $\\log_{10}$ tiny & $\\log_{10}$ subnormal & zero from $k$ & exact $\\log_{10}\\|\\delta\\|$ there \\\\\n"
        "\\midrule\n" + "\n".join(rows) + "\n\\bottomrule\n\\end{tabular}\n"
    }


# --- Nielsen's chapter-5 experiment ------------------------------------------------------------


def nielsen_compute(*, quick, seed, nielsen_dir=None, **_):
    from gradbounds import data, training
    from gradbounds.figures import load_nielsen

    _x64()
    pub = load_nielsen(nielsen_dir)
    d = None
    if not quick:
        try:
            d = data.load_dataset("fashion-mnist")
        except (OSError, ValueError):
            d = None  # not installed: the embedded digits
    d = d if d is not None else data.load_digits()
    steps = 60 if quick else 500
    runs = {}
    for k in (2, 3, 4):
        r = training.train(d, training.preset("nielsen-ch5", hidden=k, steps=steps), seed=seed + 40 + k)
        hs = np.asarray(r.hidden_speeds)
        det = r.details
        verdicts = [x.get("verdict", "holds") for x in det]
        runs[k] = {
            "speeds": hs,
            "initial": hs[0],
            "final": np.asarray(r.final["speeds"][:-1]),
            "bound_slack_initial": det[0]["bound_slack_log10"][:-1] if det else None,
            "cancellation_initial": det[0]["cancellation_log10"][:-1] if det else None,
            "verdict": max(verdicts, key=("holds", "inconclusive", "violated").index) if verdicts else "holds",
            "accuracy": r.final.get("accuracy"),
        }
    verdict = max((v["verdict"] for v in runs.values()), key=("holds", "inconclusive", "violated").index)
    return {"dataset": d.name, "steps": steps, "runs": runs, "published": pub, "verdict": verdict}


def nielsen_draw(result, path, **_):
    from gradbounds import figures

    pub = {int(k): np.asarray(v) for k, v in result["published"].items()}
    ours = {int(k): np.asarray(v["speeds"]) for k, v in result["runs"].items()}
    return figures.nielsen_speeds(ours, published=pub, path=path, label=f"ours, {result['dataset']}")


def nielsen_numbers(r):
    out = {"dataset": (r["dataset"], "s"), "steps": (r["steps"], "d"), "verdict": (r["verdict"], "s")}
    for k, run in r["runs"].items():
        ini, pub = (
            np.asarray(run["initial"]),
            np.asarray(r["published"][str(k)] if str(k) in r["published"] else r["published"][k])[0],
        )
        for i in range(int(k)):
            out[f"ours.{k}.{i + 1}"] = (ini[i], ".3g")
            out[f"pub.{k}.{i + 1}"] = (pub[i], ".3g")
        out[f"ours.{k}.ratio"] = (ini[-1] / ini[0], ".0f")
        out[f"pub.{k}.ratio"] = (pub[-1] / pub[0], ".0f")
        fin = np.asarray(run["final"])
        out[f"ours.{k}.finalratio"] = (fin[-1] / fin[0], ".0f")
        if run.get("bound_slack_initial") is not None:
            out[f"ours.{k}.slack1"] = (run["bound_slack_initial"][0], ".2f")
            out[f"ours.{k}.cancel1"] = (run["cancellation_initial"][0], ".2f")
    return out


def nielsen_tables(r):
    rows = []
    for k, run in r["runs"].items():
        ini = np.asarray(run["initial"])
        pub = np.asarray(r["published"][str(k)] if str(k) in r["published"] else r["published"][k])[0]
        for i in range(int(k)):
            first = "\\midrule\n" if i == 0 and rows else ""
            rows.append(
                f"{first}{k if i == 0 else ''} & {i + 1} & {_tex(pub[i], '.3g')} & {_tex(ini[i], '.3g')}"
                f" & {_tex(pub[i] / pub[-1], '.3f')} & {_tex(ini[i] / ini[-1], '.3f')} \\\\"
            )
    return {
        "nielsen": "\\begin{tabular}{cc rr rr}\n\\toprule\n"
        "& & \\multicolumn{2}{c}{initial speed} & \\multicolumn{2}{c}{ratio to last hidden} \\\\\n"
        "\\cmidrule(lr){3-4}\\cmidrule(lr){5-6}\n"
        "$k$ & layer & Nielsen & ours & Nielsen & ours \\\\\n\\midrule\n"
        + "\n".join(rows)
        + "\n\\bottomrule\n\\end{tabular}\n"
    }


# --- spectra: expansion and shrinkage ------------------------------------------------------------

SPECTRA_SETTING = dict(activation="tanh", sw2=1.05, sb2=2.01e-5)  # near-critical tanh (Pennington et al. 2017)
RESOLVED = 14.0  # a direct SVD resolves singular values down to about 1e-14 of the largest


def _at_fixed_point(seed, n, activation, sw2, sb2):
    """An input with ``‖x‖²/n = (q* − σ_b²)/σ_w²``, so that ``z^1`` starts at the length map's fixed point."""
    import math

    import jax
    import jax.numpy as jnp

    from gradbounds import theory

    q = float(theory.q_star(activation, sw2, sb2))
    scale = math.sqrt((q - sb2) / sw2) if (math.isfinite(q) and q > sb2) else 1.0
    g = jax.random.normal(jax.random.key(seed), (n,))
    return scale * math.sqrt(n) * g / jnp.linalg.norm(g)


def spectra_compute(*, quick, seed, **_):
    import gradbounds as gb
    from gradbounds import freeprob, spectra

    _x64()
    L, n = (12, 64) if quick else (32, 256)
    st = SPECTRA_SETTING
    out = {"depth": L, "width": n, **st, "runs": {}}
    for i, init in enumerate(("gaussian", "orthogonal")):
        import jax

        net = gb.init_network(jax.random.key(seed + 70 + i), (n,) * (L + 1), init=init, **st)
        x = _at_fixed_point(seed + 80 + i, n, st["activation"], st["sw2"], st["sb2"])
        sp = spectra.input_output_spectrum(net, x, method="svd")
        log10_lam = 2 * np.asarray(sp.log_sv) / np.log(10)
        lam = 10.0**log10_lam
        pred = freeprob.jacobian_spectrum(st["activation"], st["sw2"], st["sb2"], L, init=init)
        out["runs"][init] = {
            "log10_lam": log10_lam,
            "measured": {"mean": float(np.mean(lam)), "variance": float(np.var(lam)), "edge": float(lam.max())},
            "predicted": {"mean": pred.mean, "variance": pred.variance, "edge": pred.edge},
            "chi1": pred.chi1,
        }
        if init == "gaussian":  # per-layer and product spectra of the backward Jacobians
            out["layers"] = list(range(1, L))
            out["layer_log10_sv"] = [np.log10(np.asarray(v)) for v in spectra.error_singular_values(net, x)]
            prods = [
                np.asarray(spectra.product_spectrum(net, x, l, method="svd").log_sv) / np.log(10) for l in range(1, L)
            ]
            out["product_layers"] = list(range(1, L))
            out["product_log10_sv"] = prods
            out["floor_log10"] = [float(p[0] - RESOLVED) for p in prods]
            out["expanding"] = [int(np.sum(p > 0)) for p in prods]
            out["label"] = f"{st['activation']}, Gaussian $W$, $\\sigma_w^2={st['sw2']}$"
    return out


def spectra_draw(result, path, **_):
    from gradbounds import figures

    return figures.spectra(result, path=path)


def spectra_numbers(r):
    out = {"depth": (r["depth"], "d"), "width": (r["width"], "d"), "sw2": (r["sw2"], ".3g"), "sb2": (r["sb2"], ".2e")}
    for init, run in r["runs"].items():
        for k in ("mean", "variance", "edge"):
            out[f"{init}.pred.{k}"] = (run["predicted"][k], ".3g")
            out[f"{init}.meas.{k}"] = (run["measured"][k], ".3g")
        out[f"{init}.chi1"] = (run["chi1"], ".4f")
    p1 = np.asarray(r["product_log10_sv"][0], float)
    out["prod1.max"] = (p1[0], ".2f")
    out["prod1.expanding"] = (r["expanding"][0], "d")
    out["prodlast.expanding"] = (r["expanding"][-1], "d")
    out["layer.maxmax"] = (max(float(np.max(v)) for v in r["layer_log10_sv"]), ".2f")
    out["layer.expanding"] = (int(np.mean([np.sum(np.asarray(v) > 0) for v in r["layer_log10_sv"]])), "d")
    out["resolved"] = (RESOLVED, ".0f")
    return out


# --- mean-field phase diagram ----------------------------------------------------------------------


def phase_compute(*, quick, seed, **_):
    from gradbounds import theory

    act = "tanh"
    m = (40, 30) if quick else (160, 120)
    sw2 = np.linspace(0.5, 4.0, m[0])
    sb2 = np.linspace(0.0, 0.5, m[1])
    SW, SB = np.meshgrid(sw2, sb2)
    chi = np.asarray(theory.mean_field(act, SW, SB, correlation=False).chi1)
    q = np.geomspace(1e-4, 50, 200 if quick else 800)
    csw, csb = theory.critical_line(act, q)
    ok = (np.asarray(csb) >= 0) & (np.asarray(csb) <= sb2[-1]) & (np.asarray(csw) <= sw2[-1])
    at = {}
    for b in (0.0, 0.05, 0.3):
        w, qs = theory.critical_sw2(act, b)
        at[str(b)] = {"sw2": w, "q_star": qs}
    mf = theory.mean_field(act, 1.5, 0.05)
    return {
        "activation": act,
        "sw2": sw2,
        "sb2": sb2,
        "chi1": chi,
        "critical": {"sw2": np.asarray(csw)[ok], "sb2": np.asarray(csb)[ok]},
        "critical_at": at,
        "example": {"sw2": 1.5, "sb2": 0.05, **mf.to_dict()},
    }


def phase_draw(result, path, **_):
    from gradbounds import figures

    return figures.phase_diagram(result, path=path)


def phase_numbers(r):
    out = {}
    for b, d in r["critical_at"].items():
        key = b.replace(".", "p")
        out[f"crit.{key}.sw2"] = (d["sw2"], ".4f")
        out[f"crit.{key}.qstar"] = (d["q_star"], ".3g")
        out[f"crit.{key}.sb2"] = (float(b), ".2g")
    ex = r["example"]
    for k in ("q_star", "chi1", "xi_grad", "xi_q", "xi_c"):
        out[f"example.{k}"] = (ex[k], ".4g")
    out["example.phase"] = (ex["phase"], "s")
    out["example.sw2"] = (ex["sw2"], ".3g")
    out["example.sb2"] = (ex["sb2"], ".3g")
    return out


# --- typical against worst case -----------------------------------------------------------------------

TYPICAL_SETTINGS = (("ordered", 0.8), ("critical", None), ("chaotic", 3.5))  # tanh, σ_b² = 0.05: critical σ_w² ≈ 1.76


def typical_compute(*, quick, seed, **_):
    import jax

    from gradbounds import theory
    from gradbounds.typical import typical_vs_worst

    _x64()
    L, n, N = (16, 64, 4) if quick else (48, 200, 16)
    sb2 = 0.05
    panels = []
    for i, (name, sw2) in enumerate(TYPICAL_SETTINGS):
        if sw2 is None:
            sw2 = theory.critical_sw2("tanh", sb2)[0]
        tw = typical_vs_worst(
            jax.random.key(seed + 90 + i), (n,) * (L + 1), activation="tanh", sw2=sw2, sb2=sb2, n_networks=N
        )
        d = tw.to_dict()
        d["name"] = name
        panels.append(d)
    return {"panels": panels, "depth": L, "width": n, "networks": N, "sb2": sb2}


def typical_draw(result, path, **_):
    from gradbounds import figures

    return figures.typical_worst(result, path=path)


def typical_numbers(r):
    out = {
        "depth": (r["depth"], "d"),
        "width": (r["width"], "d"),
        "networks": (r["networks"], "d"),
        "sb2": (r["sb2"], ".2f"),
    }
    for p in r["panels"]:
        k = p["name"]
        out[f"{k}.sw2"] = (p["sw2"], ".3g")
        out[f"{k}.chi1"] = (p["chi1"], ".4f")
        out[f"{k}.logchi"] = (np.log10(p["chi1"]), ".4f")
        out[f"{k}.rate"] = (p["measured_rate"], ".4f")
        out[f"{k}.slack1"] = (p["slack"][0], ".1f")
        out[f"{k}.gap1"] = (p["measured"][0] - p["predicted"][0], ".2f")
        out[f"{k}.xigrad"] = (p["xi_grad"], ".3g")
    return out


EXPERIMENTS = {
    "ladder": Experiment(ladder_compute, ladder_draw, ladder_numbers, ladder_tables),
    "slack": Experiment(slack_compute, slack_draw, slack_numbers),
    "chain": Experiment(chain_compute, chain_draw, chain_numbers),
    "underflow": Experiment(underflow_compute, underflow_draw, underflow_numbers, underflow_tables),
    "spectra": Experiment(
        spectra_compute, spectra_draw, spectra_numbers, None, ("gradbounds.spectra", "gradbounds.freeprob")
    ),
    "phase": Experiment(phase_compute, phase_draw, phase_numbers, None, ("gradbounds.theory",)),
    "typical": Experiment(
        typical_compute, typical_draw, typical_numbers, None, ("gradbounds.typical", "gradbounds.theory")
    ),
    "nielsen": Experiment(
        nielsen_compute, nielsen_draw, nielsen_numbers, nielsen_tables, ("gradbounds.training", "gradbounds.data")
    ),
}
