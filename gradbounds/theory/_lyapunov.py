"""Products of random matrices: the top Lyapunov exponent against the product of norms.

The submultiplicativity slack of the bound hierarchy, ``Σ_r log‖B^r‖ −
log‖B^l⋯B^{L-1}‖``, grows linearly with the number of factors.  For factors
``B = D Wᵀ`` with ``W`` an ``n×n`` Gaussian matrix, entries ``N(0, σ_w²/n)``,
and ``D`` a diagonal 0/1 mask that keeps each unit independently with
probability ``p`` (``p = 1``: a linear layer; ``p = ½``: relu under the
gradient-independence assumption), its rate per factor is known.  The norm of
a product grows like ``e^{kλ₁}`` (Furstenberg & Kesten 1960) and, the
Gaussian being rotation invariant, ``‖D Wᵀ u‖²`` for a fixed unit ``u`` is
``σ_w²/n`` times a ``χ²_K`` variable, ``K ~ Bin(n, p)`` the number of units
kept, whatever ``u`` the earlier factors produced, so (Newman 1986, for
``p = 1``)

.. math::

   λ_1 = \\tfrac12\\log\\frac{2σ_w^2}{n} + \\tfrac12\\,E\\big[ψ(K/2)\\,\\big|\\,K\\ge1\\big],
   \\qquad p = 1:\\ λ_1 = \\log σ_w + \\tfrac12\\big(ψ(n/2) - \\log(n/2)\\big),

exactly at every width (``ψ`` the digamma function; ``E log χ²_K = ψ(K/2) + log
2``).  Each factor's norm tends to the Bai–Yin edge ``σ_w(1 + √p)`` of a ``pn ×
n`` Gaussian matrix, so the slack per factor tends to

.. math::  \\log\\big(σ_w(1+\\sqrt p)\\big) - λ_1 \\;\\to\\; \\log\\big(1 + 1/\\sqrt p\\big),

``log 2`` (0.301 decades) for Gaussian matrices and ``log(1 + √2)`` (0.383
decades) for relu, independently of ``σ_w``.  At finite width the edge term
is off by ``O(n^{-2/3})`` (Tracy–Widom fluctuations of the largest singular
value, whose mean lies below the edge).

References:
  Furstenberg & Kesten 1960, "Products of random matrices"; Cohen & Newman
  1984, "The stability of large random matrices and their products";
  Newman 1986, "The distribution of Lyapunov exponents: exact results for
  random matrices", Commun. Math. Phys. 103; Yin, Bai & Krishnaiah 1988 (the
  largest singular value); Hanin & Nica 2019, "Products of many large random
  matrices and gradients in deep neural networks" (finite width and depth).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["ProductRate", "top_lyapunov", "product_rate"]


def _check(n, sw2, active):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected an int >= 1 (the width), got {n!r}")
    if not (isinstance(sw2, (int, float, np.floating)) and math.isfinite(sw2) and sw2 > 0):
        raise ValueError(f"sw2: expected a finite variance > 0, got {sw2!r}")
    if not (isinstance(active, (int, float, np.floating)) and 0 < active <= 1):
        raise ValueError(f"active: expected a probability in (0, 1], got {active!r}")


def top_lyapunov(n: int, sw2: float = 1.0, *, active: float = 1.0) -> float:
    """Top Lyapunov exponent (natural log, per factor) of products of ``D W``, ``W_ij ~ N(0, σ_w²/n)``.

    .. math::  λ_1 = \\tfrac12\\log\\frac{2σ_w^2}{n} + \\tfrac12\\,E[ψ(K/2) \\mid K\\ge1],\\qquad K\\sim\\mathrm{Bin}(n, p)

    Args:
      n: the width (``W`` is ``n×n``).
      sw2: the weight variance ``σ_w²`` (entries have variance ``σ_w²/n``).
      active: ``p``, the probability that the mask ``D`` keeps a unit (1: no mask).

    Returns:
      ``λ₁``, conditioned on the mask keeping at least one unit in every
      factor (a product with an all-zero mask is zero; probability
      ``(1-p)^n`` per factor).

    References:
      Newman 1986 (``p = 1``: ``λ_i = ½[log(2σ_w²/n) + ψ((n-i+1)/2)]``); Cohen & Newman 1984.
    """
    from scipy import special, stats

    _check(n, sw2, active)
    if active == 1:
        mean_psi = float(special.digamma(n / 2))
    else:
        k = np.arange(1, n + 1)
        w = stats.binom.pmf(k, n, active)
        mean_psi = float(np.sum(w * special.digamma(k / 2)) / np.sum(w))
    return 0.5 * math.log(2 * sw2 / n) + 0.5 * mean_psi


class ProductRate(NamedTuple):
    """Per-factor logs (natural) of a product of random ``D Wᵀ`` (see :func:`product_rate`).

    Attributes:
      lyapunov: ``λ₁``, the growth rate of the norm of the product (exact at width n).
      log_norm: ``log(σ_w(1 + √p))``, the limit of each factor's ``log‖D Wᵀ‖`` (Bai–Yin).
      rate: ``log_norm − lyapunov``, the submultiplicativity slack per factor.
      limit: ``log(1 + 1/√p)``, the rate at infinite width.
    """

    lyapunov: float
    log_norm: float
    rate: float
    limit: float


def product_rate(n: int, sw2: float = 1.0, *, active: float = 1.0) -> ProductRate:
    """Submultiplicativity slack per factor of products of random ``D Wᵀ``: product of norms over norm of product.

    .. math::  \\frac1k\\Big(\\sum_{r}\\log\\|D_rW_r^T\\| - \\log\\Big\\|\\prod_r D_rW_r^T\\Big\\|\\Big)
               \\;\\to\\; \\log\\big(σ_w(1+\\sqrt p)\\big) - λ_1 \\;\\xrightarrow{n\\to\\infty}\\; \\log(1 + 1/\\sqrt p)

    as the number of factors ``k → ∞`` (Furstenberg–Kesten).  ``λ₁`` is exact at width ``n``
    (:func:`top_lyapunov`); the factor norms are their infinite-width limit, off by ``O(n^{-2/3})``.

    Args:
      n: the width.
      sw2: the weight variance ``σ_w²``.
      active: ``p``, the fraction of units a mask keeps (½ for relu at ``σ_b² = 0``).

    References:
      Furstenberg & Kesten 1960; Newman 1986; Yin, Bai & Krishnaiah 1988; Hanin & Nica 2019.
    """
    lam = top_lyapunov(n, sw2, active=active)
    log_norm = 0.5 * math.log(sw2) + math.log1p(math.sqrt(active))
    return ProductRate(lam, log_norm, log_norm - lam, math.log1p(1 / math.sqrt(active)))
