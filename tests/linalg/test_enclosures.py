"""Rigorous norm enclosures (gradbounds.linalg._enclosures) against 50-digit mpmath SVDs.

Hard matrices: ill-conditioned (singular values down to 1e-14), rank-deficient
(rank one), entries at 1e±300, float32.  Every exact value must lie inside its
enclosure; widths are asserted small where the method promises it (σ_max to
about ``δ/2 + k²u`` relative).
"""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from gradbounds.linalg import _enclosures as enc


def _mp_svals(A):
    with mpmath.workdps(50):
        M = mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in np.asarray(A, np.float64)])
        return sorted(mpmath.svd_r(M, compute_uv=False), reverse=True)


def _hard(rng, kind, shape):
    m, n = shape
    if kind == "gauss":
        return rng.standard_normal(shape)
    if kind == "illcond":
        k = min(m, n)
        U = np.linalg.qr(rng.standard_normal((m, k)))[0]
        V = np.linalg.qr(rng.standard_normal((n, k)))[0]
        return U @ np.diag(np.logspace(0, -14, k)) @ V.T
    if kind == "rank1":
        return np.outer(rng.standard_normal(m), rng.standard_normal(n))
    if kind == "huge":
        return rng.standard_normal(shape) * 1e300
    if kind == "tiny":
        return rng.standard_normal(shape) * 1e-300
    raise AssertionError(kind)


KINDS = ("gauss", "illcond", "rank1", "huge", "tiny")
SHAPES = ((7, 7), (12, 5), (5, 12), (1, 9), (9, 1))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_log_norm_enclosure_contains_the_exact_norm(kind, shape):
    rng = np.random.default_rng(hash((kind, shape)) % 2**32)
    A = _hard(rng, kind, shape)
    lo, hi = enc.log_norm_enclosure(jnp.asarray(A))
    exact = mpmath.log(_mp_svals(A)[0])
    assert mpmath.mpf(float(lo)) <= exact <= mpmath.mpf(float(hi))
    # tight: a relative width of 1e-10 at most in float64
    assert float(hi) - float(lo) < 1e-10


@pytest.mark.parametrize("kind", ("gauss", "illcond", "rank1"))
def test_sigma_min_lower_bound_is_below_the_exact_one(kind):
    rng = np.random.default_rng(7)
    A = _hard(rng, kind, (12, 5))
    A = A / np.max(np.abs(A))
    _, _, smin_lo = enc.sv_bounds(jnp.asarray(A), want_min=True)
    exact = _mp_svals(A)[-1]
    assert 0 <= float(smin_lo) <= exact
    if kind == "gauss":  # well conditioned: the bound is nearly sharp
        assert float(smin_lo) > float(exact) * (1 - 1e-6)
    if kind == "rank1":  # σ_min = 0 exactly up to rounding of the outer product: no positive certificate above it
        assert float(smin_lo) <= exact


def test_zero_matrix_is_a_proved_zero():
    lo, hi = enc.log_norm_enclosure(jnp.zeros((4, 3)))
    assert float(lo) == -np.inf and float(hi) == -np.inf


def test_float32_enclosures_contain_the_exact_norm():
    rng = np.random.default_rng(3)
    for kind in ("gauss", "illcond", "rank1"):
        A = _hard(rng, kind, (20, 8)).astype(np.float32)
        lo, hi = enc.log_norm_enclosure(jnp.asarray(A))
        assert lo.dtype == jnp.float32
        exact = mpmath.log(_mp_svals(A.astype(np.float64))[0])
        assert mpmath.mpf(float(lo)) <= exact <= mpmath.mpf(float(hi))
        assert float(hi) - float(lo) < 1e-2


def test_vector_norm_at_the_edges_of_the_range():
    for scale in (1e-200, 1e-160, 1.0, 1e160, 1e200, 1e307):
        x = jnp.asarray([3.0, 4.0, 0.0]) * scale
        lo, hi, _, _ = enc.log_norm2_vector(x)
        with mpmath.workdps(40):
            exact = mpmath.log(mpmath.sqrt(sum(mpmath.mpf(float(v)) ** 2 for v in np.asarray(x))))
        assert mpmath.mpf(float(lo)) <= exact <= mpmath.mpf(float(hi))
        assert np.isfinite(float(lo)) and float(hi) - float(lo) < 1e-14 * (1 + abs(float(lo)))  # C·u·|log| wide


