"""Spectral norms without an SVD (gradbounds._norms): the stated error bound bounds the error.

References are 40-digit singular values (mpmath) for float64 and float64 LAPACK for float32
inputs (whose error, ~1e-15, is far inside float32's bound).  Matrices: random, rank-deficient,
clustered top singular values, a column, a row, zero, and every one of them scaled by 1e-300 and
1e300 (float64) or 1e-30 and 1e30 (float32), where the Gram matrix would under- or overflow
without the power-of-two scaling.
"""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from gradbounds import linalg


def _cases(rng):
    q, _ = np.linalg.qr(rng.standard_normal((9, 9)))
    return {
        "random 7x5": rng.standard_normal((7, 5)),
        "random 5x7": rng.standard_normal((5, 7)),
        "random 12x12": rng.standard_normal((12, 12)),
        "rank 1": np.outer(rng.standard_normal(8), rng.standard_normal(6)),
        "rank 3 of 10x10": rng.standard_normal((10, 3)) @ rng.standard_normal((3, 10)),
        "clustered top": q @ np.diag([1.0, 1.0, 1.0 - 1e-12, 0.5, 0.5, 1e-3, 1e-8, 0.0, 0.0]) @ q.T,
        "column": rng.standard_normal((6, 1)),
        "row": rng.standard_normal((1, 6)),
        "graded": rng.standard_normal((6, 6)) * np.logspace(0, -14, 6)[None, :],
    }


def _log_smax_mp(A) -> float:
    with mpmath.workdps(40):
        s = mpmath.svd_r(mpmath.matrix(A.tolist()), compute_uv=False)
        return float(mpmath.log(max(s)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", ["1", "tiny", "huge"])
def test_log_norm_error_bound_bounds_the_error(dtype, scale):
    rng = np.random.default_rng(0)
    u = float(np.finfo(dtype).eps) / 2
    e = {"1": 0, "tiny": -300 if dtype == np.float64 else -30, "huge": 300 if dtype == np.float64 else 30}[scale]
    fn = jax.jit(lambda B: linalg.log_norm(B, u))
    for name, A in _cases(rng).items():
        A = A.astype(dtype)  # the matrix we test is the rounded one; its exact norm is the reference
        B = (A.astype(np.float64) * 10.0**e).astype(dtype)
        if not np.all(np.isfinite(B)) or (np.any(A != 0) and not np.any(B != 0)):
            raise AssertionError(f"{name}: test matrix not representable at scale 1e{e}")
        if dtype == np.float64:
            ref = _log_smax_mp(A) + e * np.log(10.0)
        else:
            ref = float(np.log(np.linalg.svd(B.astype(np.float64), compute_uv=False)[0]))
        got, err = (float(v) for v in fn(jnp.asarray(B)))
        assert np.isfinite(got) and 0 < err < 1e-3, (name, got, err)
        assert abs(got - ref) <= err, f"{name} at 1e{e} ({np.dtype(dtype).name}): |{got} - {ref}| > {err}"
        # the bound is not vacuous: a few hundred units of roundoff times the rank, plus the log's own rounding
        assert err <= u * (1000 * min(A.shape) + 4 * abs(ref)), (name, err)


def test_log_norm_of_zero_is_minus_infinity_with_zero_error():
    got, err = linalg.log_norm(jnp.zeros((4, 3)), 2.0**-53)
    assert float(got) == -np.inf and float(err) == 0.0


def test_lam_max_tridiagonal_brackets_the_largest_eigenvalue():
    rng = np.random.default_rng(1)
    for n in (2, 3, 17, 70):  # 70 > UNROLL_MAX: the fori_loop Sturm count
        d, off = rng.standard_normal(n), rng.standard_normal(n - 1)
        T = np.diag(d) + np.diag(off, 1) + np.diag(off, -1)
        want = np.linalg.eigvalsh(T)[-1]
        got = float(linalg.lam_max_tridiagonal(jnp.asarray(d), jnp.asarray(off)))
        scale = np.max(np.abs(np.linalg.eigvalsh(T)))
        assert abs(got - want) <= 16 * 2.0**-53 * scale + 1e-15 * scale, (n, got, want)


@pytest.mark.parametrize("k", (2, 7, 30, linalg.UNROLL_MAX))
def test_sturm_recurrence_as_a_loop_gives_the_unrolled_eigenvalue_bitwise(k):
    """:func:`linalg.sturm_loops` changes the program's shape, not its numbers: the same eigenvalue bit for
    bit, jitted and under vmap; the loop really is traced (a while loop in the lowering), and only inside."""
    rng = np.random.default_rng(k)
    d = jnp.asarray(rng.uniform(0.0, 2.0, size=(3, k)))
    off = jnp.asarray(rng.normal(size=(3, k - 1)))
    f = jax.vmap(linalg.lam_max_tridiagonal)
    unrolled = jax.jit(f)
    with linalg.sturm_loops():
        looped = jax.jit(lambda a, b: f(a, b))  # a new function: traced here, under the context
        text = looped.lower(d, off).as_text()
        got = looped(d, off)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(unrolled(d, off)))
    outside = jax.jit(lambda a, b: f(a, b)).lower(d, off).as_text()
    assert text.count("stablehlo.while") > outside.count("stablehlo.while")  # the recurrence's loop, inside only
    if k > 2:
        assert text.count("stablehlo.divide") < outside.count("stablehlo.divide")  # one division, not k − 1


def test_one_matrix_per_call_gives_the_batched_numbers_bitwise():
    """The fast-and-safe path (one LAPACK call per matrix under vmap) against the plain batched call."""
    A = jax.random.normal(jax.random.key(0), (4, 3, 9, 5))
    plain = jnp.linalg.svd(A, compute_uv=False)
    looped = jax.jit(jax.vmap(jax.vmap(linalg.svdvals)))(A)
    assert np.array_equal(np.asarray(plain), np.asarray(looped))
    G = A @ jnp.swapaxes(A, -1, -2)
    _, d, off, _ = jax.lax.linalg.tridiagonal(G)
    d2, off2 = jax.jit(jax.vmap(jax.vmap(linalg.tridiagonal)))(G)
    assert np.array_equal(np.asarray(d), np.asarray(d2)) and np.array_equal(np.asarray(off), np.asarray(off2))
    # unbatched arguments stay unbatched, mixed ones broadcast
    assert np.array_equal(np.asarray(linalg.svdvals(A[0, 0])), np.asarray(plain[0, 0]))


def test_pow2_scale_is_exact_and_lands_in_half_to_one():
    for amax in (2.3e-308, 1e-300, 3.0, 1e300, 1.7e308):  # XLA flushes subnormals: none here
        s1, s2, e = linalg.pow2_scale(jnp.asarray(amax))
        scaled = float(jnp.asarray(amax) * s1 * s2)
        assert 0.5 <= scaled < 1.0, amax
        assert scaled == float(np.ldexp(amax, -int(e)))  # multiplication by powers of two is exact
