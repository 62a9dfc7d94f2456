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
# # 1. The unstable-gradient product and the bounds (*) and (**)
#
# **Claim (Nielsen, ch. 5; the textbook argument, docs/design.md §2).**  For a feed-forward network with
# weights $W^l$, biases $b^l$, activation $\sigma$ and quadratic cost
# $C = \tfrac12\|a^L-y\|^2$, backpropagation gives the error of layer $l$ as a
# product
#
# $$\delta^l = \Sigma'(z^l)(W^{l+1})^T\,\Sigma'(z^{l+1})(W^{l+2})^T\cdots\Sigma'(z^L)\,(a^L-y),$$
#
# and, since $\|\Sigma'(z)\|\le\gamma=\sup|\sigma'|$ ($\gamma=1/4$ for the sigmoid),
#
# $$\|\delta^l\| \le \prod_{r=l}^{L}\|\Sigma'(z^r)\|\prod_{r=l+1}^{L}\|W^r\|\,\|a^L-y\| \quad(*)
# \qquad\le\qquad \gamma^{L-l+1}\prod_{r=l+1}^{L}\|W^r\|\,\|a^L-y\| \quad(**).$$
#
# gradbounds computes five levels per layer, $E\le P\le J\le D\le G$
# (exact, norm of the product, product of per-layer norms, (*), (**)).  This
# notebook checks each statement on the seed network $[784,30,30,30,30,10]$
# and measures the slack of each step.  Every `assert` fails the notebook
# (and the test suite) if the claim it checks is wrong.

# %%
import os

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
import gradbounds as gb  # noqa: E402

QUICK = os.environ.get("GRADBOUNDS_QUICK") == "1"
N_EXAMPLES = 8 if QUICK else 100
widths = (784, 30, 30, 30, 30, 10)
net = gb.init_network(jax.random.key(0), widths, activation="sigmoid", init="nielsen")
kx, ky = jax.random.split(jax.random.key(1))
x = jax.random.uniform(kx, (widths[0],))
y = jax.nn.one_hot(3, 10, dtype=x.dtype)
L = len(net)
# a batch of examples for the slack below; its first row is (x, y)
kx, ky = jax.random.split(jax.random.key(2))
X = jnp.concatenate([x[None], jax.random.uniform(kx, (N_EXAMPLES - 1, widths[0]))])
Y = jnp.concatenate([y[None], jax.nn.one_hot(jax.random.randint(ky, (N_EXAMPLES - 1,), 0, 10), 10, dtype=X.dtype)])

# %% [markdown]
# ## γ = 1/4 for the sigmoid
# $\sigma'(t)=\sigma(t)(1-\sigma(t))\le 1/4$ with equality only at $t=0$.

# %%
sig = gb.get_activation("sigmoid")
t = jnp.arange(-200_000, 200_001) * 1e-4  # contains 0 exactly
d = sig.deriv(t)
assert sig.gamma == 0.25
assert float(jnp.max(d)) == 0.25 and float(t[jnp.argmax(d)]) == 0.0
assert bool(jnp.all(d <= 0.25))
print("max sigma' on the grid:", float(jnp.max(d)), "at t =", float(t[jnp.argmax(d)]))

# %% [markdown]
# ## The backpropagation product
# The closed-form product, built from explicit matrices, against `jax.grad`
# with respect to the biases ($\delta^l = \partial C/\partial b^l$).

# %%
fw = gb.forward(net, x)
deltas_ad = gb.errors_autodiff(net, x, y)
for l in range(1, L + 1):
    prod = jnp.diag(sig.deriv(fw.z[L - 1])) @ (fw.a[L] - y)  # Σ'(z^L)(a^L − y)
    for r in range(L - 1, l - 1, -1):  # r = L-1 .. l (0-based: layer r+1 ... )
        prod = jnp.diag(sig.deriv(fw.z[r - 1])) @ net[r].W.T @ prod
    np.testing.assert_allclose(prod, deltas_ad[l - 1], rtol=1e-12, atol=1e-300)
print("closed-form product == autodiff for every layer")

