"""Mean field of wide random networks: the length map, q*, χ₁ and the depth scale ξ_∇.

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
expectations use the quadrature of ``theory/_gauss.py`` (Gauss–Hermite / composite
Gauss–Legendre, ≤ 1e-10 relative error) or closed forms (linear, relu,
leaky_relu, erf, hard_tanh).  Free-probability spectra of the input-output
Jacobian are in ``theory/_freeprob.py``.

References:
  Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli 2016, "Exponential
  expressivity in deep neural networks through transient chaos", eqs. (3)
  (length map), (5) (correlation map), (7) (χ₁);
  Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, "Deep information
  propagation", §3 (ξ_q, ξ_c) and §5 (ξ_∇ = −1/log χ₁);
  Cho & Saul 2009 (arc-cosine kernel: relu); Williams 1997 (erf kernel).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from jax.typing import ArrayLike

from gradbounds.core import LEAKY_SLOPE, Activation
from gradbounds.theory._gauss import NpActivation, expect, np_activation

__all__ = ["Moments", "gaussian_moments", "length_map", "length_map_iterates", "q_star", "chi1", "PHASE_TOL"]

PHASE_TOL = 1e-9  # |χ₁ − 1| ≤ PHASE_TOL is "critical"
Q_MAX = 1e30  # q* above this is reported as inf (the length map diverges)
_Q_TINY = 1e-14


def _optimize() -> Any:
    from scipy import optimize  # imported when used: `import gradbounds` stays light

    return optimize


def _special():
    from scipy import special

    return special


def _variances(sw2: ArrayLike, sb2: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    sw2, sb2 = np.broadcast_arrays(np.asarray(sw2, float), np.asarray(sb2, float))
    if not (np.all(np.isfinite(sw2)) and np.all(np.isfinite(sb2)) and np.all(sw2 >= 0) and np.all(sb2 >= 0)):
        raise ValueError(f"sw2 and sb2 are variances: expected finite values >= 0, got sw2={sw2}, sb2={sb2}")
    return sw2, sb2


def _out(x, scalar):
    return float(x) if scalar else x


def _homogeneous(act: NpActivation):
    """(κ, κ', κ₄) with E[σ²] = κq, E[σ'²] = κ', E[σ'⁴] = κ₄ for positively homogeneous σ, else None."""
    a = LEAKY_SLOPE

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


def gaussian_moments(activation: str | Activation, q: ArrayLike, *, closed: bool = True) -> Moments:
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


def length_map(activation: str | Activation, q: ArrayLike, *, sw2: ArrayLike, sb2: ArrayLike) -> float | np.ndarray:
    """``V(q) = σ_w² E[σ(√q z)²] + σ_b²`` (``sw2``, ``sb2`` are variances).

    .. math::  q^l = σ_w^2 \\int Dz\\, σ(\\sqrt{q^{l-1}} z)^2 + σ_b^2.

    References:
      Poole et al. 2016, eq. (3).
    """
    sw2, sb2 = _variances(sw2, sb2)
    return sw2 * gaussian_moments(activation, q).phi2 + sb2


def length_map_iterates(activation: str | Activation, q1: float, depth: int, *, sw2: float, sb2: float) -> np.ndarray:
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


def q_star(activation: str | Activation, sw2: ArrayLike, sb2: ArrayLike) -> float | np.ndarray:
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


def chi1(
    activation: str | Activation, sw2: ArrayLike, sb2: ArrayLike, *, q: ArrayLike | None = None
) -> float | np.ndarray:
    """``χ₁ = σ_w² E[σ'(√q* z)²]`` (``sw2``, ``sb2`` are variances; ``q`` overrides ``q*``).

    .. math::  χ_1 = σ_w^2 \\int Dz\\, σ'(\\sqrt{q^*} z)^2 .

    At ``q* = inf`` the limit ``q → ∞`` is returned.  ``E‖δ^l‖² ≈ χ₁ E‖δ^{l+1}‖²``
    layer by layer in a wide network (Schoenholz et al. 2017, §5).

    References:
      Poole et al. 2016, eq. (7); Schoenholz et al. 2017, §5.
    """
    scalar = np.ndim(sw2) == 0 and np.ndim(sb2) == 0 and (q is None or np.ndim(q) == 0)
    sw2_, sb2_ = _variances(sw2, sb2)
    if q is None:
        qq = np.asarray(q_star(activation, sw2_, sb2_), float)
    else:
        sw2_, sb2_, qq = np.broadcast_arrays(sw2_, sb2_, np.asarray(q, float))
    qq = np.where(np.isinf(qq), 1e30, qq)
    return _out(sw2_ * gaussian_moments(activation, qq).dphi2, scalar)
