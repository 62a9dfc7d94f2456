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
# # 4. Singular values: expansion and shrinkage
#
# **Claim (as lecture notes put it).**  Backpropagation multiplies the output error
# by $\Pi_l = B^l B^{l+1}\cdots B^{L-1}$, $B^r=\Sigma'(z^r)(W^{r+1})^T$.  With
# $\Pi_l = U\Sigma V^T$,
#
# $$\delta^l = \Pi_l\,\delta^L = \sum_j \sigma_j\,(v_j^T\delta^L)\,u_j:$$
#
# the error is *expanded* along right singular vectors with $\sigma_j>1$ and
# *shrunk* along those with $\sigma_j<1$.  The largest singular value of a
# product is at most the product of the largest ones
# (submultiplicativity), and in random networks usually far below it.
#
# We check the Jacobians' singular values against numpy's SVD, the
# decomposition above, submultiplicativity, and the QR method for products
# whose singular values no float64 number can hold.

# %%
import os

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
import gradbounds as gb  # noqa: E402
from gradbounds import plotting, spectra  # noqa: E402
from gradbounds.core import error_jacobian, input_output_jacobian, layer_jacobian  # noqa: E402

QUICK = os.environ.get("GRADBOUNDS_QUICK") == "1"
DEEP = 600 if QUICK else 1000

widths = (8, 8, 8, 8, 8, 4)
net = gb.init_network(jax.random.key(0), widths, activation="relu", init="gaussian", sw2=3.0, sb2=0.05)
x = jax.random.normal(jax.random.key(1), (8,))
y = jax.random.uniform(jax.random.key(2), (4,))
L = len(net)

# %% [markdown]
# ## Layer Jacobians
# `spectra.layer_singular_values` against numpy's SVD of the closed form
# $J^l=\Sigma'(z^l)W^l$ (itself checked against `jax.jacfwd` in the test suite).

# %%
sv = spectra.layer_singular_values(net, x)
for l in range(1, L + 1):
    J = np.asarray(layer_jacobian(net, x, l))
    np.testing.assert_allclose(sv[l - 1], np.linalg.svd(J, compute_uv=False), rtol=1e-12, atol=1e-14)
esv = spectra.error_singular_values(net, x)
for l in range(1, L):
    B = np.asarray(error_jacobian(net, x, l))
    np.testing.assert_allclose(esv[l - 1], np.linalg.svd(B, compute_uv=False), rtol=1e-12, atol=1e-14)
print("largest singular value per layer:", [round(float(s[0]), 3) for s in sv])

# %% [markdown]
# ## The input-output Jacobian is the product of the layer Jacobians

# %%
Jio = np.asarray(input_output_jacobian(net, x, method="jacfwd"))
prod = np.eye(8)
for l in range(1, L + 1):
    prod = np.asarray(layer_jacobian(net, x, l)) @ prod
np.testing.assert_allclose(Jio, prod, rtol=1e-12, atol=1e-15)
for method in ("svd", "qr"):
    s_io = np.exp(np.asarray(spectra.input_output_spectrum(net, x, method=method).log_sv))
    np.testing.assert_allclose(s_io, np.linalg.svd(Jio, compute_uv=False), rtol=1e-10)

# %% [markdown]
# ## Expansion and shrinkage of the error
# $\Pi_1$ maps $\delta^L$ to $\delta^1$; its right singular vectors split the
# output error into directions that are expanded and shrunk.

# %%
d = gb.errors(net, x, y)
P = np.eye(widths[-1])
for l in range(L - 1, 0, -1):
    P = np.asarray(error_jacobian(net, x, l)) @ P  # Π_l = B^l Π_{l+1}
np.testing.assert_allclose(P @ np.asarray(d[-1]), np.asarray(d[0]), rtol=1e-12, atol=1e-15)
U, S, Vt = np.linalg.svd(P, full_matrices=False)
recon = sum(S[j] * (Vt[j] @ np.asarray(d[-1])) * U[:, j] for j in range(S.size))
np.testing.assert_allclose(recon, np.asarray(d[0]), rtol=1e-11, atol=1e-15)
dirs = spectra.directions(P)
for v in np.asarray(dirs.expanding).T:
    assert np.linalg.norm(P @ v) > 1.0