# %% [markdown]
# ## The weight gradient is rank one
# $\partial C/\partial W^l = \delta^l(a^{l-1})^T$, so the textbook's
# $\|\partial C/\partial W^l\|\le\|\delta^l\|\,\|a^{l-1}\|$ is an equality, in
# the spectral and in the Frobenius norm.

# %%
gW = gb.weight_gradients(net, x, y)
for l in range(1, L + 1):
    lhs2 = np.linalg.norm(np.asarray(gW[l - 1]), 2)
    lhsF = np.linalg.norm(np.asarray(gW[l - 1]), "fro")
    rhs = float(jnp.linalg.norm(deltas_ad[l - 1]) * jnp.linalg.norm(fw.a[l - 1]))
    assert abs(lhs2 - rhs) <= 1e-12 * rhs and abs(lhsF - rhs) <= 1e-12 * rhs

# %% [markdown]
# ## The bounds (*) and (**), by hand and by the toolkit
# (*) and (**) computed directly from their formulas (spectral norms by SVD)
# equal the levels $D$ and $G$ of `gradbounds.hierarchy` (here for the batch,
# whose first example is $x$).

# %%
hb = gb.hierarchy(net, X, Y)
norm_W = [np.linalg.norm(np.asarray(lay.W), 2) for lay in net]
norm_S = [float(jnp.max(jnp.abs(sig.deriv(z)))) for z in fw.z]
g = float(jnp.linalg.norm(fw.a[L] - y))
for l in range(1, L + 1):
    star = np.prod(norm_S[l - 1 :]) * np.prod(norm_W[l:]) * g
    starstar = 0.25 ** (L - l + 1) * np.prod(norm_W[l:]) * g
    exact = float(jnp.linalg.norm(deltas_ad[l - 1]))
    np.testing.assert_allclose(np.log10(star), hb.log10("D")[0, l - 1], rtol=1e-12)
    np.testing.assert_allclose(np.log10(starstar), hb.log10("G")[0, l - 1], rtol=1e-12)
    np.testing.assert_allclose(np.log10(exact), hb.log10("E")[0, l - 1], rtol=1e-12)
    assert exact <= star <= starstar
print("verdict:", hb.verdict)
assert hb.verdict == "holds"

# %% [markdown]
# ## The slack of each step
# $\log_{10}G-\log_{10}E$ splits into four non-negative parts:
# *alignment* ($P-E$: $\delta^L$ against the product's top singular direction),
# *submultiplicativity* ($J-P$: $\|AB\|$ against $\|A\|\|B\|$),
# *split* ($D-J$: $\|\Sigma'W^T\|$ against $\|\Sigma'\|\|W\|$) and
# *activation* ($G-D$: $\gamma$ against $\max\sigma'(z)$).  Below: the mean
# over examples, per layer.

# %%
s = hb.slack_log10()
parts = ("alignment", "submultiplicativity", "split", "activation")
print(f"{'layer':>5} " + " ".join(f"{p:>20}" for p in parts + ("total",)))
for l in range(L):
    print(f"{l + 1:5d} " + " ".join(f"{np.mean(s[p][:, l]):20.3f}" for p in parts + ("total",)))
assert hb.verdict == "holds"
for p in parts:  # each step is an inequality, so each part is >= 0 (up to rounding)
    assert np.all(s[p] >= -1e-12), p
np.testing.assert_allclose(sum(s[p] for p in parts), s["total"], atol=1e-12)
# the slack grows with the number of layers crossed: layer 1 has the largest
assert np.all(np.diff(np.mean(s["total"], axis=0)) < 0)

# %% [markdown]
# ## The ladder
# Levels per layer (median of $\log_{10}$ over the examples, as in
# `Hierarchy.to_dict()`; bands: min to max).

# %%
from gradbounds import plotting  # noqa: E402

fig = plotting.bound_ladder(hb)
lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
np.testing.assert_allclose(lines[plotting.LEVEL_LABELS["G"]].get_ydata(), np.median(hb.log10("G"), axis=0), rtol=1e-12)
plotting.show(fig)
