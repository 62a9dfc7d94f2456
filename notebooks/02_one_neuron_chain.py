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
# # 2. The one-neuron chain: vanishing and exploding
#
# **Claim (Nielsen, ch. 5).**  In a chain with one sigmoid neuron per layer,
# $z_j = w_j a_{j-1} + b_j$, $a_j=\sigma(z_j)$ and quadratic cost,
#
# $$\frac{\partial C}{\partial b_1} = \sigma'(z_1)\,w_2\sigma'(z_2)\,w_3\sigma'(z_3)\cdots w_L\sigma'(z_L)\,\frac{\partial C}{\partial a_L}.$$
#
# * **Vanishing.** $|\sigma'|\le 1/4$, so with $|w_j|<4$ (weights drawn from
#   $N(0,1)$ are almost always below 4 in magnitude) every factor
#   $|w_j\sigma'(z_j)|<1$ and the product shrinks geometrically.
# * **Exploding.** With every $w_j=100$ and biases making every $z_j=0$,
#   every factor is exactly $100\cdot\sigma'(0)=25$: the gradient grows 25× a layer.
# * **Unstable, not doomed.** A factor $|w\sigma'(wa+b)|\ge1$ needs large $|w|$
#   *and* $a$ in a narrow window: the set of such $a$ has width at most
#   $\frac{2}{|w|}\ln\!\big(\frac{|w|(1+\sqrt{1-4/|w|})}{2}-1\big)$, largest
#   ($\approx0.45$) at $|w|\approx6.9$ (Nielsen's chapter-5 problem).

# %%
import os

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
import gradbounds as gb  # noqa: E402
from gradbounds import plotting  # noqa: E402
from gradbounds.core import chain_gradients, chain_network  # noqa: E402

QUICK = os.environ.get("GRADBOUNDS_QUICK") == "1"
N_CHAINS = 100 if QUICK else 2000
sig = gb.get_activation("sigmoid")

# %% [markdown]
# ## The product formula against autodiff
# $\partial C/\partial b_j$ by the product, and by `jax.grad` of the cost with
# respect to every bias.

# %%
net = chain_network(jax.random.key(0), 6)
r = chain_gradients(net, x=1.0, y=0.0)
grad_ad = gb.errors_autodiff(net, jnp.array([1.0]), jnp.array([0.0]))
np.testing.assert_allclose(r.grad_b, [float(g[0]) for g in grad_ad], rtol=1e-12)
np.testing.assert_allclose(10.0**r.log10_abs_grad_b * r.sign_grad_b, r.grad_b, rtol=1e-12)
print("dC/db_j:", r.grad_b)

# %% [markdown]
# ## Vanishing: every factor below 1/4 · |w|
# For each chain, $|w_j\sigma'(z_j)|\le|w_j|/4$, hence
# $|\partial C/\partial b_1|\le\frac14\prod_{j\ge2}\frac{|w_j|}{4}\,|\partial C/\partial a_L|$.
# Over many chains drawn with $w_j,b_j\sim N(0,1)$ we count the factors above 1.

# %%
depth = 30
keys = jax.random.split(jax.random.key(1), N_CHAINS)
above, log_ratio = 0, []
for k in keys:
    c = chain_network(k, depth)
    rc = chain_gradients(c, x=1.0, y=0.0)
    w = np.array([float(lay.W[0, 0]) for lay in c])
    assert np.all(np.abs(rc.factors) <= np.abs(w[1:]) / 4 * (1 + 1e-15))
    bound = np.log10(0.25) + np.sum(np.log10(np.abs(w[1:]) / 4)) + np.log10(abs(rc.dC_da))
    assert rc.log10_abs_grad_b[0] <= bound + 1e-12
    above += int(np.sum(np.abs(rc.factors) > 1))
    log_ratio.append(rc.log10_abs_grad_b[0] - rc.log10_abs_grad_b[-1])
