"""Rigorous enclosures of spectral norms, smallest singular values and vector norms of float matrices.

Every function here returns *bounds* that contain the exact value for the
given floats (exact real arithmetic on the stored numbers), not estimates.
For a matrix ``A`` (``m × n``, scaled by an exact power of two so that its
entries are near 1) with small side ``k = min(m, n)`` and long side ``p``:

1. Gram matrix.  ``Ŝ = fl(AᵀA)`` (or ``fl(AAᵀ)``) satisfies
   ``|Ŝ − S| ≤ γ_p |A|ᵀ|A|`` (Higham 2002, §3.5), hence
   ``‖Ŝ − S‖₂ ≤ γ_p ‖A‖_F²`` (``‖|A|‖₂ ≤ ‖A‖_F``), plus ``k p η`` for
   underflow (``η`` the smallest *normal* number: XLA on CPU flushes
   subnormal results and inputs to zero).  ``γ_k = ku/(1 − ku)``.
2. Upper bound on ``λ_max``.  With ``λ̂`` from LAPACK (``syevd``) and
   ``μ = λ̂(1 + δ)``, the Cholesky factorisation of ``C = fl(μI − Ŝ)`` is
   attempted.  If it runs to completion in floating point, ``R̂ᵀR̂ = C + ΔC``
   with ``|ΔC| ≤ γ_{k+1}|R̂ᵀ||R̂|`` (Higham 2002, Theorem 10.3), so ``C ⪰
   −γ_{k+1}‖R̂‖_F² I`` and

   .. math:: λ_{\\max}(S) ≤ μ + γ_{k+1}\\|\\hat R\\|_F^2 + u\\max_i|c_{ii}| + \\|\\hat S − S\\|_2

   (the last but one term is the rounding of ``C``'s diagonal).  If it breaks
   down, the bound falls back to ``λ_max ≤ tr S = ‖A‖_F²``.  The factor itself
   is not needed afterwards: the diagonal of ``R̂ᵀR̂ = C + ΔC`` gives
   ``‖R̂‖_F² ≤ Σ_i|c_ii|/(1 − γ_{k+1})``, so the mapped LAPACK call returns only
   its smallest pivot and one solve (:func:`_trace_certificate`).
3. Lower bound on ``λ_max``: ``‖Av‖/‖v‖ ≤ ‖A‖`` for any ``v``, with
   ``|fl(Av) − Av| ≤ γ_k|A||v|``; ``v`` from one step of inverse iteration at the
   shift ``μ`` through the certificate's factor (:func:`_chol_top`).
4. Lower bound on ``λ_min`` (for ``σ_min`` of a tall matrix): Cholesky of
   ``fl(Ŝ − μ'I)``, ``μ' = λ̂_min − δλ̂_max``, certifies
   ``λ_min(S) ≥ μ' − γ_{k+1}‖R̂‖_F² − u\\max|c_{ii}| − ‖Ŝ − S‖₂`` (else 0).  Its factor
   also gives, by one step of inverse iteration, the vector whose Rayleigh
   quotient bounds ``σ_min`` from above (:func:`svd_bounds`).

This is a Gram-matrix form of the verified bounds of Rump (2011): it loses the
relative accuracy of ``σ_min`` below ``√u σ_max`` (the bound then says 0, which
is honest), keeps ``σ_max`` to about ``δ/2 + k²u`` relative, and costs one
symmetric eigensolver and one or two Cholesky factorisations of a ``k × k``
matrix.  Logs are returned with every rounding accounted for outward
(``log`` within 4 ulp by assumption, so within ``C_LOG_FN·u·(1 + |log x|)``;
measured 1.08 ulp in float32 and 0.51 in float64, and tested against mpmath in
``tests/core/test_elementary_accuracy.py`` with the other functions of
:data:`gradbounds.core._derivative_bounds.ELEMENTARY_ULP`).

References:
  Higham 2002, *Accuracy and Stability of Numerical Algorithms*, §3.5 (inner
  products), Theorem 10.3 (backward error of Cholesky); Rump 2011, "Verified
  bounds for singular values, in particular for the spectral norm of a matrix
  and its inverse", BIT 51; Rump 2006, "Verification of positive
  definiteness", BIT 46 (the Cholesky test); Weyl's inequality
  ``|σ_i(A + E) − σ_i(A)| ≤ ‖E‖₂`` (Horn & Johnson 2013, Corollary 7.3.5).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.linalg

from gradbounds.linalg._norms import one_at_a_time, pow2_scale, svdvals

# XLA's log within 4 ulp (assumed; measured ≤ 1.08) is within C_LOG_FN·u·|ℓ|; σ_max's factor 1 + 4·C_LOG_FN·u
# covers exp within 16 ulp (ELEMENTARY_ULP in gradbounds.core._derivative_bounds)
C_LOG_FN = 8.0

_eigh = one_at_a_time(lambda S: jnp.linalg.eigh(S))
# Every mapped LAPACK call returns only the few numbers its caller needs (a certificate's ``(ok, τ)``,
# not the factor): a stacked k × k output per matrix is a large buffer, written once and read once.
_chol_pivot = one_at_a_time(lambda C: jnp.min(jnp.diagonal(jax.lax.linalg.cholesky(C, symmetrize_input=False))))


def _chol_cert(C):
    """The certificate ``(ok, τ)`` of ``C ⪰ −τI`` by a Cholesky factorisation (:func:`_trace_certificate`)."""
    return _trace_certificate(C, _chol_pivot(C))


def _chol_solve(C, x):
    """``[C^{-1}x, min_i r_ii]`` (one vector) from the Cholesky factor ``R`` of ``C``: NaN where it fails.

    The mapped body does only the LAPACK work and writes one vector; the rest of a certificate
    runs batched outside (:func:`_trace_certificate`).  One matrix per LAPACK call (:func:`one_at_a_time`).
    """
    # LAPACK reads C's lower triangle; not symmetrised first (a copy per matrix): the certificate holds for the
    # symmetric matrix of that triangle, whose entries fl(μ − ŝ_ii), −ŝ_ij obey the Gram matrix's error bound
    L = jax.lax.linalg.cholesky(C, symmetrize_input=False)
    y = jax.scipy.linalg.solve_triangular(L, x, lower=True)
    y = jax.scipy.linalg.solve_triangular(L, y, trans="T", lower=True)
    return jnp.concatenate([y, jnp.min(jnp.diagonal(L))[None]])


_chol_solve_map = one_at_a_time(_chol_solve)


def _start(k, dtype):
    """A fixed start vector for inverse iteration: no zero or repeated pattern."""
    i = jnp.arange(k, dtype=dtype)
    return jnp.cos(2.399963229728653 * i + 0.5) + 1.5 / (i + 2.0)


def _trace_certificate(C, dmin):
    """The certificate ``(ok, τ)`` of ``C ⪰ −τI`` from a Cholesky factorisation whose smallest pivot is ``dmin``.

    If floating-point Cholesky of ``C`` (``k × k``) runs to completion (every pivot
    ``r_ii > 0``; jaxlib returns NaN where LAPACK stops), ``R̂ᵀR̂ = C + ΔC`` with
    ``|ΔC| ≤ γ_{k+1}|R̂ᵀ||R̂|`` (Higham 2002, Theorem 10.3), so ``C ⪰ −γ_{k+1}‖R̂‖_F² I``.
    The diagonal of that identity, ``Σ_j r_ji² = c_ii + Δc_ii`` with
    ``|Δc_ii| ≤ γ_{k+1}Σ_j r_ji²``, gives ``‖R̂‖_F² ≤ Σ_i|c_ii|/(1 − γ_{k+1})`` without
    the factor.  ``τ`` adds ``u max|c_ii|`` (the rounding of ``C``'s diagonal) and an underflow term;
    the caller adds ``‖Ŝ − S‖₂``.
    """
    k = C.shape[-1]
    u = unit_roundoff(C.dtype)
    eta = float(jnp.finfo(C.dtype).tiny)
    dc = jnp.abs(jnp.diagonal(C, axis1=-2, axis2=-1))
    g = gamma(k + 1, u)
    r2_hi = up(sum_up(dc) / (1 - g), 2)
    tau = up(gamma(k + 2, u) * r2_hi + u * jnp.max(dc, axis=-1) + (k + 1) * eta * 4, 2)
    return dmin > 0, tau


def _chol_top_solve(C, w):
    """``[R^{-T}e_k, R^{-T}w, min_i r_ii]`` from the Cholesky factor ``R`` of ``C``: one solve with two columns."""
    L = jax.lax.linalg.cholesky(C, symmetrize_input=False)  # as in _chol_solve
    k = C.shape[-1]
    rhs = jnp.stack([jnp.zeros((k,), C.dtype).at[-1].set(1.0), w], axis=1)
    Y = jax.scipy.linalg.solve_triangular(L, rhs, trans="T", lower=True)
    return jnp.concatenate([Y[:, 0], Y[:, 1], jnp.min(jnp.diagonal(L))[None]])


_chol_top_map = one_at_a_time(_chol_top_solve)


def _chol_top(C):
    """The certificate ``(ok, τ)`` of ``C = μI − Ŝ`` and two vectors near ``Ŝ``'s top eigenvector (columns of ``X``).

    One solve, two right-hand sides, through the factor ``R`` (``C = RRᵀ``): ``R^{-T}e_k =
    r_kk C^{-1}e_k`` is a full step of inverse iteration from ``e_k``, whose Rayleigh quotient's
    error is about ``(δλ_1/gap)²``, but which misses a top eigenvector with no ``k``-th component
    (a dead last unit); ``R^{-T}w = C^{-1}(Rw)`` from a dense ``w`` is half a step (``Rw`` has a
    component of only ``√δ`` on it, ``‖Rᵀv_1‖² ≈ δλ_1``), within about ``δλ_1/gap``: the guard.
    Any vector gives a valid bound (:func:`_rayleigh_best`); the vectors only decide how tight.
    """
    return _top_vectors(C, _chol_top_map(C, _start(C.shape[-1], C.dtype)))


def _top_vectors(C, out):
    """``((ok, τ), X)`` from a packed ``[y_1, y_2, min r_ii]`` of ``C`` (columns of ``X`` scaled to ``max|x_i| = 1``)."""
    k = C.shape[-1]
    X = jnp.stack([out[..., :k], out[..., k : 2 * k]], axis=-1)
    tiny = float(jnp.finfo(C.dtype).tiny)
    X = X / jnp.maximum(jnp.max(jnp.abs(X), axis=-2, keepdims=True), tiny)
    return _trace_certificate(C, out[..., -1]), X


def unit_roundoff(dtype) -> float:
    """``u = eps/2`` of a float dtype."""
    return float(jnp.finfo(dtype).eps) / 2


def gamma(k, u: float):
    """Higham's ``γ_k = ku/(1 − ku)``."""
    return k * u / (1 - k * u)


def up(x, ulps: int = 1):
    """An upper bound on the real number that ``x`` approximates to within ``ulps`` roundings to nearest.

    ``x + |x|·4·ulps·u + ulps·tiny`` (one addition, itself rounded to nearest,
    moves ``x`` by at least ``ulps`` units in the last place); infinities are kept.
    """
    dtype = jnp.result_type(x)
    u = unit_roundoff(dtype)
    tiny = float(jnp.finfo(dtype).tiny)
    return jnp.where(jnp.isfinite(x), x + (jnp.abs(x) * (4 * ulps * u) + ulps * tiny), x)


def down(x, ulps: int = 1):
    """A lower bound on the real number that ``x`` approximates to within ``ulps`` roundings to nearest."""
    dtype = jnp.result_type(x)
    u = unit_roundoff(dtype)
    tiny = float(jnp.finfo(dtype).tiny)
    return jnp.where(jnp.isfinite(x), x - (jnp.abs(x) * (4 * ulps * u) + ulps * tiny), x)


def log_up(x):
    """An upper bound on ``log x`` (``x ≥ 0``; ``−inf`` at 0, ``+inf`` at NaN, a bound that met ``0·∞``, never a
    proved zero): ``log`` within 4 ulp (``C_LOG_FN/2``) assumed."""
    u = unit_roundoff(jnp.result_type(x))
    pos = x > 0
    ell = jnp.log(jnp.where(pos, x, 1.0))
    ell = jnp.where(x == 1, 0.0, ell + C_LOG_FN * u * (1.0 + jnp.abs(ell)))  # log 1 = 0 exactly
    return jnp.where(pos, ell, jnp.where(jnp.isnan(x), jnp.inf, -jnp.inf))


def log_down(x):
    """A lower bound on ``log x`` (``x ≥ 0``; ``−inf`` at 0 and at NaN, ``+inf`` at ``+inf``)."""
    u = unit_roundoff(jnp.result_type(x))
    pos = x > 0
    ell = jnp.log(jnp.where(pos, x, 1.0))
    ell = jnp.where(x == 1, 0.0, jnp.where(x == jnp.inf, jnp.inf, ell - C_LOG_FN * u * (1.0 + jnp.abs(ell))))
    return jnp.where(pos, ell, -jnp.inf)


def shift_log(e, dtype):
    """Bounds ``(lo, hi)`` on ``e·log 2`` for an integer array ``e``."""
    u = unit_roundoff(dtype)
    s = e.astype(dtype) * math.log(2.0)
    err = 3 * u * jnp.abs(s)
    return s - err, s + err


def sum_up(x, axis=-1):
    """Upper bound on the exact sum of the floats ``x`` (``|fl(Σ) − Σ| ≤ γ_{n−1}Σ|x|``)."""
    n = x.shape[axis]
    u = unit_roundoff(x.dtype)
    s = jnp.sum(x, axis=axis)
    return up(s + gamma(n + 1, u) * jnp.sum(jnp.abs(x), axis=axis), 2)


def norm2_bounds(x, axis=-1):
    """Bounds ``(lo, hi)`` on the exact Euclidean norm of the floats ``x`` (already scaled near 1).

    .. math:: |\\mathrm{fl}(\\textstyle\\sum x_i^2) − \\sum x_i^2| ≤ γ_{n+1}\\sum x_i^2 + nη,

    then a correctly rounded square root (IEEE 754).
    """
    n = x.shape[axis]
    u = unit_roundoff(x.dtype)
    eta = float(jnp.finfo(x.dtype).tiny)
    s2 = jnp.sum(x * x, axis=axis)
    g = gamma(n + 1, u)
    hi = up(jnp.sqrt(up(s2 * (1 + 2 * g) + (n + 1) * eta, 2)))
    lo = down(jnp.sqrt(jnp.maximum(down(s2 * (1 - 2 * g) - (n + 1) * eta, 2), 0.0)))
    return lo, hi


def log_norm2_vector(x):
    """Bounds ``(lo, hi)`` on ``log ‖x‖₂`` and the scaled vector, for any finite vector ``x``.

    ``x = 2^e x̃`` exactly (``max|x̃| ∈ [1/2, 1)``), so norms at ``1e±300`` neither
    over- nor underflow.  Returns ``(lo, hi, x̃, e)``; ``lo = hi = −inf`` only when
    ``x = 0`` exactly.
    """
    s1, s2, e = pow2_scale(jnp.max(jnp.abs(x)))
    xs = x * s1 * s2
    nlo, nhi = norm2_bounds(xs)
    sl, sh = shift_log(e, x.dtype)
    return down(log_down(nlo) + sl), up(log_up(nhi) + sh), xs, e


def exactly_zero(x, axis=None):
    """Whether every entry of ``x`` is ±0, from the bits (XLA on CPU treats subnormals as 0 in arithmetic)."""
    bits = jax.lax.bitcast_convert_type(x, jnp.int64 if x.dtype == jnp.float64 else jnp.int32)
    mag = jnp.abs(bits)  # ±0 are 0 and the sign bit alone (the most negative int, whose abs is itself)
    nz = (bits != 0) & (mag != jnp.iinfo(bits.dtype).min)
    return ~jnp.any(nz, axis=axis)


def gram_bounds(A, *, want_min: bool = False, delta: float | None = None, estimates: bool = False) -> tuple[Any, ...]:
    """Rigorous bounds on the extreme eigenvalues of the Gram matrix of ``A`` on its small side.

    ``A`` is ``m × n``, finite and scaled (entries at most about 1).  With
    ``S = AᵀA`` when ``m ≥ n``, else ``AAᵀ`` (same nonzero eigenvalues):

    .. math:: λ_{lo} ≤ λ_{\\max}(S) = \\|A\\|_2^2 ≤ λ_{hi},\\qquad
       λ^{\\min}_{lo} ≤ λ_{\\min}(A^TA)\\ (m ≥ n),

    see the module docstring for the method.  Returns
    ``(lam_lo, lam_hi, lam_min_lo, fro2_hi)``; ``lam_min_lo`` is 0 unless
    ``want_min`` and ``m ≥ n``.
    """
    m, n = A.shape
    dtype = A.dtype
    u = unit_roundoff(dtype)
    eta = float(jnp.finfo(dtype).tiny)
    tall = m >= n
    k, p = (n, m) if tall else (m, n)
    delta = 1024.0 * (k + 1) * u if delta is None else float(delta)
    fro2_hi = _fro2_hi(A)
    S = A.T @ A if tall else A @ A.T
    s_err = _gram_error(fro2_hi, k, p, dtype)  # ‖Ŝ − S‖₂
    w, V = _eigh(S)
    lam_hat = w[-1]
    v = V[:, -1]
    # lower bound on λ_max from ‖Av‖/‖v‖
    y = A @ v if tall else A.T @ v
    ylo, _ = norm2_bounds(y)
    _, vhi = norm2_bounds(v)
    fro_hi = up(jnp.sqrt(fro2_hi))
    slo = down((ylo - up(gamma(k + 1, u) * fro_hi * vhi, 2)) / vhi, 2)
    slo = jnp.where(jnp.isfinite(slo) & (slo > 0), slo, 0.0)
    lam_lo = down(slo * slo)
    # upper bound on λ_max: Cholesky of μI − Ŝ
    eye = jnp.eye(k, dtype=dtype)
    mu = up(jnp.maximum(lam_hat, 0.0) * (1 + delta) + (k + 1) * eta * 16, 2)
    C = mu * eye - S
    ok, tau = _chol_cert(C)
    lam_hi_chol = up(mu + up(tau + s_err))
    lam_hi = jnp.where(ok, jnp.minimum(lam_hi_chol, fro2_hi), fro2_hi)
    lam_lo = jnp.minimum(lam_lo, lam_hi)
    if want_min and tall:
        mu2 = down(w[0] - delta * jnp.maximum(lam_hat, 0.0), 2)
        C2 = S - mu2 * eye
        ok2, tau2 = _chol_cert(C2)
        lmin = down(mu2 - up(tau2 + s_err))
        lam_min_lo = jnp.where(ok2 & (mu2 > 0) & (lmin > 0), lmin, 0.0)
        # upper bound on σ_min: ‖Ax‖/‖x‖ for the computed bottom eigenvector x
        x = V[:, 0]
        y2 = A @ x
        _, y2hi = norm2_bounds(y2)
        xlo, xhi = norm2_bounds(x)
        smin_hi = up((y2hi + up(gamma(k + 1, u) * fro_hi * xhi, 2)) / jnp.where(xlo > 0, xlo, 1.0), 2)
        smin_hi = jnp.where(xlo > 0, smin_hi, jnp.inf)
    else:
        lam_min_lo = jnp.zeros((), dtype)
        smin_hi = jnp.zeros((), dtype) if not tall else jnp.full((), jnp.inf, dtype)
    zero = exactly_zero(A)
    out = (
        jnp.where(zero, 0.0, lam_lo),
        jnp.where(zero, 0.0, lam_hi),
        jnp.where(zero, 0.0, lam_min_lo),
        fro2_hi,
    )
    if estimates:
        return out + (jnp.maximum(lam_hat, 0.0), jnp.maximum(w[0], 0.0), jnp.where(zero, 0.0, smin_hi))
    return out


def sv_bounds(A, *, want_min: bool = False):
    """Bounds on ``σ_max(A)`` (and ``σ_min(A)`` for tall ``A``) of a scaled matrix: ``(smax_lo, smax_hi, smin_lo)``.

    .. math:: σ_{lo} ≤ \\|A\\|_2 ≤ σ_{hi},\\qquad σ^{\\min}_{lo} ≤ σ_{\\min}(A).

    Square roots of :func:`gram_bounds`, rounded outward.
    """
    lam_lo, lam_hi, lmin_lo, _ = gram_bounds(A, want_min=want_min)
    hi = jnp.where(lam_hi == 0, 0.0, up(jnp.sqrt(lam_hi)))  # 0 only for A = 0 exactly
    return jnp.maximum(down(jnp.sqrt(lam_lo)), 0.0), hi, jnp.maximum(down(jnp.sqrt(lmin_lo)), 0.0)


def log_norm_enclosure(A):
    """Bounds ``(lo, hi)`` on ``log ‖A‖₂`` for any finite matrix ``A`` (``−inf`` only for ``A = 0``).

    .. math:: \\log\\|A\\|_2 = \\log\\|\\tilde A\\|_2 + e\\log 2,\\qquad A = 2^e\\tilde A \\text{ exactly}.

    References:
      Rump 2011 (verified spectral-norm bounds); Higham 2002, Theorem 10.3.
    """
    s1, s2, e = pow2_scale(jnp.max(jnp.abs(A)))
    As = A * s1 * s2
    slo, shi, _ = sv_bounds(As)
    sl, sh = shift_log(e, A.dtype)
    return down(log_down(slo) + sl), up(log_up(shi) + sh)


def matvec_error(A, x):
    """Bound on ``‖fl(Ax) − Ax‖₂``: ``γ_{n+1}‖A‖_F‖x‖₂`` plus underflow, rounded up (Higham 2002, §3.5)."""
    m, n = A.shape
    u = unit_roundoff(A.dtype)
    eta = float(jnp.finfo(A.dtype).tiny)
    _, fa = norm2_bounds(A.reshape(-1))
    _, fx = norm2_bounds(x.reshape(-1))
    return up(gamma(n + 2, u) * fa * fx + (m * n + 1) * eta, 3)


__all__ = [
    "gamma",
    "gram_bounds",
    "log_norm2_vector",
    "log_norm_enclosure",
    "matvec_error",
    "norm2_bounds",
    "sv_bounds",
    "unit_roundoff",
]


POWER_K_MAX = 64  # Gram matrices up to this size get the power-trace bound (no LAPACK call)
POWER_STEPS = 8  # squarings: the bound is tight up to (1 + Σ_{i≥2}(λ_i/λ_1)^{2^J})^{2^{-J}}


def sigma_max_bounds(A, *, lam_hat=None):
    """Bounds ``(lo, hi)`` on ``σ_max(A)`` for a scaled matrix ``A`` (entries at most about 1).

    For a small side ``k ≤ POWER_K_MAX``: ``J`` squarings of the Gram matrix
    ``S`` (scaled by exact powers of two), with a rigorous bound ``ε_j`` on
    ``‖S^{2^j}2^{-E_j} − T_j‖_F`` carried along
    (``ε_{j+1} = (2‖T_j‖_Fε_j + ε_j² + γ_k‖T_j‖_F²)2^{-e_j}``), give

    .. math:: λ_{\\max}(S)^{2^{J+1}} ≤ \\operatorname{tr} S^{2^{J+1}} = \\|S^{2^J}\\|_F^2
       ≤ 4^{E_J}(\\|T_J\\|_F + ε_J)^2,

    and the column of ``T_J`` of largest norm, ``x``, gives the lower bound
    ``‖Ax‖/‖x‖``.  For larger ``k``: the Cholesky certificate of
    :func:`gram_bounds` at ``μ = λ̂(1 + δ)`` (``λ̂`` from ``lam_hat`` when given)
    and a lower bound from two steps of inverse iteration through the
    certificate's own factor; this path is taken for every ``k`` when an
    estimate ``lam_hat`` is given (enclosures about ``10^3 k u`` wide, where
    the squarings leave ``(1 + Σ_{i≥2}(λ_i/λ_1)^{2^{J+1}})^{2^{-J-1}}``).
    The feed-forward levels always pass ``lam_hat`` (their point value); the
    squarings serve the recurrent levels (:mod:`gradbounds.rnn` calls this
    without an estimate for ``‖W_hh‖`` and ``‖B_t‖``) and are tested on their own.

    References:
      Higham 2002, §3.5 (matrix products), Theorem 10.3; Golub & Van Loan 2013,
      §8.2.1 (the power method).
    """
    m, n = A.shape
    dtype = A.dtype
    u = unit_roundoff(dtype)
    eta = float(jnp.finfo(dtype).tiny)
    tall = m >= n
    k, p = (n, m) if tall else (m, n)
    zero = exactly_zero(A)
    fro2_hi = _fro2_hi(A)
    S = A.T @ A if tall else A @ A.T
    if k > POWER_K_MAX or lam_hat is not None:
        if lam_hat is None:
            lam_lo, lam_hi, _, _ = gram_bounds(A)
        else:
            lam_lo, lam_hi = _chol_upper(A, S, lam_hat, fro2_hi, k, p)
        return (
            jnp.where(zero, 0.0, jnp.maximum(down(jnp.sqrt(lam_lo)), 0.0)),
            jnp.where(zero, 0.0, up(jnp.sqrt(lam_hi))),
        )
    eps0 = _gram_error(fro2_hi, k, p, dtype)  # ‖Ŝ − S‖_F
    g1 = gamma(k + 1, u)

    def square(_, c):
        T, eps, E = c
        fT = up(jnp.sqrt(jnp.sum(T * T)) * (1 + 2 * gamma(k * k + 2, u)) + eta, 2)
        P = T @ T
        s1, s2, e = pow2_scale(jnp.max(jnp.abs(P)))
        eps = up((2 * fT * eps + eps * eps + g1 * fT * fT + (k * k + 1) * eta) * (1 + 4 * u), 3)
        eps = up(eps * s1 * s2 + eta)  # the scaling is exact; the bound was rounded up before
        return P * s1 * s2, eps, 2 * E + e.astype(jnp.int32)

    T, eps, E = jax.lax.fori_loop(0, POWER_STEPS, square, (S, eps0, jnp.zeros((), jnp.int32)))
    _, fT = norm2_bounds(T.reshape(-1))
    # log λ_max ≤ 2^{-J}(E log 2 + log(‖T‖_F + ε))
    sl, sh = shift_log(E, dtype)
    log_lam_hi = up((up(sh + log_up(up(fT + eps)))) / 2.0**POWER_STEPS, 2)
    log_s_hi = up(0.5 * log_lam_hi)
    s_hi = up(jnp.exp(log_s_hi) * (1 + 4 * C_LOG_FN * u), 1)
    s_hi = jnp.minimum(s_hi, up(jnp.sqrt(fro2_hi)))
    # lower bound: the largest column of T (≈ the top eigenvector)
    j = jnp.argmax(jnp.sum(T * T, axis=0))
    x = T[:, j]
    s_lo = _rayleigh_lower(A, x, tall, k, u)
    s_lo = jnp.minimum(s_lo, s_hi)
    return jnp.where(zero, 0.0, s_lo), jnp.where(zero, 0.0, s_hi)


def _rayleigh_lower(A, x, tall, k, u):
    """``‖Ax‖/‖x‖`` (or ``‖Aᵀx‖/‖x‖``) rounded down, with the product's rounding error subtracted."""
    y = A @ x if tall else A.T @ x
    ylo, _ = norm2_bounds(y)
    xlo, xhi = norm2_bounds(x)
    _, fa = norm2_bounds(A.reshape(-1))
    slo = down((ylo - up(gamma(k + 2, u) * fa * xhi, 2)) / jnp.where(xhi > 0, xhi, 1.0), 2)
    return jnp.where(jnp.isfinite(slo) & (slo > 0) & (xlo > 0), slo, 0.0)


def _rayleigh_best(A, X, tall, k, u):
    """The larger :func:`_rayleigh_lower` of the columns of ``X`` (a non-finite column counts as ``1``)."""
    X = jnp.where(jnp.all(jnp.isfinite(X), axis=0, keepdims=True), X, 1.0)
    return jnp.maximum(_rayleigh_lower(A, X[:, 0], tall, k, u), _rayleigh_lower(A, X[:, 1], tall, k, u))


def _shift_above(lam_hat, k, dtype):
    """``μ = λ̂(1 + δ)`` (rounded up), ``δ = 1024(k + 1)u``: just above ``λ_max`` when ``λ̂`` is accurate."""
    u = unit_roundoff(dtype)
    eta = float(jnp.finfo(dtype).tiny)
    return up(jnp.maximum(lam_hat, 0.0) * (1 + 1024.0 * (k + 1) * u) + (k + 1) * eta * 16, 2)


def _fro2_hi(A):
    """``‖A‖_F² ≤ fl(ΣA²)(1 + 2γ_{mn+1}) + (mn + 1)η`` (Higham 2002, §3.1, with underflow)."""
    m, n = A.shape
    u = unit_roundoff(A.dtype)
    eta = float(jnp.finfo(A.dtype).tiny)
    return up(jnp.sum(A * A) * (1 + 2 * gamma(m * n + 1, u)) + (m * n + 1) * eta, 2)


def _gram_error(fro2_hi, k, p, dtype):
    """``‖fl(Ŝ) − S‖₂ ≤ γ_{p+1}‖A‖_F² + (kp + 1)η`` for the Gram matrix of an ``m × n`` ``A``."""
    u = unit_roundoff(dtype)
    eta = float(jnp.finfo(dtype).tiny)
    return up(gamma(p + 1, u) * fro2_hi + (k * p + 1) * eta, 2)


def _chol_upper(A, S, lam_hat, fro2_hi, k, p):
    """``(λ_lo, λ_hi)`` for ``λ_max(S)`` from a given estimate: Cholesky certificate and inverse iteration."""
    dtype = A.dtype
    u = unit_roundoff(dtype)
    mu = _shift_above(lam_hat, k, dtype)
    C = mu * jnp.eye(k, dtype=dtype) - S
    (ok, tau), X = _chol_top(C)
    lam_hi = jnp.where(ok, jnp.minimum(up(mu + up(tau + _gram_error(fro2_hi, k, p, dtype))), fro2_hi), fro2_hi)
    # X: inverse iteration with the shift μ just above λ_max, through the certificate's own factor; each
    # step multiplies the error of the direction by (μ − λ_1)/(μ − λ_2) ≈ δλ_1/gap.
    # Any vector gives a valid (Rayleigh) lower bound.
    tall = A.shape[0] >= A.shape[1]
    slo = _rayleigh_best(A, X, tall, k, u)
    return jnp.minimum(down(slo * slo), lam_hi), lam_hi


def _two_chol_solves(C1, C2, w, A, mu2):
    """:func:`_chol_top_solve` of ``(C1, w)`` and :func:`_chol_solve` of ``(C2, w)`` in one mapped call, packed.

    Where the second factorisation fails or ``μ2 ≤ 0`` (``Ŝ`` has lost ``σ_min``: condition
    above about ``δ^{-1/2}``) ``y2`` is the SVD's last right singular vector of ``A``
    instead, computed only then (``lax.cond``).
    """
    r1 = _chol_top_solve(C1, w)
    r2 = _chol_solve(C2, w)
    good = (r2[-1] > 0) & (mu2 > 0) & jnp.all(jnp.isfinite(r2))
    y2 = jax.lax.cond(good, lambda: r2[:-1], lambda: jnp.linalg.svd(A, full_matrices=False)[2][-1])
    return jnp.concatenate([r1, y2, r2[-1:]])


_two_chol_solves_map = one_at_a_time(_two_chol_solves)


def svd_bounds(A, *, want_min: bool):
    r"""Point singular values and bounds of a scaled matrix ``A``: one SVD without vectors, two certificates.

    Returns ``(s, smax_lo, smax_hi, smin_lo, smin_hi)``: ``s`` the computed singular
    values (descending, the same numbers as :func:`gradbounds.linalg.svdvals`).  With
    ``Ŝ = fl(AᵀA)`` (small side) and ``‖Ŝ − AᵀA‖₂ ≤ γ_{p+1}‖A‖_F²`` (plus underflow):

    .. math:: σ_{\max}^2 ≤ μ_1 + τ_1 + ‖Ŝ − A^TA‖_2,\qquad
       σ_{\min}^2 ≥ μ_2 − τ_2 − ‖Ŝ − A^TA‖_2

    when floating-point Cholesky of ``μ_1I − Ŝ`` (of ``Ŝ − μ_2I``) runs to completion,
    ``τ`` its backward error (Higham 2002, Theorem 10.3).  ``smax_lo = ‖Ax_1‖/‖x_1‖``
    and ``smin_hi = ‖Ax_n‖/‖x_n‖`` (Rayleigh quotients, rounded rigorously: any vector
    gives a valid bound) from one step of inverse iteration through each factor, whose
    shift lies within ``δσ_{\max}^2`` of the eigenvalue: the Rayleigh quotient's error is
    then of order ``(δκ²)²``, below the certificate's own ``δκ²``.  Where ``Ŝ`` has lost
    ``σ_min`` the SVD's singular vector gives ``smin_hi``.  ``smin_lo`` is 0 unless
    ``want_min`` and ``A`` is tall.

    References:
      Rump 2006 (the Cholesky test); Higham 2002, Theorem 10.3 and §3.5;
      Golub & Van Loan 2013, §8.2.2 (inverse iteration).
    """
    m, n = A.shape
    dtype = A.dtype
    u = unit_roundoff(dtype)
    tall = m >= n
    k, p = (n, m) if tall else (m, n)
    want_min = bool(want_min and tall)
    s = svdvals(A)
    S = A.T @ A if tall else A @ A.T
    eye = jnp.eye(k, dtype=dtype)
    mu1 = _shift_above(s[0] * s[0], k, dtype)
    C1 = mu1 * eye - S
    if want_min:
        mu2 = down(s[-1] * s[-1] - 1024.0 * (k + 1) * u * s[0] * s[0], 2)
        C2 = S - mu2 * eye
        out = _two_chol_solves_map(C1, C2, _start(k, dtype), A, mu2)
        (ok1, tau1), X1 = _top_vectors(C1, out[: 2 * k + 1])
        xn = out[2 * k + 1 : 3 * k + 1]
        ok2, tau2 = _trace_certificate(C2, out[-1])
    else:
        (ok1, tau1), X1 = _chol_top(C1)
    zero = exactly_zero(A)
    fro2_hi = _fro2_hi(A)
    g_err = _gram_error(fro2_hi, k, p, dtype)
    lam_hi = jnp.where(ok1, jnp.minimum(up(mu1 + up(tau1 + g_err)), fro2_hi), fro2_hi)
    smax_hi = jnp.where(zero, 0.0, up(jnp.sqrt(lam_hi)))
    smax_lo = jnp.minimum(_rayleigh_best(A, X1, tall, k, u), smax_hi)
    if want_min:
        y = A @ xn
        _, yhi = norm2_bounds(y)
        xlo, xhi = norm2_bounds(xn)
        _, fa = norm2_bounds(A.reshape(-1))
        smin_hi = up((yhi + up(gamma(k + 2, u) * fa * xhi, 2)) / jnp.where(xlo > 0, xlo, 1.0), 2)
        smin_hi = jnp.minimum(jnp.where(xlo > 0, smin_hi, smax_hi), smax_hi)
        lmin = down(mu2 - up(tau2 + g_err))
        smin_lo = jnp.where(
            ok2 & (mu2 > 0) & (lmin > 0), jnp.maximum(down(jnp.sqrt(jnp.where(lmin > 0, lmin, 0.0))), 0.0), 0.0
        )
    else:
        smin_hi = smax_hi if tall else jnp.zeros((), dtype)
        smin_lo = jnp.zeros((), dtype)
    z = jnp.zeros((), dtype)
    return (
        s,
        jnp.where(zero, z, smax_lo),
        jnp.where(zero, z, smax_hi),
        jnp.where(zero, z, smin_lo),
        jnp.where(zero, z, smin_hi),
    )
