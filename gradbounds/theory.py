"""Typical-case theory of wide random networks: mean field and free probability.

Every function takes the weight and bias **variances** ``sw2 = σ_w²`` and
``sb2 = σ_b²`` of the ensemble ``W^l_{ij} ~ N(0, σ_w²/n_{l-1})``,
``b^l_i ~ N(0, σ_b²)`` (or ``W^l = σ_w · Haar-orthogonal`` for the
orthogonal ensemble); they broadcast as numpy arrays, so a 200 × 200
``(σ_w², σ_b²)`` grid is one call.  Scalars in, Python floats out.

Mean field (Poole et al. 2016; Schoenholz et al. 2017), with
``u = √q z``, ``u₁ = √q z₁``, ``u₂ = √q (c z₁ + √(1-c²) z₂)`` and
``z, z₁, z₂ ~ N(0, 1)``:

.. math::

   q^l &= σ_w^2\\,E[σ(\\sqrt{q^{l-1}} z)^2] + σ_b^2 \\quad\\text{(length map)}, \\\\
   χ_1 &= σ_w^2\\,E[σ'(\\sqrt{q^*} z)^2], \\qquad
   c^l = \\frac{σ_w^2 E[σ(u_1)σ(u_2)] + σ_b^2}{q^*} \\quad\\text{(correlation map)}, \\\\
   ξ_q^{-1} &= -\\log\\frac{∂q^l}{∂q^{l-1}}\\Big|_{q^*}, \\quad
   ξ_c^{-1} = -\\log\\big(σ_w^2 E[σ'(u_1)σ'(u_2)]\\big)\\Big|_{c^*}, \\quad
   ξ_∇^{-1} = -\\log χ_1 .

``χ₁ < 1`` is the ordered phase (gradients vanish like ``χ₁^{L-l}``), ``χ₁ > 1``
the chaotic one (they explode), ``χ₁ = 1`` the critical line.  Gaussian
expectations use :mod:`gradbounds._gauss` (Gauss–Hermite / composite
Gauss–Legendre, ≤ 1e-10 relative error) or closed forms (linear, relu,
leaky_relu, erf, hard_tanh).  Free-probability spectra of the input-output
Jacobian are in :mod:`gradbounds.freeprob`.

References:
  Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli 2016, "Exponential
  expressivity in deep neural networks through transient chaos", eqs. (3)
  (length map), (5) (correlation map), (7) (χ₁);
  Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, "Deep information
  propagation", §3 (ξ_q, ξ_c) and §5 (ξ_∇ = −1/log χ₁);
  Cho & Saul 2009 (arc-cosine kernel: relu); Williams 1997 (erf kernel).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from gradbounds._gauss import NpActivation, expect, np_activation

__all__ = [
    "MeanField",
    "Moments",
    "gaussian_moments",
    "length_map",
    "length_map_iterates",
    "q_star",
    "chi1",
    "correlation_map",
    "c_star",
    "mean_field",
    "critical_line",
    "critical_sw2",
    "PHASE_TOL",
]

PHASE_TOL = 1e-9  # |χ₁ − 1| ≤ PHASE_TOL is "critical"
Q_MAX = 1e30  # q* above this is reported as inf (the length map diverges)
_Q_TINY = 1e-14


def _optimize():
    from scipy import optimize  # imported when used: `import gradbounds` stays light

    return optimize


def _special():
    from scipy import special

    return special


def _variances(sw2, sb2):
    sw2, sb2 = np.broadcast_arrays(np.asarray(sw2, float), np.asarray(sb2, float))
    if not (np.all(np.isfinite(sw2)) and np.all(np.isfinite(sb2)) and np.all(sw2 >= 0) and np.all(sb2 >= 0)):
        raise ValueError(f"sw2 and sb2 are variances: expected finite values >= 0, got sw2={sw2}, sb2={sb2}")
    return sw2, sb2


def _out(x, scalar):
    return float(x) if scalar else x


def _homogeneous(act: NpActivation):
    """(κ, κ', κ₄) with E[σ²] = κq, E[σ'²] = κ', E[σ'⁴] = κ₄ for positively homogeneous σ, else None."""
    from gradbounds.activations import LEAKY_SLOPE as a

    return {
        "linear": (1.0, 1.0, 1.0),
        "relu": (0.5, 0.5, 0.5),
        "leaky_relu": ((1 + a * a) / 2, (1 + a * a) / 2, (1 + a**4) / 2),
    }.get(act.name)


class Moments(NamedTuple):
    """``E[σ(u)²]``, ``E[σ'(u)²]``, ``E[σ'(u)⁴]`` and ``dE[σ(u)²]/dq`` at ``u ~ N(0, q)``."""

    phi2: np.ndarray
    dphi2: np.ndarray
    dphi4: np.ndarray
    slope: np.ndarray


def gaussian_moments(activation, q, *, closed: bool = True) -> Moments:
    """One-dimensional Gaussian moments of σ at variance ``q`` (vectorised).

    .. math::

       A(q) = E[σ(\\sqrt q z)^2],\\quad μ_1 = E[σ'(\\sqrt q z)^2],\\quad
       μ_2 = E[σ'(\\sqrt q z)^4],\\quad A'(q) = \\frac{E[z\\,σ(\\sqrt q z)σ'(\\sqrt q z)]}{\\sqrt q}.

    Closed forms (``closed=True``): linear, relu, leaky_relu (``A = κq``);
    erf (``A = (2/π) arcsin(2q/(1+2q))``, ``μ_1 = 4/(π√(1+4q))``,
    ``μ_2 = 16/(π²√(1+8q))``); hard_tanh (``μ_1 = μ_2 = erf(1/√(2q))``).

    References:
      Poole et al. 2016, eqs. (3), (7); Williams 1997 (erf); Pennington et
      al. 2017, §2.4 (μ_k = E[σ'(h)^{2k}], hard_tanh's ``p(q*)``).
    """
    act = np_activation(activation)
    q = np.asarray(q, float)
    if np.any(q < 0) or np.any(np.isnan(q)):
        raise ValueError(f"q is a variance: expected values >= 0, got {q}")
    hom = _homogeneous(act) if closed else None
    one = np.ones_like(q)
    if hom is not None:
        k, k1, k4 = hom
        return Moments(k * q, k1 * one, k4 * one, k * one)
    if closed and act.name == "erf":
        r = np.sqrt(1 + 4 * q)
        A = 2 / np.pi * np.arcsin(2 * q / (1 + 2 * q))
        return Moments(A, 4 / (np.pi * r), 16 / (np.pi**2 * np.sqrt(1 + 8 * q)), 4 / (np.pi * (1 + 2 * q) * r))
    if closed and act.name == "hard_tanh":
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t = 1 / np.sqrt(q)
            P = _special().erf(t / math.sqrt(2))
            tp = np.where(q > 0, t * np.exp(-0.5 * t * t) / math.sqrt(2 * math.pi), 0.0)
        S = P - 2 * tp
        return Moments(q * S + (1 - P), P, P, S)
    sq = np.sqrt(np.maximum(q, 1e-300))  # q = 0 as the limit q → 0⁺ (one-sided σ' at a kink)
    f, d = act.fn, act.deriv
    g0 = float(f(np.array(0.0)) * d(np.array(0.0)))

    def fn(u, z):
        d2 = d(u) ** 2
        return f(u) ** 2, d2, d2 * d2

    A, D1, D2 = expect(fn, act, 0.0, sq)
    qs = np.maximum(q, _Q_TINY)
    S = expect(lambda u, z: z * (f(u) * d(u) - g0), act, 0.0, np.sqrt(qs)) / np.sqrt(qs)
    return Moments(A, D1, D2, S)


def length_map(activation, q, *, sw2, sb2):
    """``V(q) = σ_w² E[σ(√q z)²] + σ_b²`` (``sw2``, ``sb2`` are variances).

    .. math::  q^l = σ_w^2 \\int Dz\\, σ(\\sqrt{q^{l-1}} z)^2 + σ_b^2.

    References:
      Poole et al. 2016, eq. (3).
    """
    sw2, sb2 = _variances(sw2, sb2)
    return sw2 * gaussian_moments(activation, q).phi2 + sb2


def length_map_iterates(activation, q1, depth: int, *, sw2, sb2) -> np.ndarray:
    """``q^1, ..., q^depth`` from ``q^1`` by the length map (``sw2``, ``sb2`` are variances).

    ``q^1 = σ_w² ‖x‖²/n_0 + σ_b²`` for an input ``x``.

    References:
      Poole et al. 2016, eq. (3).
    """
    out = [float(q1)]
    for _ in range(int(depth) - 1):
        out.append(float(length_map(activation, out[-1], sw2=sw2, sb2=sb2)))
    return np.array(out)


def _d0sq(act) -> float:
    """``lim_{q→0} E[σ'(√q z)²] = (σ'(0⁺)² + σ'(0⁻)²)/2``."""
    d = np.asarray(act.deriv(np.array([1e-300, -1e-300])), float)
    return float(0.5 * np.sum(d * d))


def _phi2(act: NpActivation, q):
    """``E[σ(√q z)²]`` alone (the root finder's integrand), closed form where there is one."""
    hom = _homogeneous(act)
    if hom is not None or act.name in ("erf", "hard_tanh"):
        return gaussian_moments(act.name, q).phi2
    return expect(lambda u, z: act.fn(u) ** 2, act, 0.0, np.sqrt(q))


def _qstar_f(act):
    def f(q, sw2, sb2):
        return sw2 * _phi2(act, q) + sb2 - q

    return f


def q_star(activation, sw2, sb2):
    """Stable fixed point ``q*`` of the length map (``sw2 = σ_w²``, ``sb2 = σ_b²``, variances).

    .. math::  q^* = σ_w^2 \\int Dz\\, σ(\\sqrt{q^*} z)^2 + σ_b^2 .

    The root of ``f(q) = V(q) − q`` is bracketed in ``[σ_b², q_hi]`` with
    ``f(σ_b²) ≥ 0`` and ``f(q_hi) < 0`` (``q_hi = σ_w² sup σ² + σ_b²`` for bounded
    σ; else ``q_hi`` doubles from ``max(2σ_b², 1e-6)`` up to 1e4, then grows
    tenfold: the first such sign change is the smallest stable root, unless
    the window where ``f < 0`` is narrower than a factor 2), then found by :func:`scipy.optimize.brentq`
    (scalars) or Chandrupatla's method, :func:`scipy.optimize.elementwise.find_root`
    (arrays), in ``log q`` to absolute tolerance 1e-15 (relative in q).  When ``σ_b² = 0`` and ``σ(0) = 0``, ``q = 0``
    is a fixed point; it is ``q*`` when stable (``σ_w² σ'(0)² ≤ 1``).  ``inf``
    when the length map diverges (``q > 1e30``; e.g. relu with ``σ_w² ≥ 2``
    and ``σ_b² > 0``).

    References:
      Poole et al. 2016, eq. (3) and Fig. 1 (fixed point q*).
    """
    act = np_activation(activation)
    scalar = np.ndim(sw2) == 0 and np.ndim(sb2) == 0
    sw2, sb2 = _variances(sw2, sb2)
    hom = _homogeneous(act)
    if hom is not None:
        k = sw2 * hom[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(k < 1, sb2 / (1 - k), np.where(sb2 > 0, np.inf, np.where(k > 1, np.inf, 0.0)))
        return _out(q, scalar)
    f = _qstar_f(act)
    q = np.full(sw2.shape, np.nan)
    lo = sb2.copy()
    flo = f(lo, sw2, sb2)
    zero = flo <= 0  # σ_b² is itself a fixed point (σ_w² = 0, or σ_b² = 0 = σ(0))
    q[zero & (lo > 0)] = lo[zero & (lo > 0)]
    zero &= lo == 0
    if zero.any():  # q = 0 is a fixed point; it is q* when stable
        stable0 = sw2 * _d0sq(act) <= 1
        q[zero & stable0] = 0.0
        lo = np.where(zero & ~stable0, 1e-100, lo)
        flo = f(lo, sw2, sb2)
        q[zero & ~stable0 & (flo <= 0)] = 0.0
    todo = np.isnan(q)
    hi = np.where(np.isfinite(act.sup_abs), sw2 * act.sup_abs**2 + sb2, np.maximum(2 * lo, 1e-6))
    fhi = np.where(todo, f(hi, sw2, sb2), -1.0)
    grow = todo & (fhi >= 0)
    while grow.any():  # ×2 steps up to 1e4 (a stable root's window is not skipped), then ×10
        hi[grow] *= np.where(hi[grow] < 1e4, 2.0, 10.0)
        fhi[grow] = f(hi[grow], sw2[grow], sb2[grow])
        big = grow & (hi > Q_MAX)
        q[big & (fhi >= 0)] = np.inf
        grow = grow & (fhi >= 0) & ~big
    todo = np.isnan(q)
    q[todo & (fhi == 0)] = hi[todo & (fhi == 0)]
    todo &= fhi != 0
    if todo.any():  # root in t = log q: relative accuracy at every scale, and q = 0 out of reach
        t_lo, t_hi = np.log(np.maximum(lo[todo], 1e-300)), np.log(hi[todo])

        def ft(t, sw2_, sb2_):
            return f(np.exp(t), sw2_, sb2_)

        if scalar:
            q[todo] = np.exp(
                _optimize().brentq(ft, t_lo[0], t_hi[0], args=(sw2, sb2), xtol=1e-15, rtol=4 * np.finfo(float).eps)
            )
        else:
            from scipy.optimize import elementwise

            tol = dict(xatol=1e-15, xrtol=4 * np.finfo(float).eps, fatol=0.0, frtol=0.0)
            q[todo] = np.exp(elementwise.find_root(ft, (t_lo, t_hi), args=(sw2[todo], sb2[todo]), tolerances=tol).x)
    return _out(q, scalar)


def chi1(activation, sw2, sb2, *, q=None):
    """``χ₁ = σ_w² E[σ'(√q* z)²]`` (``sw2``, ``sb2`` are variances; ``q`` overrides ``q*``).

    .. math::  χ_1 = σ_w^2 \\int Dz\\, σ'(\\sqrt{q^*} z)^2 .

    At ``q* = inf`` the limit ``q → ∞`` is returned.  ``E‖δ^l‖² ≈ χ₁ E‖δ^{l+1}‖²``
    layer by layer in a wide network (Schoenholz et al. 2017, §5).

    References:
      Poole et al. 2016, eq. (7); Schoenholz et al. 2017, §5.
    """
    scalar = np.ndim(sw2) == 0 and np.ndim(sb2) == 0 and np.ndim(q) == 0
    sw2_, sb2_ = _variances(sw2, sb2)
    if q is None:
        qq = np.asarray(q_star(activation, sw2_, sb2_), float)
    else:
        sw2_, sb2_, qq = np.broadcast_arrays(sw2_, sb2_, np.asarray(q, float))
    qq = np.where(np.isinf(qq), 1e30, qq)
    return _out(sw2_ * gaussian_moments(activation, qq).dphi2, scalar)


def _cmap_integrals(act: NpActivation, q, c, closed=True):
    """``E[σ(u₁)σ(u₂)]`` and ``E[σ'(u₁)σ'(u₂)]`` with ``Var u = q``, ``corr(u₁,u₂) = c``."""
    q, c = np.broadcast_arrays(np.asarray(q, float), np.clip(np.asarray(c, float), -1.0, 1.0))
    if closed and act.name in ("linear", "relu", "leaky_relu"):
        from gradbounds.activations import LEAKY_SLOPE

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


def correlation_map(activation, c, *, sw2, sb2, q=None):
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


def c_star(activation, sw2, sb2):
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


class MeanField(NamedTuple):
    """Mean-field quantities at ``(σ_w², σ_b²)`` (see :func:`mean_field`)."""

    q_star: object
    chi1: object
    slope_q: object
    c_star: object
    chi_c: object
    xi_q: object
    xi_c: object
    xi_grad: object
    phase: object

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays become lists)."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self._asdict().items()}


def _neg_inv_log(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 1, np.inf, -1.0 / np.log(np.where(x > 0, x, np.nan)))


def mean_field(activation, sw2, sb2, *, correlation: bool = True) -> MeanField:
    """q*, χ₁, c*, the depth scales and the phase at variances ``sw2 = σ_w²``, ``sb2 = σ_b²``.

    .. math::

       ξ_q^{-1} = -\\log\\Big(σ_w^2 \\frac{dE[σ(\\sqrt q z)^2]}{dq}\\Big|_{q^*}\\Big),\\quad
       ξ_c^{-1} = -\\log χ_c,\\quad χ_c = σ_w^2 E[σ'(u_1)σ'(u_2)]\\big|_{c^*},\\quad
       ξ_∇ = -1/\\log χ_1 .

    ``dE[σ²]/dq = E[σ'² + σσ'']`` (Stein), Schoenholz's ``χ₁ + σ_w²∫Dz σ''σ``,
    computed without σ''.  ``ξ_∇ < 0`` means gradients explode with depth
    scale ``|ξ_∇|``; ``inf`` at ``χ₁ = 1``.  In the ordered phase ``c* = 1`` and
    ``χ_c = χ₁``, so ``ξ_c = ξ_∇``.  ``correlation=False`` skips c* and ξ_c
    (2-D integrals) for fast grids.  ``phase`` is ``"ordered"`` (χ₁ < 1),
    ``"chaotic"`` (χ₁ > 1) or ``"critical"`` (|χ₁ − 1| ≤ :data:`PHASE_TOL`).

    References:
      Schoenholz et al. 2017, §3 (ξ_q, ξ_c; ξ_c diverges at χ₁ = 1) and §5
      (ξ_∇); Poole et al. 2016, eqs. (3), (5), (7).
    """
    act = np_activation(activation)
    scalar = np.ndim(sw2) == 0 and np.ndim(sb2) == 0
    sw2, sb2 = _variances(sw2, sb2)
    q = np.asarray(q_star(act.name, sw2, sb2), float)
    qe = np.where(np.isinf(q), 1e30, q)
    m = gaussian_moments(act.name, qe)
    x = sw2 * m.dphi2
    slope = np.where(np.isinf(q), np.nan, sw2 * m.slope)
    xi_q = np.where(np.isinf(q), np.nan, _neg_inv_log(slope))
    xi_grad = _neg_inv_log(x)
    phase = np.where(np.abs(x - 1) <= PHASE_TOL, "critical", np.where(x < 1, "ordered", "chaotic"))
    if correlation:
        cs, chi_c = _c_star_grid(act, sw2.ravel(), sb2.ravel(), q.ravel(), np.asarray(x, float).ravel())
        cs, chi_c = cs.reshape(sw2.shape), chi_c.reshape(sw2.shape)  # χ_c = χ₁ where c* = 1
        xi_c = _neg_inv_log(np.where(chi_c > 1, 1.0, chi_c))
    else:
        cs = chi_c = xi_c = np.full(sw2.shape, np.nan)
    vals = (q, x, slope, cs, chi_c, xi_q, xi_c, xi_grad)
    if scalar:
        return MeanField(*(float(v) for v in vals), str(phase))
    return MeanField(*vals, phase)


def critical_line(activation, q):
    """The order-to-chaos line parametrised by ``q*``: returns variances ``(sw2, sb2)``.

    .. math::  σ_w^2 = \\frac{1}{E[σ'(\\sqrt{q^*} z)^2]},\\qquad
               σ_b^2 = q^* - σ_w^2 E[σ(\\sqrt{q^*} z)^2],

    so that ``χ₁ = 1`` and ``q*`` is the length map's fixed point.  Points with
    ``σ_b² < 0`` are not realisable (returned as they are, for plotting).

    References:
      Poole et al. 2016, §3 and Fig. 2 (the critical line χ₁ = 1);
      Pennington et al. 2017, §2.2 (the line parametrised by q*).
    """
    scalar = np.ndim(q) == 0
    m = gaussian_moments(activation, q)
    sw2 = 1.0 / m.dphi2
    return _out(sw2, scalar), _out(np.asarray(q, float) - sw2 * m.phi2, scalar)


def critical_sw2(activation, sb2) -> tuple[float, float]:
    """Critical weight variance ``σ_w²`` at bias variance ``sb2 = σ_b²``, and ``q*`` there.

    Solves ``q − E[σ²]/E[σ'²] = σ_b²`` for ``q*`` (roots bracketed on a
    geometric grid ``1e-8 … 1e8``, refined by :func:`scipy.optimize.brentq`),
    then ``σ_w² = 1/E[σ'(√q* z)²]``, so that ``χ₁ = 1`` at ``(σ_w², σ_b²)``.
    The smallest root that is the *stable* fixed point :func:`q_star` finds
    at ``(σ_w², σ_b²)`` is returned (for gelu and silu some roots are
    unstable fixed points of the length map, which no network settles at).
    At ``σ_b² = 0`` with ``σ(0) = 0`` the critical point is ``q* = 0``,
    ``σ_w² = 1/σ'(0)²``.  For positively homogeneous σ (linear, relu,
    leaky_relu) χ₁ does not depend on q: ``σ_w² = 1/E[σ'²]`` and ``q* = inf``
    if ``σ_b² > 0`` (every q is a fixed point, reported as nan, if
    ``σ_b² = 0``); likewise when ``χ₁ < 1`` at every finite q* (softplus), the
    limit ``q* → ∞`` is returned.

    .. math::  χ_1(σ_w^2, σ_b^2) = 1 .

    Raises:
      ValueError: if no critical point exists for this σ_b² on the grid.

    References:
      Poole et al. 2016, §3; Schoenholz et al. 2017, §3 (the critical line).
    """
    act = np_activation(activation)
    _, sb2a = _variances(1.0, sb2)
    sb2 = float(sb2a)
    hom = _homogeneous(act)
    if hom is not None:
        return 1.0 / hom[1], (math.inf if sb2 > 0 else math.nan)

    def h(q):
        m = gaussian_moments(act.name, q)
        return q - m.phi2 / m.dphi2 - sb2

    d0sq = _d0sq(act)
    if sb2 == 0 and float(act.fn(np.array(0.0))) == 0 and d0sq > 0:  # q* = 0 with σ_w² σ'(0)² = 1
        return 1.0 / d0sq, 0.0
    grid = np.geomspace(1e-8, 1e8, 321)
    hs = h(grid)
    for i in np.flatnonzero(np.sign(hs[:-1]) * np.sign(hs[1:]) <= 0):
        qc = (
            grid[i]
            if hs[i] == 0
            else _optimize().brentq(h, grid[i], grid[i + 1], xtol=1e-300, rtol=4 * np.finfo(float).eps)
        )
        sw2c = float(1.0 / gaussian_moments(act.name, qc).dphi2)
        if abs(float(q_star(act.name, sw2c, sb2)) - qc) <= 1e-6 * qc:  # qc is the stable fixed point there
            return sw2c, float(qc)
    if np.all(hs < 0):  # χ₁ < 1 wherever q* is finite: criticality only as q* → ∞ (like relu)
        return float(1.0 / gaussian_moments(act.name, 1e30).dphi2), math.inf
    raise ValueError(
        f"{act.name}: no critical sw2 at sb2={sb2} with q* a stable fixed point (searched q* in [1e-8, 1e8])"
    )