def test_matvec_error_bounds_the_product_error():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((30, 40))
    x = rng.standard_normal(40) * np.logspace(0, -8, 40)
    y = np.asarray(jnp.asarray(A) @ jnp.asarray(x))
    with mpmath.workdps(50):
        err = mpmath.sqrt(
            sum(
                (
                    mpmath.fsum(mpmath.mpf(float(A[i, j])) * mpmath.mpf(float(x[j])) for j in range(40))
                    - mpmath.mpf(float(y[i]))
                )
                ** 2
                for i in range(30)
            )
        )
    bound = float(enc.matvec_error(jnp.asarray(A), jnp.asarray(x)))
    assert err <= bound
    assert bound < 1e-12


def test_jit_and_vmap():
    rng = np.random.default_rng(9)
    A = jnp.asarray(rng.standard_normal((6, 5, 4)))
    lo, hi = jax.jit(jax.vmap(enc.log_norm_enclosure))(A)
    for i in range(6):
        exact = mpmath.log(_mp_svals(np.asarray(A[i]))[0])
        assert mpmath.mpf(float(lo[i])) <= exact <= mpmath.mpf(float(hi[i]))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", ((30, 30), (30, 10), (10, 30), (1, 9)))
def test_sigma_max_bounds_by_squaring_contain_the_exact_norm(kind, shape):
    """The power-trace bound (no LAPACK) and its Rayleigh lower bound bracket σ_max; tight for a clear top."""
    rng = np.random.default_rng(hash((kind, shape, 1)) % 2**32)
    A = _hard(rng, kind, shape)
    A = A / 2.0 ** np.ceil(np.log2(np.max(np.abs(A))))
    lo, hi = enc.sigma_max_bounds(jnp.asarray(A))
    exact = _mp_svals(A)[0]
    assert mpmath.mpf(float(lo)) <= exact <= mpmath.mpf(float(hi))
    assert float(hi) / float(lo) < 1.01


@pytest.mark.parametrize("kind", ("gauss", "illcond", "rank1"))
def test_svd_bounds_bracket_both_ends(kind):
    rng = np.random.default_rng(11)
    A = _hard(rng, kind, (30, 10))
    A = A / 2.0 ** np.ceil(np.log2(np.max(np.abs(A))))
    s, smax_lo, smax_hi, smin_lo, smin_hi = enc.svd_bounds(jnp.asarray(A), want_min=True)
    sv = _mp_svals(A)
    assert mpmath.mpf(float(smax_lo)) <= sv[0] <= mpmath.mpf(float(smax_hi))
    assert mpmath.mpf(float(smin_lo)) <= sv[-1] <= mpmath.mpf(float(smin_hi))
    if kind == "gauss":
        assert float(smin_lo) > 0.999 * float(sv[-1])


@pytest.mark.parametrize("kind", ("gauss", "illcond", "rank1", "huge", "tiny"))
@pytest.mark.parametrize("shape", ((30, 30), (30, 10), (10, 30)))
def test_sigma_max_bounds_from_an_estimate_are_tight(kind, shape):
    """The levels' path: a point estimate, the Cholesky certificate, one step of inverse iteration (one solve)."""
    from gradbounds.linalg import log_norm_scaled

    rng = np.random.default_rng(hash((kind, shape, 2)) % 2**32)
    A = _hard(rng, kind, shape)
    A = A / 2.0 ** np.ceil(np.log2(np.max(np.abs(A))))
    lam = jnp.exp(2 * log_norm_scaled(jnp.asarray(A), 2.0**-53)[0])
    lo, hi = enc.sigma_max_bounds(jnp.asarray(A), lam_hat=lam)
    exact = _mp_svals(A)[0]
    assert mpmath.mpf(float(lo)) <= exact <= mpmath.mpf(float(hi))
    # the certificate's δ/2 and nothing more: a full step of inverse iteration makes the Rayleigh quotient's error
    # (δκ)² small; half a step (one solve from R̂w, whose top component is only √δ) leaves about δλ_1/gap
    k = min(shape)
    delta = 1024.0 * (k + 1) * 2.0**-53
    assert float(hi) / float(lo) - 1 < 0.55 * delta + 50 * k * 2.0**-53


