"""Ellipsoidal error sets: rounding errors carried through long products without the wrapping effect.

A chain ``ε_l = A_l ε_{l+1}/s_l + f_l`` (the error of a computed product, or
of a forward pass) bounded step by step in norm, ``‖ε_l‖ ≤ ‖A_l‖‖ε_{l+1}‖/s_l
+ ‖f_l‖``, grows like the *product of the norms*, which for random factors is
exponentially larger than the growth of the product itself (at depth 50 and
width 16 every enclosure of a float pass becomes vacuous).  Here the error set
is kept as an ellipsoid: a symmetric matrix ``T̂`` and a scalar ``τ`` with

.. math:: ε ε^T ⪯ \\hat T + τ I \\quad (\\text{for a vector or a matrix } ε),

so ``‖ε‖₂ ≤ (λ_{\\max}(\\hat T) + τ)^{1/2}`` and ``|ε_i| ≤ (\\hat T_{ii} + τ)^{1/2}``.
The image under a matrix is exact, ``(Aε)(Aε)^T ⪯ A(\\hat T + τI)A^T``, and a
ball of radius ``ρ`` is absorbed by the Minkowski sum of ellipsoids,

.. math:: (x + f)(x + f)^T ⪯ (1 + t^{-1})\\,xx^T + (1 + t)\\,ff^T ⪯ (1 + t^{-1})(\\hat T + τI) + (1 + t)ρ^2 I

for any ``t > 0`` (``t = ρ^{-1}λ^{1/2}`` makes the norm bounds add).  The
bound on ``‖ε_l‖`` is then ``Σ_r ρ_r ‖A_l⋯A_{r-1}‖/(s_l⋯s_{r-1})`` up to
the factors ``1 + t^{-1}``: the norm of the *product*, which grows like the
product itself (Furstenberg–Kesten), not like the product of norms.  The cost
is ``O(n³)`` a step, as the product's own matrices.

Rounding in forming ``T̂`` is bounded by Higham's product bound,
``|\\mathrm{fl}(\\mathrm{fl}(AT)A^T) − ATA^T| ≤ (2γ_n + γ_n^2)|A||T||A|^T``, whose
spectral norm is at most ``(2γ_n + γ_n²)‖A‖_F^2 ‖T‖_∞`` (``‖|T|‖₂ ≤ ‖T‖_∞``
for a symmetric ``T``), plus the flush-to-zero underflow of every partial
result; all of it goes into ``τ``, rounded upward.  ``λ_max(T̂) ≤ ‖T̂‖_∞``.
Anything that overflows gives ``inf`` or ``nan`` bounds, which callers read as
no information (they keep the bound of the step-by-step recursion, whichever
is smaller).

References:
  Higham 2002, *Accuracy and Stability of Numerical Algorithms*, §3.5 (matrix
  products); Kurzhanski & Vályi 1997, *Ellipsoidal Calculus for Estimation and
  Control* (Minkowski sums of ellipsoids); Lohner 1987 and Neumaier 1993 on
  the wrapping effect of interval methods for long recurrences.
"""

from __future__ import annotations

import jax.numpy as jnp

from gradbounds.linalg._enclosures import gamma, norm2_bounds, unit_roundoff, up

__all__ = ["absorb", "add_ball", "ball", "congruence", "diag_hi", "lam_hi", "norm_hi", "scale"]


def _tiny(dtype) -> float:
    return float(jnp.finfo(dtype).tiny)


def _inf_norm(T):
    """Upper bound on ``‖T‖_∞`` (max row sum of ``|T|``) of the floats ``T``."""
    n = T.shape[-1]
    u = unit_roundoff(T.dtype)
    return up(jnp.max(jnp.sum(jnp.abs(T), axis=-1)) * (1 + 2 * gamma(n + 1, u)) + (n + 1) * _tiny(T.dtype), 2)


def ball(n: int, rho, dtype):
    """The ellipsoid ``(ρ²I, 0)`` of a ball of radius ``ρ`` in ``R^n``."""
    r2 = up(jnp.asarray(rho, dtype) ** 2)
    return jnp.eye(n, dtype=dtype) * r2, jnp.zeros((), dtype)


def lam_hi(T, tau):
    """Upper bound on ``λ_max(T̂ + τI)``: ``‖T̂‖_∞ + τ``."""
    return up(_inf_norm(T) + tau)


def norm_hi(T, tau):
    """Upper bound on ``‖ε‖₂`` for ``εεᵀ ⪯ T̂ + τI``."""
    return up(jnp.sqrt(lam_hi(T, tau)))


