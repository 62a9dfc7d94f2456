"""Small dense kernels in plain XLA operations (vectorised across a batch by ``vmap``) against one LAPACK call per matrix.

    python -m bench.kernels [--n N] [--quick]

Issue 11 (b) asked whether the LAPACK kernels that dominate the sweep
(``gradbounds.linalg.one_at_a_time``: Cholesky, Householder tridiagonal
reduction, SVD of 30 x 30 and 30 x 10 matrices, one matrix per call, since
jaxlib's batched kernels deadlocked XLA's pool on 2 cores) could be replaced
by kernels written with ``jnp`` operations over a batch axis: no custom call,
so no deadlock, and one vector operation per step over every matrix.  This
script times the three kernels the sweep needs, on N matrices of the seed
network's shapes, each way:

* ``lapack``: ``vmap`` of the one-matrix-per-call LAPACK wrappers the package uses;
* ``plain vmap``: the plain kernels below under ``vmap`` (batch-major);
* ``plain chunked``: the same kernels under ``lax.map(..., batch_size=32)``
  (each chunk's working set in cache).

Every plain kernel is first checked against LAPACK (factor, eigenvalues of the
tridiagonal form, singular values).  The kernels are textbook: right-looking
Cholesky (the rounding bound of Higham 2002, Theorem 10.3 holds for it as for
``potrf``), Householder tridiagonalisation (Golub & Van Loan 2013, Algorithm
8.3.1), one-sided Jacobi SVD with the round-robin ordering (Demmel & Veselić
1992).  On the 2-core CPU of bench/RESULTS.md they were 3-20x *slower* than
one LAPACK call per matrix (see the closing note of issue 11), so the package
keeps LAPACK; the script stays to measure it again on other machines.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from bench.common import timeit

JACOBI_MAX_SWEEPS = 30  # a cap only: 30 × 30 matrices converge in 6–10 sweeps


def cholesky(C: jax.Array) -> jax.Array:
    """Lower Cholesky factor ``L`` (``LLᵀ ≈ C``) of a symmetric ``k × k`` matrix, NaN or ±inf where it breaks down.

    Right-looking: at step ``j`` the pivot ``√a_jj`` and column ``a_{>j,j}/√a_jj``
    are taken from the updated matrix and their outer product subtracted from
    it, so each entry of ``L`` is ``(c − Σ_t l l)/l_jj`` with the sum taken in
    order (Higham 2002, Theorem 10.3 applies; see the module docstring).
    """
    k = C.shape[-1]
    idx = jnp.arange(k)

    def body(j, carry):
        A, L = carry
        col = jax.lax.dynamic_index_in_dim(A, j, axis=1, keepdims=False)
        r = jnp.sqrt(jax.lax.dynamic_index_in_dim(col, j, keepdims=False))
        below = jnp.where(idx > j, col / r, 0.0)
        L = jax.lax.dynamic_update_index_in_dim(L, jnp.where(idx == j, r, below), j, axis=1)
        return A - below[:, None] * below[None, :], L

    return jax.lax.fori_loop(0, k, body, (C, jnp.zeros_like(C)))[1]


def tridiagonal(A: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Diagonal and off-diagonal of a Householder tridiagonal form ``QᵀAQ`` of a symmetric ``k × k`` ``A``.

    Step ``j`` applies ``H = I − βvvᵀ`` (``v`` zero above ``j + 1``) on both sides,
    ``A ← A − vwᵀ − wvᵀ`` with ``p = βAv``, ``w = p − ½β(pᵀv)v``
    (Golub & Van Loan 2013, Algorithm 8.3.1).
    """
    k = A.shape[-1]
    if k == 1:
        return A[0], jnp.zeros((0,), A.dtype)
    idx = jnp.arange(k)

    def body(j, carry):
        A, off = carry
        col = jax.lax.dynamic_index_in_dim(A, j, axis=1, keepdims=False)
        x = jnp.where(idx > j, col, 0.0)
        x0 = jax.lax.dynamic_index_in_dim(col, j + 1, keepdims=False)
        nx = jnp.sqrt(jnp.sum(x * x))
        alpha = jnp.where(x0 >= 0, -nx, nx)
        v = jnp.where(idx == j + 1, x - alpha, x)
        vv = jnp.sum(v * v)
        beta = jnp.where(vv > 0, 2.0 / jnp.where(vv > 0, vv, 1.0), 0.0)
        p = beta * (A @ v)
        w = p - (0.5 * beta * jnp.sum(p * v)) * v
        A = A - v[:, None] * w[None, :] - w[:, None] * v[None, :]
        off = jax.lax.dynamic_update_index_in_dim(off, jnp.where(vv > 0, alpha, x0), j, axis=0)
        return A, off

    off = jnp.zeros((k - 1,), A.dtype)
    A, off = jax.lax.fori_loop(0, k - 2, body, (A, off))
    off = off.at[k - 2].set(A[k - 1, k - 2])
    return jnp.diagonal(A), off