def test_trace_certificate_bounds_the_factor():
    """τ from the trace of C is at least τ from the factor itself (Higham 2002, Theorem 10.3), also near breakdown."""
    rng = np.random.default_rng(13)
    for k, shift in ((30, 1e-12), (30, 1e-3), (10, 1e-15), (5, 1.0)):
        A = rng.standard_normal((40, k))
        S = A.T @ A
        mu = np.linalg.eigvalsh(S)[-1] * (1 + shift)
        C = jnp.asarray(mu * np.eye(k) - S)
        L = jnp.linalg.cholesky(C)
        ok_f = bool(np.all(np.isfinite(np.asarray(L))))
        ok_t, tau_t = enc._trace_certificate(C, jnp.min(jnp.diagonal(L)))
        assert ok_f == bool(ok_t)
        if ok_f:
            u = 2.0**-53
            with mpmath.workdps(50):  # what the certificate must cover: γ_{k+2}‖R̂‖_F² + u max|c_ii|, exactly
                r2 = mpmath.fsum(mpmath.mpf(float(v)) ** 2 for v in np.asarray(L).ravel())
                need = (k + 2) * u / (1 - (k + 2) * u) * r2 + u * mpmath.mpf(float(np.max(np.abs(np.diag(C)))))
                assert mpmath.mpf(float(tau_t)) >= need
                # and no looser than the factor's own: ‖R̂‖_F² = tr C to rounding
                assert mpmath.mpf(float(tau_t)) <= mpmath.mpf("1.01") * need + 8 * (k + 1) * 2.0**-1022
    C = jnp.asarray(-np.eye(4))  # breakdown: NaN factor, no certificate
    assert not bool(enc._trace_certificate(C, jnp.min(jnp.diagonal(jnp.linalg.cholesky(C))))[0])


@pytest.mark.parametrize("cond", (1e0, 1e2, 1e4, 1e9))
def test_svd_bounds_on_sigma_min_are_tight(cond):
    """σ_min's Rayleigh bound from the certificate's factor (κ below δ^{-1/2}) or the SVD's vector (above)."""
    rng = np.random.default_rng(int(np.log10(cond)))
    U = np.linalg.qr(rng.standard_normal((30, 10)))[0]
    V = np.linalg.qr(rng.standard_normal((10, 10)))[0]
    A = U @ np.diag(np.geomspace(1.0, 1.0 / cond, 10)) @ V.T
    A = A / 2.0 ** np.ceil(np.log2(np.max(np.abs(A))))
    smax_lo, smax_hi, smin_lo, smin_hi = (float(v) for v in enc.svd_bounds(jnp.asarray(A), want_min=True)[1:])
    sv = _mp_svals(A)
    assert mpmath.mpf(smin_lo) <= sv[-1] <= mpmath.mpf(smin_hi)
    delta = 1024.0 * 11 * 2.0**-53
    # the upper end within about (δκ²)² of σ_min (inverse iteration), or a few γ_k‖A‖_F (rounding; the SVD's vector)
    assert smin_hi - float(sv[-1]) <= float(sv[-1]) * (delta * cond**2) ** 2 + 1e-13 * float(sv[0])
    if cond <= 1e4:
        assert smin_lo > 0  # and the certificate holds


@pytest.mark.parametrize("case", ("diagonal", "zero_last_column", "zero_last_row"))
def test_sigma_max_lower_bound_when_the_top_vector_misses_the_last_coordinate(case):
    """The inverse iteration from e_k cannot see a top eigenvector with no k-th component (a dead last unit);
    the half step from a dense start keeps the lower bound within about δλ_1/gap (here 1e-10)."""
    from gradbounds.linalg import log_norm_scaled

    rng = np.random.default_rng(17)
    if case == "diagonal":
        A = np.diag(np.geomspace(1.0, 1e-3, 12))
    else:
        A = rng.standard_normal((12, 12)) / 4
        if case == "zero_last_column":
            A[:, -1] = 0.0
        else:
            A[-1, :] = 0.0
    for B in (A, A[:, :8], A[:8, :]):  # square, tall, wide
        lam = jnp.exp(2 * log_norm_scaled(jnp.asarray(B), 2.0**-53)[0])
        lo, hi = enc.sigma_max_bounds(jnp.asarray(B), lam_hat=lam)
        exact = _mp_svals(B)[0]
        assert mpmath.mpf(float(lo)) <= exact <= mpmath.mpf(float(hi))
        assert float(hi) / float(lo) - 1 < 1e-10, (case, B.shape)


@pytest.mark.parametrize("dtype", (jnp.float32, jnp.float64))
def test_log_bounds_of_nan_are_vacuous_never_a_proved_zero(dtype):
    """An error bound that met 0·∞ is NaN: its log's upper bound is +inf and its lower bound −inf; 0 alone is
    a proved zero (−inf on both sides), and 1 is exactly 0."""
    x = jnp.asarray([jnp.nan, 0.0, 1.0, jnp.inf], dtype)
    assert np.asarray(enc.log_up(x)).tolist() == [np.inf, -np.inf, 0.0, np.inf]
    assert np.asarray(enc.log_down(x)).tolist() == [-np.inf, -np.inf, 0.0, np.inf]
