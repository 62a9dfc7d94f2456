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
    from gradbounds import theory

    _x64()
    L, n = (12, 64) if quick else (32, 256)
    st = SPECTRA_SETTING
    out = {"depth": L, "width": n, **st, "runs": {}}
    for i, init in enumerate(("gaussian", "orthogonal")):
        import jax

        net = gb.init_network(jax.random.key(seed + 70 + i), (n,) * (L + 1), init=init, **st)
        x = _at_fixed_point(seed + 80 + i, n, st["activation"], st["sw2"], st["sb2"])
        sp = gb.spectra.input_output_spectrum(net, x, method="svd")
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
            prods = [
                np.asarray(gb.spectra.product_spectrum(net, x, l, method="svd").log_sv) / np.log(10)
                for l in range(1, L)
            ]
            out["product_layers"] = list(range(1, L))
            out["product_log10_sv"] = prods
            out["floor_log10"] = [float(p[0] - RESOLVED) for p in prods]
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
