"""bench/kernels.py: the plain-XLA small kernels it times agree with LAPACK, also on hard matrices."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bench import kernels

pytestmark = pytest.mark.slow  # compiles every kernel in two dtypes; a benchmark's own check


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_plain_kernels_agree_with_numpy(dtype):
    rng = np.random.default_rng(0)
    u = float(np.finfo(dtype).eps) / 2
    q, _ = np.linalg.qr(rng.standard_normal((30, 10)))
    w, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    cases = {
        "random": rng.standard_normal((30, 10)),
        "ill-conditioned": q @ np.diag(np.logspace(0, -12, 10)) @ w,
        "rank 3": rng.standard_normal((30, 3)) @ rng.standard_normal((3, 10)),
        "zero": np.zeros((30, 10)),
        "odd width": rng.standard_normal((12, 7)),
    }
    for name, A in cases.items():
        A = A.astype(dtype)
        s, V, US = (np.asarray(t, np.float64) for t in jax.jit(kernels.svd_jacobi)(jnp.asarray(A)))
        s0 = np.linalg.svd(A.astype(np.float64), compute_uv=False)
        # singular values to a few m·u of the largest (the reference is the float64 SVD of the same floats)
        assert np.all(np.diff(s) <= 0) and np.max(np.abs(s - s0)) <= 200 * u * max(s0[0], 1e-300), name
        assert np.max(np.abs(V.T @ V - np.eye(V.shape[0]))) <= 200 * u, name
        assert np.max(np.abs(A.astype(np.float64) @ V - US)) <= 200 * u * max(s0[0], 1e-300), name
        G = A.astype(np.float64).T @ A.astype(np.float64)
        d, off = (np.asarray(t, np.float64) for t in jax.jit(kernels.tridiagonal)(jnp.asarray(G.astype(dtype))))
        T = np.diag(d) + np.diag(off, 1) + np.diag(off, -1)
        assert np.max(np.abs(np.linalg.eigvalsh(T) - np.linalg.eigvalsh(G))) <= 200 * u * max(s0[0] ** 2, 1e-300), name


def test_cholesky_agrees_with_lapack_and_fails_as_it_does():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((40, 30))
    C = A.T @ A
    L = np.asarray(jax.jit(kernels.cholesky)(jnp.asarray(C)))
    assert np.max(np.abs(L - np.linalg.cholesky(C))) <= 1e-13 * np.max(np.abs(L))
    for bad in (-np.eye(3), np.zeros((3, 3)), np.diag([1.0, -1e-300, 1.0])):
        L = np.asarray(jax.jit(kernels.cholesky)(jnp.asarray(bad)))
        assert not (np.all(np.isfinite(L)) and np.all(np.diag(L) > 0))  # a failed certificate
