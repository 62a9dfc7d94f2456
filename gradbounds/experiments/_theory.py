"""Experiments of typical-case theory: spectra, the phase diagram, typical against worst."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradbounds.experiments._common import Experiment, _x64, experiment_key, quantiles

__all__ = ["SPECTRA", "PHASE", "TYPICAL"]


# --- spectra: expansion and shrinkage ------------------------------------------------------------

SPECTRA_SETTING: dict[str, Any] = dict(
    activation="tanh", sw2=1.05, sb2=2.01e-5
)  # near-critical tanh (Pennington et al. 2017)
RESOLVED = 14.0  # a direct SVD resolves singular values down to about 1e-14 of the largest; the QR method all
QR_TOL = 1e-6  # the QR sweeps' tolerance on log sigma (relative to 1 + |log sigma|): a plot's accuracy


def _at_fixed_point(key, n, activation, sw2, sb2):
    """An input with ``‖x‖²/n = (q* − σ_b²)/σ_w²``, so that ``z^1`` starts at the length map's fixed point."""
    import math

    import jax
    import jax.numpy as jnp

    from gradbounds import theory

    q = float(theory.q_star(activation, sw2, sb2))
    scale = math.sqrt((q - sb2) / sw2) if (math.isfinite(q) and q > sb2) else 1.0
    g = jax.random.normal(key, (n,))
    return scale * math.sqrt(n) * g / jnp.linalg.norm(g)


def _draw(seed, init, d, L, n):
    """Draw ``d`` of the spectra experiment: a network of ``init`` at the setting and its input."""
    import jax

    import gradbounds as gb

    st = SPECTRA_SETTING
    kn, kx = jax.random.split(experiment_key(seed, "spectra", ("gaussian", "orthogonal").index(init), n, d))
    return gb.init_network(kn, (n,) * (L + 1), init=init, **st), _at_fixed_point(
        kx, n, st["activation"], st["sw2"], st["sb2"]
    )


def _svd_stats(net, x):
    """Mean, variance and largest value of the squared singular values of ``∂a^L/∂x`` (direct SVD)."""
    import gradbounds as gb

    lam = np.exp(2 * np.asarray(gb.spectra.input_output_spectrum(net, x, method="svd").log_sv, float))
    return float(np.mean(lam)), float(np.var(lam)), float(lam.max())


def product_log10_sv(net, x, l):
    """Every ``log10 σ_i(Π_l)``: a direct SVD's, or the QR method's where the SVD would not resolve them all.

    A direct SVD resolves ``σ_i`` down to about ``10^{-14} σ_1`` (:data:`RESOLVED`); a product whose SVD spans
    more than ``RESOLVED - 2`` decades is computed again by the QR sweeps, which resolve every value.
    """
    import gradbounds as gb

    p = np.asarray(gb.spectra.product_spectrum(net, x, l, method="svd").log_sv) / np.log(10)
    if p[0] - p[-1] > RESOLVED - 2:
        p = np.asarray(gb.spectra.product_spectrum(net, x, l, method="qr", tol=QR_TOL).log_sv) / np.log(10)
    return p


