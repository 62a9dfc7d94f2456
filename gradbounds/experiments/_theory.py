"""Experiments of typical-case theory: spectra, the phase diagram, typical against worst."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradbounds.experiments._common import Experiment, _x64

__all__ = ["SPECTRA", "PHASE", "TYPICAL"]


# --- spectra: expansion and shrinkage ------------------------------------------------------------

SPECTRA_SETTING: dict[str, Any] = dict(
    activation="tanh", sw2=1.05, sb2=2.01e-5
)  # near-critical tanh (Pennington et al. 2017)
RESOLVED = 14.0  # a direct SVD resolves singular values down to about 1e-14 of the largest; the QR method all
QR_TOL = 1e-6  # the QR sweeps' tolerance on log sigma (relative to 1 + |log sigma|): a plot's accuracy


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
    st = SPECTRA_SETTING
    out = {"depth": L, "width": n, **st, "runs": {}}
    for i, init in enumerate(("gaussian", "orthogonal")):
        import jax

        net = gb.init_network(jax.random.key(seed + 70 + i), (n,) * (L + 1), init=init, **st)
        x = _at_fixed_point(seed + 80 + i, n, st["activation"], st["sw2"], st["sb2"])
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
        if init == "gaussian":  # per-layer and product spectra of the backward Jacobians
            out["layers"] = list(range(1, L))
            out["layer_log10_sv"] = [np.log10(np.asarray(v)) for v in gb.spectra.error_singular_values(net, x)]
            prods = [product_log10_sv(net, x, l) for l in range(1, L)]
            out["product_layers"] = list(range(1, L))
            out["product_log10_sv"] = prods  # every value: no floor
            out["expanding"] = [int(np.sum(p > 0)) for p in prods]
            out["label"] = f"{st['activation']}, Gaussian $W$, $\\sigma_w^2={st['sw2']}$"
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
        "activation": act,
        "sw2": sw2,
        "sb2": sb2,
        "chi1": chi,
        "critical": {"sw2": csw[ok], "sb2": csb[ok], "q_star": np.concatenate([[q0], q])[ok]},
        "critical_at": at,
        "example": {"sw2": 1.5, "sb2": 0.05, **mf.to_dict()},
    }


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
    return out


# --- typical against worst case -----------------------------------------------------------------------

TYPICAL_SETTINGS = (("ordered", 0.8), ("critical", None), ("chaotic", 3.5))  # tanh, σ_b² = 0.05: critical σ_w² ≈ 1.76


def typical_compute(*, quick, seed, **_):
    import jax

    from gradbounds import theory

    _x64()
    L, n, N = (16, 64, 4) if quick else (48, 200, 16)
    sb2 = 0.05
    panels = []
    for i, (name, sw2) in enumerate(TYPICAL_SETTINGS):
        if sw2 is None:
            sw2 = theory.critical_sw2("tanh", sb2)[0]
        tw = theory.typical_vs_worst(
            jax.random.key(seed + 90 + i), (n,) * (L + 1), activation="tanh", sw2=sw2, sb2=sb2, n_networks=N
        )
        d = tw.to_dict()
        d["name"] = name
        panels.append(d)
    return {"panels": panels, "depth": L, "width": n, "networks": N, "sb2": sb2}


def typical_draw(result, path, **_):
    from gradbounds import plotting

    return plotting.typical_worst(result, path=path)


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


SPECTRA = Experiment(spectra_compute, spectra_draw, spectra_numbers)
PHASE = Experiment(phase_compute, phase_draw, phase_numbers)
TYPICAL = Experiment(typical_compute, typical_draw, typical_numbers)
