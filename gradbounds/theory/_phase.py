"""Phases of wide random networks: all mean-field quantities at once and the order-to-chaos line.

``χ₁ < 1`` is the ordered phase (gradients vanish like ``χ₁^{L-l}``), ``χ₁ > 1``
the chaotic one, ``χ₁ = 1`` the critical line.

.. math::  ξ_∇ = -1/\\log χ_1 .

References:
  Poole et al. 2016, eq. (7); Schoenholz et al. 2017, §3 and §5.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from jax.typing import ArrayLike

from gradbounds.core import Activation
from gradbounds.theory._correlation import _c_star_grid
from gradbounds.theory._gauss import np_activation
from gradbounds.theory._meanfield import (
    PHASE_TOL,
    _d0sq,
    _homogeneous,
    _optimize,
    _out,
    _variances,
    gaussian_moments,
    q_star,
)

__all__ = ["MeanField", "mean_field", "critical_line", "critical_sw2"]


class MeanField(NamedTuple):
    """Mean-field quantities at ``(σ_w², σ_b²)`` (see :func:`mean_field`): floats, or arrays over a grid."""

    q_star: Any
    chi1: Any
    slope_q: Any
    c_star: Any
    chi_c: Any
    xi_q: Any
    xi_c: Any
    xi_grad: Any
    phase: Any

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays become lists)."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self._asdict().items()}


def _neg_inv_log(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 1, np.inf, -1.0 / np.log(np.where(x > 0, x, np.nan)))


def mean_field(activation: str | Activation, sw2: ArrayLike, sb2: ArrayLike, *, correlation: bool = True) -> MeanField:
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
        return MeanField(*(float(v) for v in vals), str(phase))  # pyright: ignore[reportCallIssue]  (8 values + phase)
    return MeanField(*vals, phase)


def critical_line(activation: str | Activation, q: ArrayLike) -> tuple[float | np.ndarray, float | np.ndarray]:
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


def critical_sw2(activation: str | Activation, sb2: float) -> tuple[float, float]:
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