def spectra_compute(*, quick, seed, **_):
    import gradbounds as gb
    from gradbounds import theory

    _x64()
    L, n = (12, 64) if quick else (32, 256)
    D, DW = (32, 16) if quick else (32, 32)  # draws at (L, n); draws at each width of the Gaussian edge's sequence
    st = SPECTRA_SETTING
    out = {"depth": L, "width": n, "draws": D, **st, "runs": {}}
    for init in ("gaussian", "orthogonal"):
        net, x = _draw(seed, init, 0, L, n)  # the figure's network: draw 0 of the D below
        # the QR method: every value, however small (a direct SVD stops at about 1e-14 sigma_1)
        sp = gb.spectra.input_output_spectrum(net, x, method="qr", tol=QR_TOL)
        log10_lam = 2 * np.asarray(sp.log_sv) / np.log(10)
        lam = 10.0**log10_lam
        pred = theory.jacobian_spectrum(st["activation"], st["sw2"], st["sb2"], L, init=init)
        out["runs"][init] = {
            "log10_lam": log10_lam,
            "measured": {"mean": float(np.mean(lam)), "variance": float(np.var(lam)), "edge": float(lam.max())},
            "predicted": {"mean": pred.mean, "variance": pred.variance, "edge": pred.edge},
            "chi1": pred.chi1,
        }
        stats = np.array([_svd_stats(*_draw(seed, init, d, L, n)) for d in range(D)])  # (D, 3)
        out["runs"][init]["draws"] = {k: quantiles(stats[:, j]) for j, k in enumerate(("mean", "variance", "edge"))}
        if init == "gaussian":  # per-layer and product spectra of the backward Jacobians
            out["layers"] = list(range(1, L))
            out["layer_log10_sv"] = [np.log10(np.asarray(v)) for v in gb.spectra.error_singular_values(net, x)]
            prods = [product_log10_sv(net, x, l) for l in range(1, L)]
            out["product_layers"] = list(range(1, L))
            out["product_log10_sv"] = prods  # every value: no floor
            out["expanding"] = [int(np.sum(p > 0)) for p in prods]
            out["label"] = f"{st['activation']}, Gaussian $W$, $\\sigma_w^2={st['sw2']}$"
    # the Gaussian edge at widths n/4 .. 2n, the same depth: how fast the largest value nears the limit
    widths = [n // 4, n // 2, n, 2 * n]
    edges = [quantiles([_svd_stats(*_draw(seed, "gaussian", d, L, w))[2] for d in range(DW)]) for w in widths]
    gap = np.array([out["runs"]["gaussian"]["predicted"]["edge"] - e["median"] for e in edges])
    ok = gap > 0
    slope = float(np.polyfit(np.log(np.asarray(widths)[ok]), np.log(gap[ok]), 1)[0]) if ok.sum() >= 2 else float("nan")
    out["edge_widths"] = {"widths": widths, "draws": DW, "edge": edges, "exponent": -slope}
    return out


def spectra_draw(result, path, **_):
    from gradbounds import plotting

    return plotting.spectra(result, path=path)


def spectra_numbers(r):
    out = {"depth": (r["depth"], "d"), "width": (r["width"], "d"), "sw2": (r["sw2"], ".3g"), "sb2": (r["sb2"], ".2e")}
    for init, run in r["runs"].items():
        for k in ("mean", "variance", "edge"):
            out[f"{init}.pred.{k}"] = (run["predicted"][k], ".3g")
            out[f"{init}.meas.{k}"] = (run["measured"][k], ".3g")
        out[f"{init}.chi1"] = (run["chi1"], ".4f")
        for k, q in run["draws"].items():  # over draws: median and 10-90 % interval
            for part in ("median", "lo", "hi"):
                out[f"{init}.draws.{k}.{part}"] = (q[part], ".3g")
    out["draws"] = (r["draws"], "d")
    ew = r["edge_widths"]
    out["edgew.draws"] = (ew["draws"], "d")
    out["edgew.exponent"] = (ew["exponent"], ".2f")
    for i, (w, e) in enumerate(zip(ew["widths"], ew["edge"])):
        out[f"edgew.{i}.width"] = (w, "d")
        for part in ("median", "lo", "hi"):
            out[f"edgew.{i}.{part}"] = (e[part], "#.3g")  # 32.0, not 32, beside 40.1
    p1 = np.asarray(r["product_log10_sv"][0], float)
    out["prod1.max"] = (p1[0], ".2f")
    out["prod1.expanding"] = (r["expanding"][0], "d")
    out["prodlast.expanding"] = (r["expanding"][-1], "d")
    out["layer.maxmax"] = (max(float(np.max(v)) for v in r["layer_log10_sv"]), ".2f")
    out["layer.expanding"] = (int(np.mean([np.sum(np.asarray(v) > 0) for v in r["layer_log10_sv"]])), "d")
    out["resolved"] = (RESOLVED, ".0f")
    out["prod1.decades"] = (p1[0] - p1[-1], ".0f")  # sigma_1 / sigma_min of Pi_1, in decades (QR method)
    out["lam.decades"] = (
        max(float(np.max(run["log10_lam"]) - np.min(run["log10_lam"])) for run in r["runs"].values()),
        ".0f",
    )
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
    # the critical line from sigma_b^2 = 0 to the axis' end: q* runs to the critical point at sb2[-1] exactly
    # (a fixed q grid ended at the last grid point below the axis' end, sigma_b^2 ~ 0.45 of 0.5)
    sw0, q0 = theory.critical_sw2(act, float(sb2[0]))
    q_end = theory.critical_sw2(act, float(sb2[-1]))[1]
    q = np.linspace(0.0, q_end, 201 if quick else 801)[1:]  # about evenly spaced in sigma_b^2 on the axis
    csw, csb = theory.critical_line(act, q)
    csw, csb = np.concatenate([[sw0], csw]), np.concatenate([[sb2[0]], csb])
    ok = (csb >= sb2[0]) & (csb <= sb2[-1] + 1e-12) & (csw <= sw2[-1])  # the last point: sb2[-1] to rounding
    at = {}
    for b in (0.0, 0.05, 0.3):
        w, qs = theory.critical_sw2(act, b)
        at[str(b)] = {"sw2": w, "q_star": qs}
    mf = theory.mean_field(act, 1.5, 0.05)
    return {
        "references": references(),
        "activation": act,
        "sw2": sw2,
        "sb2": sb2,
        "chi1": chi,
        "critical": {"sw2": csw[ok], "sb2": csb[ok], "q_star": np.concatenate([[q0], q])[ok]},
        "critical_at": at,
        "example": {"sw2": 1.5, "sb2": 0.05, **mf.to_dict()},
    }


def references(depth: int = 12) -> dict:
    """The toolkit beside published closed forms, recomputed independently (:mod:`._references`)."""
    from gradbounds import theory
    from gradbounds.experiments import _references as ref

    crit = {str(b): {"ours": theory.critical_sw2("tanh", b)[0], "ref": ref.quad_critical_sw2(b)} for b in (0.05, 0.3)}
    ex = theory.mean_field("tanh", 1.5, 0.05)
    q = ref.quad_mean_field(1.5, 0.05)
    scales = {k: {"ours": float(getattr(ex, k)), "ref": q[k]} for k in ("q_star", "chi1", "xi_q", "xi_c")}
    var = {}
    for act, sw2 in (("linear", 1.0), ("relu", 2.0)):
        for init in ("gaussian", "orthogonal"):
            mean, v, _ = theory.jacobian_moments(act, sw2, 0.0, depth, init=init)
            var[f"{act}.{init}"] = {"ours": v / mean**2 / depth, "ref": ref.pennington_variance(act, init)}
    edge = {"ours": theory.jacobian_edge("linear", 1.0, 0.0, depth), "ref": ref.fuss_catalan_edge(depth)}
    return {"depth": depth, "critical": crit, "scales": scales, "variance": var, "edge": edge}


def phase_draw(result, path, **_):
    from gradbounds import plotting

    return plotting.phase_diagram(result, path=path)


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
    ref = r["references"]
    out["ref.depth"] = (ref["depth"], "d")
    out["ref.maxrel"] = (_max_rel(ref), ".1e")
    return out


def _pairs(ref):
    yield from ((f"crit.{b}", d) for b, d in ref["critical"].items())
    yield from ((f"scale.{k}", d) for k, d in ref["scales"].items())
    yield from ((f"var.{k}", d) for k, d in ref["variance"].items())
    yield "edge", ref["edge"]


def _max_rel(ref) -> float:
    """Largest relative difference, toolkit against independent closed form (absolute where the value is 0)."""
    return max(abs(d["ours"] - d["ref"]) / max(abs(d["ref"]), 1.0) for _, d in _pairs(ref))


def phase_tables(r):
    ref = r["references"]
    L = ref["depth"]
    rows = []
    for b, d in ref["critical"].items():
        rows.append(
            f"critical $\\sigma_w^2$ at $\\sigma_b^2={b}$ & Schoenholz et al. 2017 & {d['ours']:.6f} & {d['ref']:.6f}"
        )
    names = {"q_star": "$q^*$", "chi1": "$\\chi_1$", "xi_q": "$\\xi_q$", "xi_c": "$\\xi_c$"}
    for k, d in ref["scales"].items():
        rows.append(f"{names[k]} at $(1.5, 0.05)$ & Schoenholz et al. 2017 & {d['ours']:.6f} & {d['ref']:.6f}")
    for k, d in ref["variance"].items():
        act, init = k.split(".")
        rows.append(
            f"$\\sigma^2_{{JJ^T}}/L$, {act}, {init} & Pennington et al. 2017 & {d['ours']:.6f} & {d['ref']:.6f}"
        )
    e = ref["edge"]
    rows.append(f"$\\lambda_{{\\max}}$, linear Gaussian, $L={L}$ & Fuss--Catalan & {e['ours']:.6f} & {e['ref']:.6f}")
    body = " \\\\\n".join(rows)
    return {
        "references": "\\begin{tabular}{llrr}\n\\hline\nquantity & closed form of & toolkit & independent \\\\\n"
        "\\hline\n" + body + " \\\\\n\\hline\n\\end{tabular}\n"
    }


# --- typical against worst case -----------------------------------------------------------------------

TYPICAL_SETTINGS = (("ordered", 0.8), ("critical", None), ("chaotic", 3.5))  # tanh, σ_b² = 0.05: critical σ_w² ≈ 1.76


def typical_compute(*, quick, seed, **_):
    from gradbounds import theory

    _x64()
    L, n, N = (16, 64, 4) if quick else (48, 200, 16)
    D = 32 if quick else 16  # independent draws of N networks each: the measured rate's distribution
    sb2 = 0.05
    panels = []
    for i, (name, sw2) in enumerate(TYPICAL_SETTINGS):
        if sw2 is None:
            sw2 = theory.critical_sw2("tanh", sb2)[0]
        kw: dict[str, Any] = dict(activation="tanh", sw2=sw2, sb2=sb2, n_networks=N)
        tw = theory.typical_vs_worst(experiment_key(seed, "typical", i), (n,) * (L + 1), **kw)
        d = tw.to_dict()
        d["name"] = name
        rates = theory.typical_rates(experiment_key(seed, "typical-draws", i), (n,) * (L + 1), draws=D, **kw)
        d["rate_draws"] = quantiles(rates)
        panels.append(d)
    return {"panels": panels, "depth": L, "width": n, "networks": N, "draws": D, "sb2": sb2}


def typical_draw(result, path, **_):
    from gradbounds import plotting

    return plotting.typical_worst(result, path=path)


def typical_numbers(r):
    out = {
        "depth": (r["depth"], "d"),
        "width": (r["width"], "d"),
        "networks": (r["networks"], "d"),
        "draws": (r["draws"], "d"),
        "sb2": (r["sb2"], ".2f"),
    }
    for p in r["panels"]:
        k = p["name"]
        out[f"{k}.sw2"] = (p["sw2"], ".3g")
        out[f"{k}.chi1"] = (p["chi1"], ".4f")
        out[f"{k}.logchi"] = (np.log10(p["chi1"]), ".4f")
        out[f"{k}.rate"] = (p["measured_rate"], ".4f")
        for part in ("median", "lo", "hi"):  # the rate over draws of N networks: median, 10-90 % interval
            out[f"{k}.rate.{part}"] = (p["rate_draws"][part], ".4f")
        out[f"{k}.slack1"] = (p["slack"][0], ".1f")
        out[f"{k}.gap1"] = (p["measured"][0] - p["predicted"][0], ".2f")
        out[f"{k}.xigrad"] = (p["xi_grad"], ".3g")
    inside = sum(p["rate_draws"]["lo"] <= np.log10(p["chi1"]) <= p["rate_draws"]["hi"] for p in r["panels"])
    out["inside"] = (int(inside), "d")  # settings whose 10-90 % interval of the rate holds log10 chi_1
    out["settings"] = (len(r["panels"]), "d")
    return out


SPECTRA = Experiment(spectra_compute, spectra_draw, spectra_numbers)
PHASE = Experiment(phase_compute, phase_draw, phase_numbers, phase_tables)
TYPICAL = Experiment(typical_compute, typical_draw, typical_numbers)
