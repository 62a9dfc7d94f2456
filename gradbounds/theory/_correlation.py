"""The correlation map of wide random networks, its fixed point c* and depth scale ξ_c.

With ``u₁ = √q z₁``, ``u₂ = √q (c z₁ + √(1-c²) z₂)``:

.. math::

   c^l = \\frac{σ_w^2 E[σ(u_1)σ(u_2)] + σ_b^2}{q^*},\\qquad
   ξ_c^{-1} = -\\log\\big(σ_w^2 E[σ'(u_1)σ'(u_2)]\\big)\\Big|_{c^*}.

On grids, c* comes from the Mehler (Hermite) series of the correlation map:
the coefficients of all points are one matrix product, Newton's method is
monotone on the convex map, and Parseval's identity bounds the truncation;
points where that bound, a kink or a large q* says so fall back to 2-D
quadrature.

References:
  Poole et al. 2016, eq. (5); Schoenholz et al. 2017, §3 (ξ_c);
  Mehler 1866 / Kibble 1945 (the bivariate Gaussian's Hermite expansion).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from jax.typing import ArrayLike

from gradbounds.core import LEAKY_SLOPE, Activation
from gradbounds.theory._gauss import NpActivation, expect, np_activation
from gradbounds.theory._meanfield import PHASE_TOL, _optimize, _out, _variances, chi1, q_star

__all__ = ["correlation_map", "c_star"]


def _cmap_integrals(act: NpActivation, q, c, closed=True):
    """``E[σ(u₁)σ(u₂)]`` and ``E[σ'(u₁)σ'(u₂)]`` with ``Var u = q``, ``corr(u₁,u₂) = c``."""
    q, c = np.broadcast_arrays(np.asarray(q, float), np.clip(np.asarray(c, float), -1.0, 1.0))
    if closed and act.name in ("linear", "relu", "leaky_relu"):
        th = np.pi - np.arccos(c)
        C_r = q / (2 * np.pi) * (np.sqrt(1 - c * c) + th * c)
        D_r = th / (2 * np.pi)
        if act.name == "linear":
            return q * c, np.ones_like(c)
        if act.name == "relu":
            return C_r, D_r
        a = LEAKY_SLOPE
        return a * q * c + (1 - a) ** 2 * C_r, a + (1 - a) ** 2 * D_r
    if closed and act.name == "erf":
        return (
            2 / np.pi * np.arcsin(2 * q * c / (1 + 2 * q)),
            4 / np.pi / np.sqrt((1 + 2 * q) ** 2 - (2 * q * c) ** 2),
        )
    f, d = act.fn, act.deriv
    sq, s = np.sqrt(q), np.sqrt(np.maximum(1 - c * c, 0.0))

    def outer(u1, z1, sq_, c_, s_):
        inner = expect(lambda u, z: (f(u), d(u)), act, sq_ * c_ * z1, np.broadcast_to(sq_ * s_, z1.shape))
        return f(u1) * inner[0], d(u1) * inner[1]

    return expect(outer, act, 0.0, sq, params=(sq, c, s))


def correlation_map(
    activation: str | Activation, c: ArrayLike, *, sw2: ArrayLike, sb2: ArrayLike, q: ArrayLike | None = None
) -> float | np.ndarray:
    """``c ↦ (σ_w² E[σ(u₁)σ(u₂)] + σ_b²)/q*`` (``sw2``, ``sb2`` are variances).

    .. math::

       c^l = \\frac{1}{q^*}\\Big(σ_w^2 \\int Dz_1 Dz_2\\, σ(u_1)σ(u_2) + σ_b^2\\Big),\\quad
       u_1 = \\sqrt{q^*} z_1,\\ u_2 = \\sqrt{q^*}\\big(c z_1 + \\sqrt{1-c^2} z_2\\big).

    The denominator is the same integral at ``c = 1`` (equal to ``q*`` at the
    fixed point), so that ``c = 1`` maps to 1 to rounding.

    References:
      Poole et al. 2016, eq. (5).
    """
    act = np_activation(activation)
    sw2, sb2 = _variances(sw2, sb2)
    qq = q_star(act.name, sw2, sb2) if q is None else np.asarray(q, float)
    num = sw2 * _cmap_integrals(act, qq, c)[0] + sb2
    den = sw2 * _cmap_integrals(act, qq, 1.0)[0] + sb2
    return num / den


_G_NOISE = 1e-10  # |c-map(c) − c| below this is not resolved by the 2-D quadrature
_DELTAS = np.concatenate([10.0 ** -np.arange(12, 0, -0.5), [0.5, 0.75, 0.9, 1.0]])


def _c_star_one(act, sw2, sb2, q, chi):
    """Stable fixed point of the correlation map for one (σ_w², σ_b²)."""
    if not np.isfinite(q) or q == 0 or chi <= 1 + PHASE_TOL:
        return 1.0
    den = sw2 * _cmap_integrals(act, q, 1.0)[0] + sb2

    def g(c):
        return (sw2 * _cmap_integrals(act, q, c)[0] + sb2) / den - c

    cs = 1.0 - _DELTAS  # from just below 1 down to 0
    gs = g(cs)
    clear = np.flatnonzero(gs < -_G_NOISE)  # g is negative on (c*, 1), but below quadrature noise near 1
    if clear.size == 0:
        return 1.0
    i0 = clear[0]
    above = np.flatnonzero(gs[i0:] >= 0)
    if above.size == 0:  # no sign change down to c = 0 (cannot happen: g(0) ≥ 0)
        return 0.0
    i = i0 + above[0]
    if gs[i] == 0:
        return float(cs[i])
    return _optimize().brentq(g, cs[i], cs[i - 1], xtol=1e-15, rtol=4 * np.finfo(float).eps)


# Mehler series of the correlation map (vectorised c*): composite Gauss–Legendre rule in z, Hermite degree K
_K_SERIES = 400
_Z_SERIES = 13.0  # e^{-Z²/4} < 1e-18: |a_k| has no mass beyond (|h_k(z)| φ(z) ≤ e^{-z²/4})
_ACCEPT = 1e-10  # truncation bound on c* and χ_c above which a point falls back to 2-D quadrature
_Q_SERIES = 20.0  # q* up to which the fixed rule integrates σ(√q z) He_k(z) to rounding
# analytic on the real line (no kinks: the fixed rule does not cut at them, and the Hermite tail decays fast)
_SERIES_ACTIVATIONS = ("sigmoid", "tanh", "softplus", "gelu", "silu", "erf", "linear")


@functools.cache
def _hermite_rule():
    """Nodes ``z_n`` and weights ``w_n φ(z_n)``, and ``M[n, k] = w_n φ(z_n) He_k(z_n)/√(k!)``."""
    x, w = np.polynomial.legendre.leggauss(20)
    edges = np.arange(-_Z_SERIES, _Z_SERIES + 1e-9, 0.25)  # pieces of 1/4: σ(√q z) analytic across them for q ≤ 20
    lo, hi = edges[:-1, None], edges[1:, None]
    z = (0.5 * (lo + hi) + 0.5 * (hi - lo) * x).ravel()
    wz = (0.5 * (hi - lo) * w).ravel() * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    H = np.empty((z.size, _K_SERIES + 1))
    H[:, 0], H[:, 1] = 1.0, z
    for k in range(1, _K_SERIES):  # orthonormal recurrence h_{k+1} = (z h_k − √k h_{k−1})/√(k+1)
        H[:, k + 1] = (z * H[:, k] - math.sqrt(k) * H[:, k - 1]) / math.sqrt(k + 1)
    return z, wz, wz[:, None] * H


def _c_star_series(act: NpActivation, sw2, sb2, q):
    """c*, χ_c and a truncation bound on them, from the Mehler series of the correlation map.

    .. math::

       E[σ(u_1)σ(u_2)] = \\sum_{k≥0} a_k^2 c^k,\\quad a_k = E\\big[σ(\\sqrt q z)\\,He_k(z)\\big]/\\sqrt{k!},
       \\qquad q\\,E[σ'(u_1)σ'(u_2)] = \\sum_{k≥1} k a_k^2 c^{k-1},

    truncated at ``K``, with the tail ``Σ_{k>K} a_k² = E[σ²] − Σ_{k≤K} a_k²``
    (Parseval) bounding what is left out.  ``g(c) = (σ_w² S(c) + σ_b²)/q − c``
    is convex (``a_k² ≥ 0``), positive at 0 and negative just below 1 in the
    chaotic phase, so Newton's method from ``c = 0`` climbs monotonically to
    its one root below 1.  Vectorised over points: the ``a_k`` of all points
    are one matrix product with the rule of :func:`_hermite_rule`.
    """
    z, wz, M = _hermite_rule()
    sq = np.sqrt(q)
    P = q.size
    A = np.empty((P, M.shape[1]))
    C1 = np.empty(P)
    for i in range(0, P, 1024):
        F = act.fn(sq[i : i + 1024, None] * z[None, :])
        A[i : i + 1024] = F @ M
        C1[i : i + 1024] = (F * F) @ wz
    b = A * A
    tail = np.maximum(C1 - np.sum(b, axis=1), 0.0)
    den = sw2 * C1 + sb2
    k = np.arange(b.shape[1], dtype=float)

    def S(c, d=0):  # Σ b_k c^k (d=0) or Σ k b_k c^{k-1} (d=1), Horner from the top
        coef = b if d == 0 else (b * k)[:, 1:]
        acc = np.zeros(P)
        for j in range(coef.shape[1] - 1, -1, -1):
            acc = acc * c + coef[:, j]
        return acc

    c = np.zeros(P)
    for _ in range(100):
        g = (sw2 * S(c) + sb2) / den - c
        dg = sw2 * S(c, 1) / den - 1
        step = np.where(dg < 0, -g / np.where(dg < 0, dg, -1.0), 0.0)
        c_new = np.clip(c + np.maximum(step, 0.0), 0.0, 1.0)
        done = np.all(c_new - c <= 4 * np.finfo(float).eps * np.maximum(c_new, 1e-300))
        c = c_new
        if done:
            break
    dg = sw2 * S(c, 1) / den - 1
    chi_c = sw2 * S(c, 1) / q
    K = b.shape[1] - 1
    # left out: Δg ≤ σ_w² tail c^{K+1}/q (moves c* up by Δg/|g'|), Δχ_c ≤ σ_w² tail (K+1) c^K / q
    err_c = sw2 * tail * c ** (K + 1) / den / np.maximum(-dg, 1e-300)
    err_chi = sw2 * tail * (K + 1) * c**K / q
    ok = (dg < 0) & (err_c <= _ACCEPT) & (err_chi <= _ACCEPT) & (c < 1)
    return c, chi_c, ok


def _c_star_grid(act: NpActivation, sw2, sb2, q, chi):
    """c* and χ_c at c* for arrays (flattened); the series where it is certified, else 2-D quadrature."""
    c = np.ones(q.shape)
    chi_c = np.array(chi, float, copy=True)
    inner = np.isfinite(q) & (q > 0) & (chi > 1 + PHASE_TOL)
    idx = np.flatnonzero(inner)
    if idx.size:
        ok = np.zeros(idx.size, bool)
        if act.name in _SERIES_ACTIVATIONS:
            series = q[idx] <= _Q_SERIES  # the rule resolves σ(√q z) on pieces of 1/4 up to this q
            cs, xs, ok_s = _c_star_series(act, sw2[idx[series]], sb2[idx[series]], q[idx[series]])
            ok[series] = ok_s
            c[idx[ok]], chi_c[idx[ok]] = cs[ok_s], xs[ok_s]
        for i in idx[~ok]:  # not analytic enough (kinks) or too close to the critical line for K terms
            c[i] = _c_star_one(act, sw2[i], sb2[i], q[i], chi[i])
            if c[i] < 1:
                chi_c[i] = sw2[i] * _cmap_integrals(act, q[i], c[i])[1]
    return c, chi_c


def c_star(activation: str | Activation, sw2: ArrayLike, sb2: ArrayLike) -> float | np.ndarray:
    """Stable fixed point ``c*`` of the correlation map (``sw2``, ``sb2`` are variances).

    ``c* = 1`` in the ordered phase (``χ₁ ≤ 1``); in the chaotic phase the
    largest root below 1 of ``c = C(c)``.  ``C`` is summed as its Mehler
    (Hermite) series, ``Σ_k a_k(q*)² c^k``, whose coefficients for every point
    of an array are one matrix product, and the root found by Newton's method
    (monotone: the map is convex); where the left-out tail could move c* by
    more than 1e-10 (points next to the critical line), for σ with kinks or
    not known to be analytic, and for ``q* > 20``, c* is
    bracketed on a grid ``1 − δ`` and found by :func:`scipy.optimize.brentq`
    on 2-D quadratures (about 10⁵ nodes each) instead.

    .. math::  c^* = \\frac{1}{q^*}\\Big(σ_w^2 \\int Dz_1 Dz_2\\, σ(u_1)σ(u_2) + σ_b^2\\Big)\\Big|_{c = c^*}.

    References:
      Poole et al. 2016, eq. (5) and §3 (stability of c = 1 iff χ₁ < 1);
      Mehler 1866 / Kibble 1945 (the bivariate Gaussian's Hermite expansion).
    """
    act = np_activation(activation)
    scalar = np.ndim(sw2) == 0 and np.ndim(sb2) == 0
    sw2, sb2 = _variances(sw2, sb2)
    q = np.asarray(q_star(act.name, sw2, sb2), float)
    x = np.asarray(chi1(act.name, sw2, sb2), float)
    out, _ = _c_star_grid(act, sw2.ravel(), sb2.ravel(), q.ravel(), x.ravel())
    return _out(out.reshape(sw2.shape), scalar)
