"""Hypothesis strategies for recurrent cells (:mod:`gradbounds.rnn`) and their sequences.

Small choices (kind, sizes, variances, activation) come from Hypothesis and the
arrays from one ``jax.random`` seed, so failures shrink and replay exactly.

References:
  MacIver et al., Hypothesis; Pascanu, Mikolov & Bengio 2013 (the cells whose gradients are bounded).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from hypothesis import strategies as st

from gradbounds import rnn

__all__ = ["rnn_cells"]


@st.composite
def rnn_cells(draw, kinds=rnn.CELLS, max_hidden=4, max_steps=8):
    """``(cell, xs, y)``: a random cell of a drawn kind (random ``h0``), inputs ``(T, n_in)`` and a target, float64."""
    kind = draw(st.sampled_from(kinds))
    H = draw(st.integers(1, max_hidden))
    n_in = draw(st.integers(1, 3))
    n_out = draw(st.integers(1, 3))
    T = draw(st.integers(1, max_steps))
    sw2 = draw(st.sampled_from([0.25, 1.0, 4.0]))
    sb2 = draw(st.sampled_from([0.0, 0.5]))
    activation = draw(st.sampled_from(["tanh", "sigmoid", "relu"])) if kind == "rnn" else "tanh"
    seed = draw(st.integers(0, 2**31 - 1))
    k1, k2, k3, k4 = jax.random.split(jax.random.key(seed), 4)
    cell = rnn.init_cell(k1, kind, hidden=H, inputs=n_in, outputs=n_out, activation=activation, sw2=sw2, sb2=sb2)
    cell = type(cell)(**{**cell.__dict__, "h0": 0.5 * jax.random.normal(k4, (H,), jnp.float64)})
    xs = jax.random.normal(k2, (T, n_in), jnp.float64)
    y = jax.random.normal(k3, (n_out,), jnp.float64)
    return cell, xs, y