frac = above / (len(keys) * (depth - 1))
print(
    f"factors above 1: {above} of {len(keys) * (depth - 1)}; mean log10 |dC/db_1| - log10 |dC/db_L| = {np.mean(log_ratio):.1f}"
)
# P(|w| > 4) = 6.3e-5 for w ~ N(0,1): factors above 1 are (almost) never seen
assert frac < 1e-3
assert np.mean(log_ratio) < -20  # 29 factors of about 1/10 each

# %% [markdown]
# ## Exploding: every factor exactly 25
# $w_j = 100$, $b_1=-100x$, $b_j=-100\,\sigma(0)=-50$: every $z_j=0$ exactly,
# every factor $=100/4=25$.  In float64 the plain product overflows near
# depth 220 ($25^{220}\approx10^{307.5}$); in log space it does not.

# %%
ex = chain_network(None, 250, exploding=True)
re = chain_gradients(ex, x=1.0, y=0.0)
assert np.all(re.z == 0.0)
assert np.all(re.factors == 25.0)
slope = np.diff(re.log10_abs_grad_b)
np.testing.assert_allclose(slope, -np.log10(25.0), rtol=1e-12)
overflowed = ~np.isfinite(re.grad_b)
print("float64 plain product overflows at", int(overflowed.sum()), "layers; log10 |dC/db_1| =", re.log10_abs_grad_b[0])
assert overflowed.any() and np.all(np.isfinite(re.log10_abs_grad_b))
# backprop forms w_j·(dC/db_j) on its way down, so an entry overflows once 100·|dC/db_j| passes float64's max
lmax = np.log10(np.finfo(np.float64).max)
assert np.all(re.log10_abs_grad_b[overflowed] > lmax - 2) and np.all(re.log10_abs_grad_b[~overflowed] < lmax)

# %% [markdown]
# ## The window where a factor can exceed 1
# Width of $\{a\in\mathbb R: |w\sigma'(wa+b)|\ge1\}$ on a dense grid against
# the closed form, and its maximum over $w$.  (The width does not depend on
# $b$, a shift.)


# %%
def window_closed(w):
    w = abs(w)
    return 2 / w * np.log(w * (1 + np.sqrt(1 - 4 / w)) / 2 - 1)


def window_grid(w, n=2_000_001):
    a = np.linspace(-3, 3, n)
    s = 1 / (1 + np.exp(-w * a))
    return np.count_nonzero(np.abs(w * s * (1 - s)) >= 1) * (a[1] - a[0])


for w in (4.5, 6.9, 10.0, 50.0):
    assert abs(window_grid(w) - window_closed(w)) < 1e-5, w
ws = np.linspace(4.0001, 40, 200_001)
widths_ = window_closed(ws)
w_best = ws[np.argmax(widths_)]
print(f"largest window {widths_.max():.4f} at |w| = {w_best:.3f}")
assert abs(w_best - 6.9) < 0.05 and abs(widths_.max() - 0.45) < 0.005
assert window_grid(3.99) == 0.0  # below |w| = 4 no a qualifies: |w| sigma' <= |w|/4 < 1

# %% [markdown]
# ## The figure


# %%
def as_dict(c, rc):
    w = np.array([float(lay.W[0, 0]) for lay in c])
    tail = np.concatenate([np.cumsum(np.log10(np.abs(w[1:]) / 4)[::-1])[::-1], [0.0]])
    return dict(rc._asdict(), log10_bound=np.log10(0.25) + tail + np.log10(abs(rc.dC_da)))


van = chain_network(jax.random.key(20), 40)
fig = plotting.chain(as_dict(van, chain_gradients(van)), as_dict(ex, re))
np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), re.log10_abs_grad_b)
np.testing.assert_allclose(fig.axes[1].get_lines()[1].get_ydata(), re.log10_abs_grad_b, rtol=1e-12)  # bound = exact
plotting.show(fig)
