"""Rigorous enclosures of ``log E_k, log P_k, log J_k`` for the LSTM and GRU, by midpoint-radius intervals.

Every quantity of the forward pass and of the closed-form state Jacobian
(:mod:`gradbounds.rnn._cells`) is carried as an interval ``m ± r`` that
contains the exact value (exact real arithmetic on the given floats), with
every rounding accounted for outward (Higham 2002, §2.2, §3.5):

* ``a + b``: ``r = r_a + r_b + u|m|``; ``a·b``: ``r = |m_a|r_b + r_a|m_b| + r_ar_b + u|m|``;
* ``Wa + b`` with a point matrix: ``r = γ_{n+2}(|W||m_a| + |b|) + |W|r_a``;
* sigmoid and tanh are increasing: their values at the ends of ``[m − r, m + r]``,
  widened by the evaluation error of :func:`gradbounds.core.enclosures.fn_error`;
  their derivatives as ``σ(1 − σ)`` and ``1 − τ²`` in interval arithmetic (exact identities).

So the state Jacobian ``J_t = Ĵ_t + Δ`` with ``|Δ| ≤ R_t`` entrywise, hence
``‖Δ‖₂ ≤ ‖R_t‖_F``, and the backward recursions of :mod:`gradbounds.rnn._enclosed`
(error amplification, Cholesky-certified norms) give E, P and J.  The
intervals of a long forward pass grow with the wrapping effect (``|J|``
instead of ``J``) and the E and P enclosures with the gap between J and E
per step: both are honest, and become ``[−inf, inf]`` on long sequences.

References:
  Moore, Kearfott & Cloud 2009, *Introduction to Interval Analysis*, ch. 2–5
  (midpoint-radius arithmetic, the wrapping effect); Rump 1999, BIT 39 (fast
  interval matrix products with rounding); Higham 2002, §2.2, §3.5;
  PyTorch documentation of ``nn.LSTM``, ``nn.GRU`` (the equations).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gradbounds import core, linalg
from gradbounds.core import enclosures as db
from gradbounds.linalg import enclosures as enc
from gradbounds.rnn import _cells, _enclosed


def _u(dtype):
    return float(jnp.finfo(dtype).eps) / 2


def _tiny(dtype):
    return float(jnp.finfo(dtype).tiny)


def _fix(r):
    return jnp.where(jnp.isnan(r), jnp.inf, r)


def iadd(a, b):
    """``a + b`` of intervals ``(m, r)``."""
    m = a[0] + b[0]
    return m, _fix(enc.up(a[1] + b[1] + _u(m.dtype) * jnp.abs(m) + _tiny(m.dtype), 2))


def isub(a, b):
    """``a − b``."""
    return iadd(a, (-b[0], b[1]))


def imul(a, b):
    """``a·b`` (elementwise, broadcasting)."""
    m = a[0] * b[0]
    u = _u(m.dtype)
    r = jnp.abs(a[0]) * b[1] + a[1] * jnp.abs(b[0]) + a[1] * b[1] + u * jnp.abs(m) + _tiny(m.dtype)
    return m, _fix(enc.up(r, 3))


def one_minus(a):
    """``1 − a``."""
    m = 1.0 - a[0]
    return m, _fix(enc.up(a[1] + _u(m.dtype) * jnp.abs(m), 1))


def imatvec(W, a, b=None):
    """``W a (+ b)`` for a point matrix ``W`` (and point vector ``b``)."""
    n = W.shape[-1]
    dtype = W.dtype
    u = _u(dtype)
    m = W @ a[0] + (0.0 if b is None else b)
    loc = jnp.abs(W) @ jnp.abs(a[0]) + (0.0 if b is None else jnp.abs(b))
    r = enc.gamma(n + 2, u) * loc + jnp.abs(W) @ a[1] + (n + 2) * _tiny(dtype)
    return m, _fix(enc.up(r * (1 + 4 * u), 3))


def _monotone(name, a):
    act = core.get_activation(name)
    dtype = a[0].dtype
    g_hi = db.gamma_bounds(name, dtype)[1]  # pyright: ignore[reportArgumentType]
    lo = jnp.nextafter(a[0] - a[1], jnp.full_like(a[0], -jnp.inf))
    hi = jnp.nextafter(a[0] + a[1], jnp.full_like(a[0], jnp.inf))
    lo = jnp.where(a[1] == 0, a[0], lo)
    hi = jnp.where(a[1] == 0, a[0], hi)
    f_lo, f_hi = act.fn(lo), act.fn(hi)
    v_lo = enc.down(f_lo - db.fn_error(lo, f_lo, g_hi))
    v_hi = enc.up(f_hi + db.fn_error(hi, f_hi, g_hi))
    m = 0.5 * v_lo + 0.5 * v_hi
    r = enc.up(jnp.maximum(v_hi - m, m - v_lo), 1)
    return m, _fix(jnp.where(jnp.isfinite(a[1]), r, jnp.inf))


def isig(a):
    """sigmoid of an interval and its derivative ``σ(1 − σ)``."""
    s = _monotone("sigmoid", a)
    return s, imul(s, one_minus(s))


def itanh(a):
    """tanh of an interval and its derivative ``1 − τ²``."""
    t = _monotone("tanh", a)
    return t, one_minus(imul(t, t))


def _rows(d, W):
    """``diag(d) W`` for an interval vector ``d`` and a point matrix ``W``."""
    return imul((d[0][:, None], d[1][:, None]), (W, jnp.zeros_like(W)))


def _diag(d):
    return jnp.diag(d[0]), jnp.diag(d[1])


def _cat(blocks, axis):
    return jnp.concatenate([b[0] for b in blocks], axis), jnp.concatenate([b[1] for b in blocks], axis)


def _sl(a, i, j):
    return a[0][i:j], a[1][i:j]


def interval_step(cell: _cells.Cell, s, x):
    """``(s_t, J_t)`` as intervals from an interval ``s_{t−1}`` and an exact ``x_t`` (LSTM, GRU)."""
    H = cell.hidden
    W = cell.weight_hh
    h = _sl(s, 0, H)
    ai = imatvec(cell.weight_ih, (x, jnp.zeros_like(x)), cell.bias_ih)
    ah = imatvec(W, h, cell.bias_hh)
    if cell.kind == "lstm":
        a = iadd(ai, ah)
        (i, di), (f, df) = isig(_sl(a, 0, H)), isig(_sl(a, H, 2 * H))
        g, dg = itanh(_sl(a, 2 * H, 3 * H))
        o, do = isig(_sl(a, 3 * H, 4 * H))
        c_prev = _sl(s, H, 2 * H)
        c = iadd(imul(f, c_prev), imul(i, g))
        tau, dtau = itanh(c)
        h2 = imul(o, tau)
        dc_dh = iadd(
            iadd(_rows(imul(c_prev, df), W[H : 2 * H]), _rows(imul(g, di), W[:H])), _rows(imul(i, dg), W[2 * H : 3 * H])
        )
        oc = imul(o, dtau)
        dh_dh = iadd(_rows(imul(tau, do), W[3 * H :]), imul((oc[0][:, None], oc[1][:, None]), dc_dh))
        top = _cat([dh_dh, _diag(imul(oc, f))], 1)
        bottom = _cat([dc_dh, _diag(f)], 1)
        return _cat([h2, c], 0), _cat([top, bottom], 0)
    (r, dr) = isig(iadd(_sl(ai, 0, H), _sl(ah, 0, H)))
    (z, dz) = isig(iadd(_sl(ai, H, 2 * H), _sl(ah, H, 2 * H)))
    mm = _sl(ah, 2 * H, 3 * H)
    n, dn = itanh(iadd(_sl(ai, 2 * H, 3 * H), imul(r, mm)))
    omz = one_minus(z)
    h2 = iadd(imul(omz, n), imul(z, h))
    inner = iadd(_rows(imul(mm, dr), W[:H]), _rows(r, W[2 * H :]))
    dnn = imul(omz, dn)
    J = iadd(iadd(imul((dnn[0][:, None], dnn[1][:, None]), inner), _rows(imul(isub(h, n), dz), W[H : 2 * H])), _diag(z))
    return h2, J


def gated_enclosures(cell: _cells.Cell, xs, y) -> dict:
    """Enclosures ``lo_X, hi_X`` (natural logs, ``(T + 1,)``) of ``E, P, J`` for an LSTM or GRU, and of the ratios to ``‖g‖``.

    See the module docstring; the backward recursions are those of
    :func:`gradbounds.rnn._enclosed.plain_enclosures`.
    """
    if cell.kind not in ("lstm", "gru"):
        raise ValueError(f"cell: expected lstm or gru, got {cell.kind!r}")
    dtype = cell.dtype
    tiny = _tiny(dtype)
    H = cell.hidden
    s0 = cell.initial_state()

    def fwd(s, x):
        s2, J = interval_step(cell, s, x)
        return s2, J

    sT, (Jm, Jr) = jax.lax.scan(fwd, (s0, jnp.zeros_like(s0)), xs)
    # g = (W_out^T (W_out h_T + b_out − y), 0)
    hT = _sl(sT, 0, H)
    res = iadd(imatvec(cell.W_out, hT, cell.b_out), (-y, jnp.zeros_like(y)))
    gh = imatvec(cell.W_out.T, res)
    g = (jnp.concatenate([gh[0], jnp.zeros_like(gh[0])]), jnp.concatenate([gh[1], jnp.zeros_like(gh[1])]))
    if cell.kind == "gru":
        g = gh
    g_m, g_r = g[0], enc.up(g[1] + tiny)

    def scale(Jm_t, Jr_t):
        s1, s2, e = linalg.pow2_scale(jnp.max(jnp.abs(Jm_t)))
        B = Jm_t.T * s1 * s2
        _, beta = enc.norm2_bounds((Jr_t.T * s1 * s2).reshape(-1))
        return B, enc.up(beta + _tiny(dtype) * (B.size + 1), 2), e

    Bs, betas, es = jax.vmap(scale)(Jm, Jr)
    out = _enclosed.backward_enclosures(Bs, betas, es, g_m, g_r)
    out["finite"] = jnp.all(jnp.isfinite(sT[1]))
    return _enclosed.vacuous_if_subnormal(out, cell, xs, y)