def _round_robin(n: int) -> np.ndarray:
    """Column permutations, one per round, that pair ``(perm[i], perm[i + n/2])``: every pair once in ``n − 1`` rounds."""
    players = list(range(n))
    rounds = []
    for _ in range(n - 1):
        top, bot = players[: n // 2], players[n // 2 :][::-1]
        rounds.append(top + bot)
        players = [players[0], players[-1], *players[1:-1]]  # the circle method: fix one, rotate the rest
    return np.asarray(rounds, dtype=np.int32)


def svd_jacobi(A: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Singular values (descending) and right singular vectors of a tall ``m × n`` ``A`` (``m ≥ n``), by one-sided Jacobi.

    Returns ``(s, V, U Σ)``: ``AV ≈ UΣ`` with ``V`` orthogonal to working
    accuracy.  Columns ``a_p, a_q`` are rotated until ``|a_pᵀa_q| ≤ m u ‖a_p‖‖a_q‖``
    for every pair (Demmel & Veselić 1992: each singular value then has a
    relative error of a few ``m u`` times the condition number of ``A`` with
    its columns scaled to unit norm).
    """
    m, n = A.shape
    dtype = A.dtype
    u = float(jnp.finfo(dtype).eps) / 2
    tol = m * u
    n2 = n + n % 2  # an odd count gets a zero column, which no rotation touches
    G = jnp.concatenate([A, jnp.zeros((m, n2 - n), dtype)], axis=1) if n2 > n else A
    V = jnp.eye(n2, dtype=dtype)
    rounds = _round_robin(n2)
    inverse = np.argsort(rounds, axis=1).astype(np.int32)
    h = n2 // 2

    def rotate(r, carry):
        G, V, off = carry
        perm = jax.lax.dynamic_index_in_dim(jnp.asarray(rounds), r, keepdims=False)
        inv = jax.lax.dynamic_index_in_dim(jnp.asarray(inverse), r, keepdims=False)
        Gp, Vp = jnp.take(G, perm, axis=1), jnp.take(V, perm, axis=1)
        P, Q = Gp[:, :h], Gp[:, h:]
        a, b, g = jnp.sum(P * P, axis=0), jnp.sum(Q * Q, axis=0), jnp.sum(P * Q, axis=0)
        ab = jnp.sqrt(a) * jnp.sqrt(b)
        rot = jnp.abs(g) > tol * ab
        gs = jnp.where(rot, g, 1.0)
        zeta = (b - a) / (2.0 * gs)
        t = jnp.where(zeta >= 0, 1.0, -1.0) / (jnp.abs(zeta) + jnp.sqrt(1.0 + zeta * zeta))
        t = jnp.where(rot, t, 0.0)
        c = 1.0 / jnp.sqrt(1.0 + t * t)
        c, s = c[None, :], (c * t)[None, :]
        VP, VQ = Vp[:, :h], Vp[:, h:]
        G = jnp.take(jnp.concatenate([c * P - s * Q, s * P + c * Q], axis=1), inv, axis=1)
        V = jnp.take(jnp.concatenate([c * VP - s * VQ, s * VP + c * VQ], axis=1), inv, axis=1)
        off = jnp.maximum(off, jnp.max(jnp.where(ab > 0, jnp.abs(g) / jnp.where(ab > 0, ab, 1.0), 0.0)))
        return G, V, off

    def sweep(c):
        G, V, _, i = c
        G, V, off = jax.lax.fori_loop(0, n2 - 1, rotate, (G, V, jnp.zeros((), dtype)))
        return G, V, off, i + 1

    def more(c):
        return (c[2] > tol) & (c[3] < JACOBI_MAX_SWEEPS)

    if n2 > 1:
        G, V, _, _ = jax.lax.while_loop(more, sweep, (G, V, jnp.ones((), dtype), jnp.zeros((), jnp.int32)))
    s = jnp.sqrt(jnp.sum(G * G, axis=0))[:n]
    order = jnp.argsort(-s)
    return s[order], V[:n, :n][:, order], G[:, :n][:, order]


def _lapack():
    from gradbounds import linalg

    chol = linalg.one_at_a_time(jnp.linalg.cholesky)

    def svd(A):
        _, s, Vt = jnp.linalg.svd(A, full_matrices=False)
        return s, Vt.T

    return chol, linalg.tridiagonal, linalg.one_at_a_time(svd)


def _check(S, R, chol, trid, svd) -> dict:
    """Largest relative differences of the plain kernels from LAPACK (numpy references)."""
    L = np.asarray(jax.jit(jax.vmap(cholesky))(S))
    L0 = np.asarray(jax.jit(jax.vmap(chol))(S))
    d, off = (np.asarray(t) for t in jax.jit(jax.vmap(tridiagonal))(S))
    T = np.zeros(S.shape)
    k = S.shape[-1]
    T[:, np.arange(k), np.arange(k)] = d
    T[:, np.arange(k - 1), np.arange(1, k)] = off
    T[:, np.arange(1, k), np.arange(k - 1)] = off
    w, w0 = np.linalg.eigvalsh(T), np.linalg.eigvalsh(np.asarray(S))
    s = np.asarray(jax.jit(jax.vmap(svd_jacobi))(R)[0])
    s0 = np.asarray(jax.jit(jax.vmap(svd))(R)[0])
    return {
        "cholesky": float(np.max(np.abs(L - L0)) / np.max(np.abs(L0))),
        "tridiagonal": float(np.max(np.abs(w - w0)) / np.max(np.abs(w0))),
        "svd": float(np.max(np.abs(s - s0) / s0)),
    }


def run(n: int = 2000, *, log=print) -> dict:
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, 40, 30))
    S = jnp.asarray(np.einsum("bij,bik->bjk", A, A))  # 30 x 30 Gram matrices (J level, weights)
    R = jnp.asarray(rng.standard_normal((n, 30, 10)))  # 30 x 10 products (P and lower levels)
    chol, trid, svd = _lapack()
    diffs = _check(S, R, chol, trid, svd)
    log("plain kernels against LAPACK (relative): " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    assert all(v < 1e-11 for v in diffs.values()), diffs
    out = {}
    for name, plain, lap, X in (
        ("Cholesky 30 x 30", cholesky, chol, S),
        ("tridiagonal 30 x 30", tridiagonal, trid, S),
        ("SVD 30 x 10", svd_jacobi, svd, R),
    ):
        row = {}
        for how, fn in (
            ("lapack", jax.jit(jax.vmap(lap))),
            ("plain vmap", jax.jit(jax.vmap(plain))),
            ("plain chunked", jax.jit(lambda X, plain=plain: jax.lax.map(plain, X, batch_size=32))),
        ):
            row[how] = timeit(lambda fn=fn, X=X: jax.block_until_ready(fn(X)), repeats=5)["median"]
        out[name] = row
        log(
            f"{name:22s} "
            + "  ".join(f"{how} {t / n * 1e6:7.1f} us" for how, t in row.items())
            + f"  (plain/lapack {row['plain vmap'] / row['lapack']:.1f}x, chunked {row['plain chunked'] / row['lapack']:.1f}x)"
        )
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description="Small dense kernels in plain XLA operations against one LAPACK call per matrix."
    )
    p.add_argument("--n", type=int, default=2000, help="matrices per kernel (default 2000)")
    p.add_argument("--quick", action="store_true", help="64 matrices (a smoke test)")
    a = p.parse_args(argv)
    run(64 if a.quick else a.n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
