# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6. Typical case against worst case
#
# **Claim (mean field: Poole et al. 2016, Schoenholz et al. 2017; free
# probability: Pennington et al. 2017).**  For wide random networks with
# $W_{ij}\sim N(0,\sigma_w^2/n)$, $b_i\sim N(0,\sigma_b^2)$ the typical squared
# gradient changes by a factor
# $\chi_1=\sigma_w^2\,E_z[\sigma'(\sqrt{q^*}z)^2]$ per layer,
# $E\|\delta^l\|^2\approx\chi_1^{L-l}E\|\delta^L\|^2$: it vanishes for
# $\chi_1<1$ and explodes for $\chi_1>1$.  The squared singular values of the
# input-output Jacobian have mean $\chi_1^L$ and a variance that depends on
# the weight ensemble.  The worst-case bound $G$ holds in every case but
# cannot tell these regimes apart.

# %%
import math
import os

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
import gradbounds as gb  # noqa: E402
from gradbounds import plotting, spectra, theory  # noqa: E402
from gradbounds.theory import typical_vs_worst  # noqa: E402

QUICK = os.environ.get("GRADBOUNDS_QUICK") == "1"
WIDTH, DEPTH, NETS = (100, 16, 6) if QUICK else (300, 40, 16)

# %% [markdown]
# ## Exact facts of the theory
# relu with $\sigma_w^2=2$ has $\chi_1=1$ at every $q$; on the critical line
# of tanh $\chi_1=1$; the critical line starts at $\sigma_w^2=1$ for
# $\sigma_b^2=0$ (tanh'(0) = 1).

# %%
for q in (0.1, 1.0, 10.0):
    assert abs(theory.chi1("relu", 2.0, 0.0, q=q) - 1.0) < 1e-12
sw2_c, q_c = theory.critical_sw2("tanh", 0.05)
assert abs(theory.chi1("tanh", sw2_c, 0.05) - 1.0) < 1e-8
assert abs(theory.critical_sw2("tanh", 0.0)[0] - 1.0) < 1e-12
print(f"tanh, sigma_b^2 = 0.05: critical sigma_w^2 = {sw2_c:.6f} (q* = {q_c:.4f})")

# %% [markdown]
# ## Mean field against measurement, and the bound
# Three settings of tanh networks at $\sigma_b^2=0.05$: ordered, critical,
# chaotic.  The measured per-layer rate ($\log_{10}$ of the factor by which
# the mean of $\|\delta^l\|^2$ changes per layer, fitted over all layers)
# against $\log_{10}\chi_1$; the tolerance is for finite width and
# $N$ networks (seeded).

# %%
settings = {"ordered": 0.8, "critical": sw2_c, "chaotic": 3.5}
res = {}
for i, (name, sw2) in enumerate(settings.items()):
    tw = typical_vs_worst(
        jax.random.key(10 + i), (WIDTH,) * (DEPTH + 1), activation="tanh", sw2=sw2, sb2=0.05, n_networks=NETS
    )
    res[name] = tw
    print(
        f"{name:9s} chi1 = {tw.chi1:.4f}: measured rate {tw.measured_rate:+.4f} vs log10 chi1 {math.log10(tw.chi1):+.4f}; "
        f"bound slack at layer 1 = {tw.slack[0]:.1f}"
    )
    assert abs(tw.measured_rate - math.log10(tw.chi1)) < 0.05, name
    assert np.all(tw.bound >= tw.exact_mean)  # the worst case holds (mean of log10, per layer)
assert res["ordered"].chi1 < 1 < res["chaotic"].chi1
assert res["ordered"].measured[0] < res["ordered"].measured[-1]  # vanishing towards the input
assert res["chaotic"].measured[0] > res["chaotic"].measured[-1]  # exploding towards the input
# ... while the bound grows towards the input in every regime: it cannot tell them apart
for tw in res.values():
    assert tw.bound[0] > tw.bound[-1]

# %% [markdown]
# ## Free probability: the Jacobian's spectrum
# Near-critical tanh ($\sigma_w^2=1.05$, $\sigma_b^2=2.01\times10^{-5}$):
# Gaussian and orthogonal weights share $\chi_1$ (the mean of $\lambda$) but
# not the spread.  Orthogonal weights keep every singular value near 1.
# Tolerances: finite width (O(1/n)) for the orthogonal ensemble; the Gaussian
# spectrum is heavy-tailed, so its sample mean over a few networks is only
# checked to a factor 2, and its largest value to a factor 2 of the
# (infinite-width) edge, which a finite sample may fall short of or overshoot
# (with the full settings, 16 networks of width 300, it overshoots).

# %%
sw2, sb2, L, n = 1.05, 2.01e-5, DEPTH, WIDTH
meas = {}
for i, init in enumerate(("gaussian", "orthogonal")):
    lams = []
    for s_ in range(NETS):  # the Gaussian spectrum is heavy-tailed: average over networks
        net = gb.init_network(
            jax.random.key(20 + 100 * i + s_), (n,) * (L + 1), activation="tanh", init=init, sw2=sw2, sb2=sb2
        )
        q = float(theory.q_star("tanh", sw2, sb2))
        g = jax.random.normal(jax.random.key(30 + 100 * i + s_), (n,))
        x = math.sqrt((q - sb2) / sw2 * n) * g / np.linalg.norm(np.asarray(g))
        lams.append(np.exp(2 * np.asarray(spectra.input_output_spectrum(net, x, method="svd").log_sv)))
    lam = np.concatenate(lams)
    pred = theory.jacobian_spectrum("tanh", sw2, sb2, L, init=init)
    meas[init] = (lam, pred)
    print(
        f"{init:10s}: mean {lam.mean():.3f} (predicted {pred.mean:.3f}), variance {lam.var():.3f} ({pred.variance:.3f}), "
        f"max {lam.max():.3f} (edge {pred.edge:.3f})"
    )
lam_o, pred_o = meas["orthogonal"]
assert abs(lam_o.mean() / pred_o.mean - 1) < 0.05
assert abs(lam_o.var() / pred_o.variance - 1) < 0.3 and abs(lam_o.max() / pred_o.edge - 1) < 0.1
# Gaussian weights: a heavy-tailed spectrum whose sample mean converges slowly; within a factor 2
lam_g, pred_g = meas["gaussian"]
assert 0.5 < lam_g.mean() / pred_g.mean < 2 and 0.5 < lam_g.max() / pred_g.edge < 2
assert meas["gaussian"][0].var() > 10 * lam_o.var()  # same chi1, far wider spectrum

# %% [markdown]
# ## The figure

# %%
fig = plotting.typical_worst({"panels": [dict(tw.to_dict(), name=k) for k, tw in res.items()]})
np.testing.assert_allclose(fig.axes[0].get_lines()[-1].get_ydata(), res["ordered"].measured)
plotting.show(fig)