def diag_hi(T, tau):
    """Upper bounds on ``|ε_i|`` for ``εεᵀ ⪯ T̂ + τI``: ``(T̂_ii + τ)^{1/2}``."""
    return up(jnp.sqrt(up(jnp.maximum(jnp.diagonal(T), 0.0) + tau)))


def congruence(T, tau, A, a_hi):
    """``(T̂', τ')`` with ``A(T̂ + τI)Aᵀ ⪯ T̂' + τ'I``; ``a_hi ≥ ‖A‖₂``.

    ``T̂' = sym(fl(fl(AT̂)Aᵀ))``; ``τ' = τ a_hi² + (2γ_n + γ_n²)‖A‖_F²‖T̂‖_∞ +``
    underflow ``+ u‖T̂'‖_∞`` (the symmetrisation), rounded up.
    """
    dtype = T.dtype
    m, n = A.shape
    u = unit_roundoff(dtype)
    T, tau = absorb(T, tau)  # τI would grow like ‖A‖² a step, T̂ like the product: carry τ inside T̂
    N = (A @ T) @ A.T
    Tn = 0.5 * (N + N.T)
    _, fa = norm2_bounds(A.reshape(-1))
    fa = up(fa)
    g = gamma(n + 1, u)
    # flush-to-zero: each of the n + 1 partial results of an entry of AT loses at most tiny, of
    # (AT)Aᵀ as much again times |A|'s row sums (≤ √n ‖A‖_F); an m × m matrix of such entries
    und = up(m * (2 * n + 2) * _tiny(dtype) * (1.0 + jnp.sqrt(jnp.asarray(n, dtype)) * fa), 2)
    tw = jnp.where(tau > 0, tau * up(a_hi * a_hi), 0.0)  # τ = 0 with a_hi = inf (an unbounded A) adds nothing
    tau_new = up(tw + (2 * g + g * g) * up(fa * fa) * _inf_norm(T) + und + 2 * u * _inf_norm(Tn), 4)
    return Tn, tau_new


def absorb(T, tau):
    """``(T̂ + τI, τ')`` with ``τ' = 2u‖T̂ + τI‖_∞``: the scalar part moved into the matrix, up to its rounding."""
    dtype = T.dtype
    n = T.shape[-1]
    u = unit_roundoff(dtype)
    Tn = T + tau * jnp.eye(n, dtype=dtype)
    t = jnp.where(jnp.any(Tn != 0), up(2 * u * _inf_norm(Tn) + n * _tiny(dtype)), 0.0)  # an empty set stays exact
    return Tn, t


def scale(T, tau, d):
    """``(T̂', τ')`` with ``D(T̂ + τI)D ⪯ T̂' + τ'I`` for ``D = diag(d)`` (``d`` a vector or a scalar)."""
    dtype = T.dtype
    n = T.shape[-1]
    u = unit_roundoff(dtype)
    d = jnp.broadcast_to(jnp.asarray(d, dtype), (n,))
    Tn = d[:, None] * T * d[None, :]
    dmax = jnp.max(jnp.abs(d))
    tau_new = up(tau * up(dmax * dmax) + 3 * u * _inf_norm(Tn) + 2 * n * _tiny(dtype), 3)
    return Tn, tau_new


def add_ball(T, tau, rho):
    """``(T̂', τ')`` containing the Minkowski sum of ``(T̂, τ)`` and the ball of radius ``rho``.

    ``t = ρ^{-1}λ^{1/2}`` with ``λ = ‖T̂‖_∞ + τ`` (any ``t > 0`` is valid):
    ``T̂' = (1 + ρλ^{-1/2})T̂ + (1 + λ^{1/2}ρ^{-1})ρ²I``, so that the norm bounds add,
    ``(λ')^{1/2} ≤ λ^{1/2} + ρ``.
    """
    dtype = T.dtype
    n = T.shape[-1]
    u = unit_roundoff(dtype)
    lam = lam_hi(T, tau)
    sl = jnp.sqrt(lam)
    rho = jnp.asarray(rho, dtype)
    pos_l, pos_r = sl > 0, rho > 0
    cA = jnp.where(pos_l, jnp.where(pos_r, 1.0 + rho / jnp.where(pos_l, sl, 1.0), 1.0), 0.0)
    cB = jnp.where(pos_r, jnp.where(pos_l, 1.0 + sl / jnp.where(pos_r, rho, 1.0), 1.0), 0.0)
    cA, cB = up(cA, 3), up(cB, 3)  # any t works, but the two factors must come from the same t: round both up
    r2 = up(cB * up(rho * rho))
    Tn = cA * T + r2 * jnp.eye(n, dtype=dtype)
    tau_new = up(cA * tau + 3 * u * _inf_norm(Tn) + n * _tiny(dtype), 3)
    return Tn, tau_new