for v in np.asarray(dirs.shrinking).T:
    assert np.linalg.norm(P @ v) < 1.0
assert np.asarray(dirs.expanding).shape[1] >= 1 and np.asarray(dirs.shrinking).shape[1] >= 1  # both kinds here
print(
    f"Pi_1: {np.asarray(dirs.expanding).shape[1]} expanding and {np.asarray(dirs.shrinking).shape[1]} shrinking directions; sigma = {np.round(S, 3)}"
)
# the toolkit's product spectrum agrees with the explicit product
np.testing.assert_allclose(np.exp(np.asarray(spectra.product_spectrum(net, x, 1, method="svd").log_sv)), S, rtol=1e-10)

# %% [markdown]
# ## Submultiplicativity, and how loose it is
# $\sigma_1(\Pi_l)\le\prod_{r=l}^{L-1}\sigma_1(B^r)$.  With the output
# factor $M_L=\Sigma'(z^L)$ appended, the gap is the submultiplicativity slack
# $J-P$ of the bound hierarchy.

# %%
log_s1_prod = np.log10(S[0])
log_prod_s1 = sum(np.log10(float(s[0])) for s in esv)
print(f"log10 sigma_1(Pi_1) = {log_s1_prod:.3f} <= sum log10 sigma_1(B^r) = {log_prod_s1:.3f}")
assert log_s1_prod <= log_prod_s1 + 1e-12
m_L = np.asarray(net[-1].act.deriv(gb.forward(net, x).z[-1]))
gap = (log_prod_s1 + np.log10(np.max(np.abs(m_L)))) - np.log10(np.linalg.norm(P * m_L, 2))  # P diag(m_L)
h = gb.hierarchy(net, x, y)
np.testing.assert_allclose(h.slack_log10()["submultiplicativity"][0], gap, atol=1e-10)

# %% [markdown]
# ## At depth: the QR method
# A sigmoid chain of width 10 and depth in the hundreds: the product's
# singular values are far below float64's range, yet the QR
# re-orthonormalisation (Benettin et al. 1980) gives their logarithms, and
# $\log\sigma_1(\Pi_1 M_L)+\log\|g\|$ is exactly the level $P$ of the hierarchy.

# %%
deep = gb.init_network(jax.random.key(3), (10,) * (DEEP + 1), activation="sigmoid", init="nielsen")
xd, yd = jax.random.uniform(jax.random.key(4), (10,)), jax.random.uniform(jax.random.key(5), (10,))
sp = spectra.product_spectrum(deep, xd, 1, output=True, k=3)
assert sp.converged
log10_sv = np.asarray(sp.log_sv) / np.log(10)
print("log10 of the three largest singular values of Pi_1 M_L:", np.round(log10_sv, 2))
assert log10_sv[0] < np.log10(np.finfo(np.float64).tiny)  # not representable in float64
g = float(jnp.linalg.norm(gb.forward(deep, xd).a[-1] - yd))
np.testing.assert_allclose(float(sp.log_sv[0]) + np.log(g), float(gb.bounds.levels(deep, xd, yd).P[0]), rtol=1e-10)

# %% [markdown]
# ## The figure: every layer and every product
# (A relu switches some units off, so some singular values are exactly 0.)

# %%
np.seterr(divide="ignore")  # relu zeroes some directions exactly: log10 0 = -inf is drawn as nothing
res = {
    "layers": list(range(1, L)),
    "layer_log10_sv": [np.log10(np.asarray(s)) for s in esv],
    "product_layers": list(range(1, L)),
    "product_log10_sv": [
        np.asarray(spectra.product_spectrum(net, x, l, method="svd").log_sv) / np.log(10) for l in range(1, L)
    ],
    "runs": {"gaussian": {"log10_lam": 2 * np.log10(np.linalg.svd(Jio, compute_uv=False))}},
    "label": "relu, Gaussian $W$, $\\sigma_w^2=3$",
}
fig = plotting.spectra(res)
plotting.show(fig)
