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
# # 8. Residual blocks: why the identity path keeps the gradient, and what bounds it
#
# **Claim.**  In a residual block $h^k=h^{k-1}+F_k(h^{k-1})$ the block Jacobian is
# $I+J_{F_k}$ (He et al. 2016b), so backpropagation over blocks multiplies factors
# whose singular values lie in $[1-\|J_{F_k}\|,\,1+\|J_{F_k}\|]$.  Over a stack of
# residual blocks after which the gradient is $g$, the residual analogue of the
# textbook bound,
#
# $$E_k\le G_k=\prod_{r>k}(1+c_r)\,\|g\|\le e^{\sum_r c_r}\|g\|,\qquad
# c_r=\textstyle\prod_i\gamma_{r,i}\|W_{r,i}\|,$$
#
# grows at most like $\exp(\sum_r c_r)$ instead of decaying, and where every
# branch has $\|J_F\|<1$ its mirror image is a *floor*,
# $E_k\ge\prod_{r>k}\big(1-\prod_i\|\Sigma'(z_{r,i})\|\|W_{r,i}\|\big)_+\|g\|>0$.
# With a plain input layer and a read-out $W_{\rm out}$ around the stack, as below,
# the floor at block 1 also has the input layer's $\min_i|\sigma'(z^1_i)|$, the
# read-out's $\sigma_{\min}(W_{\rm out}^T)$ and $\sigma_{\min}(M)$ (here $M=I$) as factors.
# The floor stays bounded away from 0 in depth only while $\sum_r c_r$ is bounded
# (branches scaled by $1/K$); scaled by $1/\sqrt K$, as here, $\sum_r c_r=O(\sqrt K)$,
# so $G$ and the floor drift apart like $\exp(\pm c\sqrt K)$ while the gradient
# itself typically stays $O(1)$.  At depth 50, a plain tanh network with
# $\sigma_w^2=1$, $\sigma_b^2=0.05$, in the ordered phase (mean-field
# $\chi_1\approx0.76$, predicting $\tfrac{50}{2}\log_{10}\chi_1\approx-3$ decades),
# loses about 4 decades between the last block and the first, and its textbook
# bound overstates $E_1$ by about 18 decades; a residual network whose branches are
# the same layers scaled by $1/\sqrt{50}$ keeps $E_1/E_K$ within a factor of 10,
# with a bound about 5 decades above $E$ and a positive floor 7 to 8 decades below.
# The hierarchy floor ≤ lower ≤ E ≤ P ≤ J ≤ D ≤ G
# holds at every block of both (docs/design.md §2.5).

# %%
import math
import os

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
import gradbounds as gb  # noqa: E402
from gradbounds import plotting, residual  # noqa: E402

QUICK = os.environ.get("GRADBOUNDS_QUICK") == "1"
n = 16 if QUICK else 32  # width
depth, n_in, n_out = 50, 16, 4

# %% [markdown]
# ## Two networks of depth 50 with the same input and read-out
#
# Both start with a tanh layer from 16 inputs and end with a linear read-out
# (quadratic cost).  Between them: 50 plain tanh layers $h\mapsto\tanh(Wh+b)$,
# or 50 residual blocks $h\mapsto h+\tanh(Wh+b)$ with the same 50 layers (the same
# key) as branches, scaled by $1/\sqrt{50}$ (and, for comparison, not scaled).

# %%
k = jax.random.split(jax.random.key(0), 4)
inp = gb.init_network(k[0], (n_in, n), activation="tanh", init="glorot")
out = gb.init_network(k[1], (n, n_out), activation="linear", init="glorot")
x = jax.random.normal(k[2], (n_in,), jnp.float64)
y = jax.nn.one_hot(1, n_out, dtype=jnp.float64)

trunk = gb.init_network(k[3], (n,) * (depth + 1), activation="tanh", init="gaussian", sw2=1.0, sb2=0.05)
plain = (*inp, *trunk, *out)


def resnet(scale):
    blocks = residual.init_residual(
        k[3], n, depth, block_layers=1, activation="tanh", init="gaussian", sw2=1.0, sb2=0.05, branch_scale=scale
    )
    return (*inp, *blocks, *out)


