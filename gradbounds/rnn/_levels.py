"""Backpropagation through time as a hierarchy of four levels per time step, in log space, at any length.

With ``s_k`` the state after ``k`` steps (``s_0`` the initial state),
``J_t = ∂s_t/∂s_{t−1}`` the state Jacobians and ``g = ∂C/∂s_T`` for
``C = ½‖W_out h_T + b_out − y‖²`` (``g = (W_out^T(W_out h_T + b_out − y), 0)``),
backpropagation through time is ``∂C/∂s_k = J_{k+1}^T ⋯ J_T^T g``, and for
``k = 0..T``

.. math::

   E_k = \\|∂C/∂s_k\\| ≤ P_k = \\|J_T ⋯ J_{k+1}\\|\\,\\|g\\| ≤ J_k = \\prod_{t=k+1}^{T}\\|J_t\\|\\,\\|g\\|
   ≤ G_k = (γ\\|W_{hh}\\|)^{T−k}\\|g\\|,

the last for the plain cell only (``J_t = diag(σ'(z_t))W_hh``, ``‖J_t‖ ≤
γ‖W_hh‖``: Pascanu, Mikolov & Bengio 2013, eq. 7).  Pascanu's conditions:
``γ‖W_hh‖ < 1`` is *sufficient* for vanishing (``G_k → 0`` geometrically) and
``γ‖W_hh‖ > 1`` *necessary* for exploding.  For the LSTM ``s = (h, c)`` and
``E_k`` is the norm of the gradient with respect to the whole state.

Every level is kept as a log: the vector ``δ_k = ∂C/∂s_k`` and the product
``J_T⋯J_{k+1}`` are renormalised after every step and the logs of the scale
factors summed (reverse cumulative sums), so ``T = 10^4`` stays finite where
the plain float product underflows.

References:
  Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent
  neural networks", ICML, §2–3 (eq. 5–7, the conditions ``λ_1 < 1/γ`` and
  ``λ_1 > 1/γ``); Bengio, Simard & Frasconi 1994; Werbos 1990
  (backpropagation through time).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from gradbounds import core, linalg
from gradbounds.rnn import _cells

LEVELS = ("E", "P", "J", "G")
LOG10E = 1.0 / math.log(10.0)


def _unit_roundoff(dtype) -> float:
    return float(jnp.finfo(dtype).eps) / 2


def rcs(x):
    """Reverse cumulative sums along the last axis: ``out_k = Σ_{t ≥ k} x_t``."""
    return jnp.flip(jnp.cumsum(jnp.flip(x, -1), -1), -1)


def _log_vnorm(v):
    n = jnp.linalg.norm(v)
    return jnp.where(n > 0, jnp.log(jnp.where(n > 0, n, 1.0)), -jnp.inf), n


def output_gradient(cell: _cells.Cell, s_T, y):
    """``g = ∂C/∂s_T`` for ``C = ½‖W_out h_T + b_out − y‖²`` (zeros on ``c`` for the LSTM)."""
    r = _cells.readout(cell, s_T) - y
    gh = cell.W_out.T @ r
    return jnp.concatenate([gh, jnp.zeros_like(gh)]) if cell.kind == "lstm" else gh


def point_levels(cell: _cells.Cell, xs, y, *, svals: bool = False) -> dict:
    """Natural logs of ``E_k, P_k, J_k`` for ``k = 0..T`` (and ``G_k`` for the plain cell), by the closed-form Jacobians.

    Returns a dict of arrays ``(T + 1,)``: ``E``, ``P``, ``J`` (and ``G``), the
    states ``(T + 1, S)``, ``log_g``, and with ``svals`` the singular values of
    every state Jacobian ``J_t``, ``(T, S)`` (row ``t − 1`` for ``J_t``).
    """
    dtype = cell.dtype
    u = _unit_roundoff(dtype)
    ss = _cells.run(cell, xs)
    g = output_gradient(cell, ss[-1], y)
    s1, s2, e_g = linalg.pow2_scale(jnp.max(jnp.abs(g)))
    gt = g * s1 * s2
    lg, ng = _log_vnorm(gt)
    log_g = lg + e_g.astype(dtype) * math.log(2.0)
    v0 = gt / jnp.where(ng > 0, ng, 1.0)
    S = cell.state_size
    Q0 = jnp.eye(S, dtype=dtype)

    def back(carry, item):
        v, Q = carry
        s_prev, x = item
        Jt = _cells.state_jacobian(cell, s_prev, x)
        B = Jt.T
        w = B @ v
        inc_E, nw = _log_vnorm(w)
        R = B @ Q
        sv = jnp.linalg.svd(R, compute_uv=False)
        inc_P = jnp.where(sv[0] > 0, jnp.log(jnp.where(sv[0] > 0, sv[0], 1.0)), -jnp.inf)
        log_J, _ = linalg.log_norm(Jt, u)
        out = dict(inc_E=inc_E, inc_P=inc_P, log_J=log_J)
        if svals:
            out["svals"] = jnp.linalg.svd(Jt, compute_uv=False)
        v2 = w / jnp.where(nw > 0, nw, 1.0)
        Q2 = R / jnp.where(sv[0] > 0, sv[0], 1.0)
        return (v2, Q2), out

    _, per = jax.lax.scan(back, (v0, Q0), (ss[:-1], xs), reverse=True)
    z1 = jnp.zeros((1,), dtype)

    def levels_of(inc):
        return rcs(jnp.concatenate([inc, z1])) + log_g

    out: dict[str, jax.Array] = dict(
        E=levels_of(per["inc_E"]),
        P=levels_of(per["inc_P"]),
        J=levels_of(per["log_J"]),
        states=ss,
        log_g=log_g,
    )
    if cell.kind == "rnn":
        act = core.get_activation(cell.activation)
        log_w, _ = linalg.log_norm(cell.weight_hh, u)
        T = xs.shape[0]
        steps = jnp.arange(T, -1, -1, dtype=dtype)
        out["G"] = steps * (math.log(act.gamma) + log_w) + log_g if act.gamma > 0 else jnp.full((T + 1,), -jnp.inf)
        out["log_gamma_norm_W"] = math.log(act.gamma) + log_w if act.gamma > 0 else jnp.full((), -jnp.inf, dtype)
        out["log_norm_W_hh"] = log_w
    if svals:
        out["svals"] = per["svals"]
    return out


def plain_bptt(cell: _cells.Cell, xs, y):
    """Natural logs of ``E_k = ‖∂C/∂h_k‖`` by the float product, no rescaling (the baseline that underflows)."""

    def back(d, item):
        s_prev, x = item
        d2 = _cells.state_jacobian(cell, s_prev, x).T @ d
        return d2, jnp.linalg.norm(d2)

    ss = _cells.run(cell, xs)
    g = output_gradient(cell, ss[-1], y)
    _, norms = jax.lax.scan(back, g, (ss[:-1], xs), reverse=True)
    return jnp.log(jnp.concatenate([norms, jnp.linalg.norm(g)[None]]))


def _log_norm_vec(v):
    """``(log‖v‖, v/‖v‖)`` for any finite vector (power-of-two scaling first; ``−inf`` and 0 for ``v = 0``)."""
    s1, s2, e = linalg.pow2_scale(jnp.max(jnp.abs(v)))
    vt = v * s1 * s2
    lg, n = _log_vnorm(vt)
    return lg + e.astype(v.dtype) * math.log(2.0), vt / jnp.where(n > 0, n, 1.0)


def _axpy_log(a, v, b, g):
    """``(c, w)`` with ``e^a v + e^b g = e^c w``, ``‖w‖ = 1`` (unit ``v``, ``g``; logs ``a``, ``b`` may be −inf)."""
    m = jnp.maximum(a, b)
    mf = jnp.where(jnp.isfinite(m), m, 0.0)
    x = (
        jnp.exp(jnp.where(jnp.isfinite(a), a - mf, -jnp.inf)) * v
        + jnp.exp(jnp.where(jnp.isfinite(b), b - mf, -jnp.inf)) * g
    )
    lx, w = _log_norm_vec(x)
    return jnp.where(jnp.isfinite(m), mf + lx, -jnp.inf), w


def summed_levels(cell: _cells.Cell, xs, ys) -> dict:
    """Natural logs of ``E_k``, ``J_k`` (and ``G_k``) for the summed per-step loss, ``k = 0..T``.

    .. math:: C = \\sum_{t=1}^{T} \\tfrac12\\|W_{out}h_t + b_{out} − y_t\\|^2,\\quad
       δ_k = J_{k+1}^Tδ_{k+1} + g_k,\\quad E_k = \\|δ_k\\|
       ≤ \\mathcal J_k = \\|J_{k+1}\\|\\mathcal J_{k+1} + \\|g_k\\| ≤ \\mathcal G_k = γ\\|W_{hh}\\|\\mathcal G_{k+1} + \\|g_k\\|,

    with ``g_k = ∂C_k/∂s_k`` (``g_0 = 0``), each kept as a log with its unit
    direction (log-sum-exp at every step), so any length stays finite.
    ``ys`` has shape ``(T, n_out)``.

    References:
      Pascanu, Mikolov & Bengio 2013, eq. 3–5 (the sum over time of the per-step terms).
    """
    dtype = cell.dtype
    u = _unit_roundoff(dtype)
    ss = _cells.run(cell, xs)
    gs = jax.vmap(lambda s, y: output_gradient(cell, s, y))(ss[1:], ys)  # g_1..g_T
    lgT, vT = _log_norm_vec(gs[-1])
    rnn_cell = cell.kind == "rnn"
    if rnn_cell:
        act = core.get_activation(cell.activation)
        log_w, _ = linalg.log_norm(cell.weight_hh, u)
        lgw = math.log(act.gamma) + log_w if act.gamma > 0 else jnp.full((), -jnp.inf, dtype)
    else:
        lgw = jnp.zeros((), dtype)
    g_prev = jnp.concatenate([jnp.zeros_like(gs[:1]), gs[:-1]])  # g_{t-1} added when stepping from t to t-1

    def back(carry, item):
        a, v, lj, lg_ = carry
        s_prev, x, g = item
        Jt = _cells.state_jacobian(cell, s_prev, x)
        w = Jt.T @ v
        la, vv = _log_norm_vec(w)
        lb, gu = _log_norm_vec(g)
        a2, v2 = _axpy_log(a + la, vv, lb, gu)
        log_J, _ = linalg.log_norm(Jt, u)
        lj2 = jnp.logaddexp(lj + log_J, lb)
        lg2 = jnp.logaddexp(lg_ + lgw, lb)
        return (a2, v2, lj2, lg2), (a2, lj2, lg2)

    _, (E, J, G) = jax.lax.scan(back, (lgT, vT, lgT, lgT), (ss[:-1], xs, g_prev), reverse=True)
    tail = jnp.reshape(lgT, (1,))
    out = {"E": jnp.concatenate([E, tail]), "J": jnp.concatenate([J, tail]), "states": ss}
    if rnn_cell:
        out["G"] = jnp.concatenate([G, tail])
    return out
