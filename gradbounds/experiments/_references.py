"""Published mean-field and free-probability results, recomputed independently of :mod:`gradbounds.theory`.

The paper sets the toolkit's numbers beside the closed forms of

* Schoenholz et al. 2017 (order/chaos boundary ``χ₁ = 1`` of tanh networks
  in ``(σ_w², σ_b²)``; depth scales ``ξ_q`` and ``ξ_c``): here by adaptive quadrature (:func:`scipy.integrate.quad`) and
  Brent's method, where the toolkit uses Gauss–Hermite rules and its own
  root finder;
* Pennington et al. 2017 (the variance of the squared singular
  values of ``∂a^L/∂x`` at criticality, ``σ²_{JJᵀ} = L(μ₂/μ₁² − 1 − s₁)``,
  in closed form for linear, relu and hard-tanh networks, Gaussian
  ``s₁ = −1`` and orthogonal ``s₁ = 0`` weights): here from ``erf`` alone;
  the Fuss–Catalan edge ``(L+1)^{L+1}/L^L`` of a product of ``L`` square
  Gaussian matrices (Penson & Życzkowski 2011).

Nothing here is downloaded: the closed forms are the papers' and are computed
from scratch.

References:
  Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, "Deep information
  propagation", §3; Pennington, Schoenholz & Ganguli 2017,
  "Resurrecting the sigmoid", §2.5; Penson & Życzkowski 2011,
  "Product of Ginibre matrices: Fuss–Catalan and Raney distributions".
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["quad_mean_field", "quad_critical_sw2", "pennington_variance", "fuss_catalan_edge"]


def _gauss(f) -> float:
    """``E f(z)``, ``z ~ N(0, 1)``, by adaptive quadrature."""
    from scipy import integrate

    val, _ = integrate.quad(lambda z: f(z) * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi), -12, 12, limit=200)
    return val


def _tanh_q_star(sw2: float, sb2: float) -> float:
    """Fixed point of ``q ↦ σ_w² E tanh(√q z)² + σ_b²`` (Schoenholz et al. 2017), by Brent's method."""
    from scipy import optimize

    brentq: Any = optimize.brentq  # scipy's stubs type the full_output overload

    if sb2 == 0 and sw2 <= 1:
        return 0.0

    def g(q):
        return sw2 * _gauss(lambda z: math.tanh(math.sqrt(q) * z) ** 2) + sb2 - q

    return float(brentq(g, 1e-12, sw2 + sb2 + 1, xtol=1e-15, rtol=1e-14))


def quad_mean_field(sw2: float, sb2: float) -> dict:
    """``q*``, ``χ₁``, ``ξ_q``, ``ξ_c`` of tanh networks (ordered phase), by quadrature.

    ``χ₁ = σ_w² E sech⁴(√q* z)``; ``ξ_q⁻¹ = −log(χ₁ + σ_w² E[φ''(√q* z) φ(√q* z)])`` ;
    ``ξ_c⁻¹ = −log χ₁`` where ``c* = 1`` .
    """
    q = _tanh_q_star(sw2, sb2)
    s = math.sqrt(q)
    chi = sw2 * _gauss(lambda z: math.cosh(s * z) ** -4)
    # φ = tanh, φ'' = −2 tanh sech²
    slope = chi + sw2 * _gauss(lambda z: -2 * math.tanh(s * z) ** 2 * math.cosh(s * z) ** -2)
    return {"q_star": q, "chi1": chi, "xi_q": -1 / math.log(slope), "xi_c": -1 / math.log(chi)}


def quad_critical_sw2(sb2: float) -> float:
    """``σ_w²`` on the tanh critical line ``χ₁ = 1`` at ``σ_b²`` (Schoenholz et al. 2017), by Brent's method."""
    from scipy import optimize

    brentq: Any = optimize.brentq  # scipy's stubs type the full_output overload

    if sb2 == 0:
        return 1.0  # q* → 0 and χ₁ → σ_w²
    return float(brentq(lambda w: quad_mean_field(w, sb2)["chi1"] - 1, 1.0 + 1e-9, 10.0, xtol=1e-13))


def pennington_variance(activation: str, init: str, q_star: float = 1.0) -> float:
    """``σ²_{JJᵀ}/L`` at criticality from Pennington et al. 2017, §2.5 (closed forms in ``erf``).

    ``μ_k = E σ'(√q* z)^{2k}``: linear ``μ₁ = μ₂ = 1``; relu ``½``; hard tanh ``p = erf(1/√(2q*))``,
    the fraction of units in the linear region.  ``σ²/L = μ₂/μ₁² − 1 − s₁``.
    """
    s1 = {"gaussian": -1.0, "orthogonal": 0.0}[init]
    if activation == "hard_tanh":
        p = math.erf(1 / math.sqrt(2 * q_star)) if q_star > 0 else 1.0
    else:
        p = {"linear": 1.0, "relu": 0.5}[activation]
    return 1 / p - 1 - s1  # μ₁ = μ₂ = p for 0/1 derivatives


def fuss_catalan_edge(depth: int, sw2: float = 1.0) -> float:
    """Largest squared singular value of a product of ``depth`` square Gaussian matrices (infinite width)."""
    L = depth
    return sw2**L * (L + 1) ** (L + 1) / L**L
