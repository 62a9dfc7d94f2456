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
# # 7. Backpropagation through time: the bound's origin, and what gates change
#
# **Claim.**  The feed-forward bound comes from recurrent networks (Pascanu,
# Mikolov & Bengio 2013): in a plain cell $h_t=\sigma(W_{ih}x_t+b_{ih}+W_{hh}h_{t-1}+b_{hh})$
# the gradient with respect to an early state is a product of state Jacobians
# $J_t=\mathrm{diag}(\sigma'(z_t))W_{hh}$, and
#
# $$E_k=\|\partial C/\partial h_k\|\le P_k=\|J_T\cdots J_{k+1}\|\,\|g\|\le J_k=\prod_{t>k}\|J_t\|\,\|g\|\le G_k=(\gamma\|W_{hh}\|)^{T-k}\|g\|.$$
#
# $\gamma\|W_{hh}\|<1$ is sufficient for vanishing.  LSTM and GRU cells (PyTorch's
# equations) have state Jacobians with an additive path through the forget
# (update) gate; how much that slows the decay is measured below, at matched
# initialisation, with the forget-gate bias as the knob.

# %%
import os

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
from gradbounds import plotting, rnn  # noqa: E402

QUICK = os.environ.get("GRADBOUNDS_QUICK") == "1"
H, T = (16, 60) if QUICK else (32, 100)

# %% [markdown]
# ## The hierarchy per time step, certified for the plain cell

# %%
cell = rnn.init_cell(jax.random.key(0), "rnn", hidden=H, inputs=1, outputs=1, sw2=0.2)  # ‖W_hh‖ ≈ 2√0.2 < 1
xs = jax.random.normal(jax.random.key(1), (T, 1), jnp.float64)
y = jnp.ones((1,))
res = rnn.bptt(cell, xs, y)
assert res.certified and res.verdict != "violated"
assert res.pascanu is not None and res.pascanu["vanishing_sufficient"] is True  # γ‖W_hh‖ < 1, proved
for X, Y in (("E", "P"), ("P", "J"), ("J", "G")):
    assert np.all(res.levels[X] <= res.levels[Y] + 1e-9), (X, Y)
assert np.all(res.pair_verdicts["J<=G"] == "holds")
print(
    f"γ‖W_hh‖ = {res.pascanu['gamma'] * res.pascanu['norm_W_hh']:.4f}; verdicts: {dict(zip(*np.unique(res.verdicts, return_counts=True)))}"
)

# %% [markdown]
# ## E_k against k for the three cells at matched initialisation

# %%
fig, axes = plotting.new_figure(ncols=2, column="full")
rates = {}
for fb, ax in zip((0.0, 1.0), axes[0]):
    for kind in rnn.CELLS:
        c = rnn.init_cell(jax.random.key(2), kind, hidden=H, inputs=1, outputs=1, forget_bias=fb)
        r = rnn.bptt(c, xs, jnp.zeros((1,)), enclosures=False)
        rates[kind, fb] = r.decay_per_step
        ax.plot(np.arange(T + 1), r.log10("E"), label=kind)
    ax.set_xlabel("time step k")
    ax.set_ylabel(r"$\log_{10}\|\partial C/\partial s_k\|$")
    ax.set_title(f"forget-gate bias {fb:g}")
axes[0][0].legend()
plotting.show(fig)
for (kind, fb), v in rates.items():
    print(f"{kind:5s} forget bias {fb:g}: log10 E_0/E_T = {v * T:7.2f} ({v:.4f} a step)")
# every cell vanishes here; a forget-gate bias slows the gated cells, the plain cell does not change
assert all(v < 0 for v in rates.values())
assert rates["rnn", 1.0] == rates["rnn", 0.0]
assert rates["lstm", 1.0] > rates["lstm", 0.0] and rates["gru", 1.0] > rates["gru", 0.0]
assert rates["lstm", 1.0] > rates["rnn", 1.0] and rates["gru", 1.0] > rates["rnn", 1.0]

# %% [markdown]
# ## Any length: T = 10^4 in log space
#
# The float product underflows to exactly zero after a few hundred steps; the
# rescaled levels stay finite.

# %%
T_long = 2_000 if QUICK else 10_000
xl = jax.random.normal(jax.random.key(3), (T_long, 1), jnp.float64)
small = rnn.init_cell(jax.random.key(0), "rnn", hidden=8, inputs=1, outputs=1, sw2=0.5)
plain = np.asarray(rnn.plain_bptt(small, xl, y))
long = rnn.bptt(small, xl, y, enclosures=False)
assert np.isneginf(plain[0]) and np.isfinite(long.levels["E"][0])
print(
    f"T = {T_long}: plain BPTT is exactly 0 for k < {int(np.sum(np.isneginf(plain)))}; log10 E_0 = {long.log10('E')[0]:.1f}"
)