scaled, unscaled = resnet(1 / math.sqrt(depth)), resnet(1.0)
hs = {name: residual.residual_hierarchy(net, x, y) for name, net in
      (("plain tanh", plain), ("residual, 1/√50", scaled), ("residual, unscaled", unscaled))}  # fmt: skip
for name, h in hs.items():
    s = h.slack_log10()["total"]
    print(f"{name:20s} log10 E_1/E_K = {h.ratio_log10:+6.2f}   slack at block 1 = {s[0]:5.2f} decades   {h.verdict}")

# %%
# E is the autodiff gradient (∂C/∂b for a plain layer, ∂C/∂h^k for a residual block)
for net, h in ((plain, hs["plain tanh"]), (scaled, hs["residual, 1/√50"])):
    auto = residual.block_errors_autodiff(net, x, y)
    np.testing.assert_allclose(np.exp(h.levels["E"]), [np.linalg.norm(e) for e in auto], rtol=1e-10)
    assert h.verdict == "holds", h.pair_holds()
assert hs["residual, unscaled"].verdict == "holds"
hp, hr = hs["plain tanh"], hs["residual, 1/√50"]
# σ_w² = 1, σ_b² = 0.05 is the ordered phase of tanh: E‖δ^l‖² shrinks by χ₁ a layer (mean field)
chi1 = float(gb.theory.chi1("tanh", 1.0, 0.05))
predicted = depth / 2 * math.log10(chi1)
print(f"chi_1 = {chi1:.3f}: mean field predicts log10 E_1/E_K ~ {predicted:.1f} over {depth} layers")
assert 0.7 < chi1 < 0.8
assert -6 < hp.ratio_log10 < -2  # plain: the gradient vanishes towards the input, about 4 decades
assert abs(hr.ratio_log10) < 1  # residual: E_1 / E_K within a factor of 10
assert 15 < hp.slack_log10()["total"][0] < 21  # the textbook bound: about 18 decades above E at depth 50
assert 4 < hr.slack_log10()["total"][0] < 7  # the residual bound: about 5 decades
assert -9 < hr.log10("floor")[0] - hr.log10("E")[0] < -5  # and the floor about 7 decades below E

# %% [markdown]
# ## The residual bound grows at most like exp(Σ c), and the floor is positive
#
# With one tanh layer per branch ($\gamma=1$, $m=1$), $c_r=\|W_r\|/\sqrt{50}$.
# $1+c\le e^c$ gives $\log G_1-\log G_K\le\sum_r c_r+\log\|W_{\rm out}\|$;
# every branch here has $\|\Sigma'(z_r)\|\|W_r\|<1$, so the floor is positive at every block.

# %%
# the branches are the plain network's layers, scaled
assert all(np.array_equal(b.layers[0].W, q.W) for b, q in zip(unscaled[1:-1], trunk))
blocks = [b for b in scaled if isinstance(b, gb.Residual)]
c = np.array([np.linalg.norm(np.asarray(b.layers[0].W), 2) for b in blocks])
log_w_out = math.log(np.linalg.norm(np.asarray(out[0].W), 2))
growth = hr.levels["G"][0] - hr.levels["G"][-1]
print(f"log G_1 - log G_K = {growth:.3f} <= sum c + log||W_out|| = {c.sum() + log_w_out:.3f}")
assert growth <= c.sum() + log_w_out + 1e-12
assert np.all(c < 1) and np.all(np.isfinite(hr.levels["floor"]))
assert np.all(hr.levels["floor"] <= hr.levels["E"])
print(f"floor at block 1: 10^{hr.log10('floor')[0]:.2f} <= E_1 = 10^{hr.log10('E')[0]:.2f}")
# the unscaled branches have ||J_F|| > 1 somewhere: no floor, and a bound ~20 decades above E
assert np.isneginf(hs["residual, unscaled"].levels["floor"][0])

# %% [markdown]
# ## The figure: the gradient per block, its bound, the floor, and the slack

# %%
fig = plotting.residual_depth({"plain tanh": hp, "residual": hr})
plotting.show(fig)
