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
        assert np.isfinite(float(lo)) and float(hi) - float(lo) < 1e-12


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
