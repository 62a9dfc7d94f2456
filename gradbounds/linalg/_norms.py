"""Spectral norms of small matrices without an SVD, with rounding-error bounds.

``‖B‖ = σ_max(B)`` is the square root of the largest eigenvalue of the Gram
matrix on the small side of ``B``.  The Gram matrix is reduced to tridiagonal
form by Householder reflections (LAPACK ``sytrd`` through
``lax.linalg.tridiagonal``) and its largest eigenvalue found by bisection on
Sturm sequences, one fused loop over the batch.  For the small matrices of
the bound hierarchy this is three to four times cheaper than an SVD, and it
keeps the SVD's accuracy for the *largest* singular value:

.. math::

   \\frac{|\\hat λ - λ_{\\max}(B^TB)|}{λ_{\\max}} \\le
   \\frac{(p + 2k + 16)\\,u\\,\\|B\\|_F^2}{λ_{\\max}},
   \\qquad \\frac{\\|B\\|_F^2}{λ_{\\max}} \\le \\operatorname{rank} B,

with ``k = min(m, n)``, ``p = max(m, n)`` and ``u`` the unit roundoff:
``γ_p‖B‖_F²`` bounds the error of forming the Gram matrix (``‖|B|^T|B|‖ ≤
‖B‖_F²``), ``2k u‖A‖_F`` the backward error of the tridiagonal reduction and
``16u‖A‖`` the bisection's final interval and its Sturm counts.  The square
root halves the relative error.  It does *not* keep the accuracy of small
singular values (the Gram matrix squares the condition number), so
``σ_min`` stays with the SVD.

Matrices are scaled by a power of two (exactly) before the Gram matrix is
formed, so entries near the overflow or underflow thresholds give finite,
accurate logs.

References:
  Higham 2002, *Accuracy and Stability of Numerical Algorithms*, §3.5 (inner
  products); Golub & Van Loan 2013, *Matrix Computations*, §8.3.1 (backward
  stability of the tridiagonal reduction) and §8.4.1 (Sturm-sequence
  bisection); Kahan 1966 (accuracy of the Sturm count).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

UNROLL_MAX = 64  # Sturm recurrences up to this length are unrolled into one fused kernel
_STURM_LOOPS: contextvars.ContextVar[bool] = contextvars.ContextVar("gradbounds_sturm_loops", default=False)


@contextlib.contextmanager
def sturm_loops() -> Iterator[None]:
    """While active, :func:`lam_max_tridiagonal` traces its Sturm recurrence as a loop at every length.

    The same operations in the same order (bitwise the same eigenvalues), in a smaller program: at
    XLA's optimisation level 0 an unrolled recurrence is not fused into one kernel but left as
    dozens, which cost compile and load time (the single-network hierarchy, compiled quickly, uses
    this; the optimised sweep keeps the unrolled kernel, which runs faster there).  Per thread.
    """
    token = _STURM_LOOPS.set(True)
    try:
        yield
    finally:
        _STURM_LOOPS.reset(token)


def one_at_a_time(fn: Callable) -> Callable:
    """``fn`` (a batched LAPACK call), made to run on one matrix per LAPACK call under ``vmap``.

    jaxlib's CPU LAPACK kernels (SVD, QR, tridiagonal reduction, ...) split a
    large batch over XLA's intra-op thread pool and block until the parts are
    done.  When as many such kernels as the pool has threads run at once (the
    thunk executor runs independent operations concurrently, and so do the
    devices of a sharded computation), every thread waits for work that no
    thread is free to do and the process hangs (seen with jaxlib 0.10.2 on 2
    cores).  A kernel called on a single matrix runs inline and never waits.
    Under ``vmap`` the returned function maps over the batch (``lax.map``, one
    matrix per call; nested ``vmap`` nests the maps), which on small matrices
    is as fast as the batched call and gives bitwise the same numbers.  On
    other backends (GPU, TPU) the batched call is kept.  Not differentiable (``jax.custom_batching.custom_vmap``).
    """
    from jax.custom_batching import custom_vmap

    @custom_vmap
    def f(*args):
        return fn(*args)

    @f.def_vmap
    def _rule(axis_size, in_batched, *args):
        if not any(in_batched):
            return f(*args), jax.tree_util.tree_map(lambda _: False, jax.eval_shape(fn, *args))
        args = [a if b else jnp.broadcast_to(a, (axis_size, *jnp.shape(a))) for a, b in zip(args, in_batched)]
        if jax.default_backend() == "cpu":
            out = jax.lax.map(lambda xs: f(*xs), tuple(args))
        else:  # GPU/TPU solvers are batched kernels without the CPU pool's blocking: keep the batch
            out = jax.vmap(fn)(*args)
        return out, jax.tree_util.tree_map(lambda _: True, out)

    return f


def _abs_matmul_plain(W, V):
    return jnp.abs(W) @ V


def abs_matmul(W: jax.Array, V: jax.Array) -> jax.Array:
    """``|W| V`` for a matrix ``W`` (``m × n``) and ``V`` (``n × k``), without storing ``|W|`` for a whole batch.

    Under ``vmap`` XLA computes ``|W|`` for every matrix of the batch into one
    temporary buffer before the product; for a stack of first layers (1000 of
    ``30 × 784``, 188 MB) writing that fresh buffer cost more than the rest of
    the forward pass.  Here, on CPU, a batch of matrices is mapped one matrix at
    a time (``lax.map``: ``|W_i|`` stays in cache), and a batch of ``V`` against
    one ``W`` (examples of one network) is one product ``|W| [V_1 ⋯ V_b]``.
    Other backends keep the batched computation.  Not differentiable.
    """
    from jax.custom_batching import custom_vmap

    @custom_vmap
    def f(W, V):
        return _abs_matmul_plain(W, V)

    @f.def_vmap
    def _rule(axis_size, in_batched, W, V):
        wb, vb = in_batched
        if jax.default_backend() != "cpu":
            return jax.vmap(_abs_matmul_plain, in_axes=(0 if wb else None, 0 if vb else None))(W, V), True
        if not wb:  # one W, a batch of V: one product with the columns side by side
            b, n, k = V.shape
            out = f(W, jnp.moveaxis(V, 0, 1).reshape(n, b * k))
            return jnp.moveaxis(out.reshape(-1, b, k), 1, 0), True
        V = V if vb else jnp.broadcast_to(V, (axis_size, *V.shape))
        return jax.lax.map(lambda t: f(*t), (W, V)), True

    return f(W, V)


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Runs the block with the BLAS libraries (OpenBLAS behind jaxlib's LAPACK) on one thread.

    jaxlib's LAPACK kernels call scipy's OpenBLAS from inside XLA's own
    threads; OpenBLAS then starts threads of its own that spin against XLA's,
    and a 512 x 512 QR took ten times longer on 2 cores (threadpoolctl; a no-op
    when threadpoolctl is not installed).  Results must be ready before the
    block ends (``block_until_ready`` or ``np.asarray`` inside it).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


svdvals = one_at_a_time(lambda A: jnp.linalg.svd(A, compute_uv=False))
"""Singular values (descending) of one matrix: LAPACK ``gesdd``, one matrix a call under ``vmap``."""

tridiagonal = one_at_a_time(lambda A: jax.lax.linalg.tridiagonal(A)[1:3])
"""Diagonal and off-diagonal of the Householder tridiagonal form of a symmetric matrix (LAPACK ``sytrd``)."""


def pow2_scale(amax: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Factors ``s1, s2`` (powers of two) and ``e`` with ``amax·s1·s2 ∈ [1/2, 1)`` and ``s1·s2 = 2^{-e}``.

    Two factors, so that neither over- nor underflows for any finite ``amax``.
    """
    dtype = jnp.result_type(amax)
    e = jnp.frexp(jnp.where(amax > 0, amax, jnp.ones((), dtype)))[1]
    h = e // 2
    one = jnp.ones((), dtype)
    return jnp.ldexp(one, -h), jnp.ldexp(one, h - e), e


def lam_max_tridiagonal(d: jax.Array, off: jax.Array) -> jax.Array:
    """Largest eigenvalue of the symmetric tridiagonal matrix with diagonal ``d``, off-diagonal ``off``.

    Bisection on ``[max d_i, max_i(d_i + |off_{i-1}| + |off_i|)]``: ``x > λ_max``
    exactly when every pivot of the ``LDL^T`` factorisation of ``xI − T`` is
    positive (Sylvester's law of inertia).  ``nmant + 2`` halvings take the
    interval below ``u·λ_max`` when ``T`` is positive semi-definite.
    """
    k = d.shape[-1]
    if k == 1:
        return d[0]
    z = jnp.zeros((1,), d.dtype)
    ab = jnp.abs(off)
    lo = jnp.max(d)
    hi = jnp.max(d + jnp.concatenate([ab, z]) + jnp.concatenate([z, ab]))
    e2 = off * off

    def above(x):
        q = x - d[0]
        ok = q > 0
        if k <= UNROLL_MAX and not _STURM_LOOPS.get():
            for i in range(1, k):
                q = (x - d[i]) - e2[i - 1] / q
                ok = ok & (q > 0)
            return ok

        def body(i, c):
            q, ok = c
            q = (x - d[i]) - e2[i - 1] / q
            return q, ok & (q > 0)

        return jax.lax.fori_loop(1, k, body, (q, ok))[1]

    def halve(_, lh):
        lo, hi = lh
        mid = 0.5 * (lo + hi)
        a = above(mid)
        return jnp.where(a, lo, mid), jnp.where(a, mid, hi)

    lo, hi = jax.lax.fori_loop(0, int(jnp.finfo(d.dtype).nmant) + 2, halve, (lo, hi))
    return 0.5 * (lo + hi)


def log_norm_scaled(B: jax.Array, u: float) -> tuple[jax.Array, jax.Array]:
    """``log ‖B‖`` and a bound on its error, for ``B`` already scaled (``max|b_ij|`` near 1).

    Returns ``(log σ_max, err)`` with ``err`` a bound on the error of the log
    (see the module docstring); ``(-inf, 0)`` for ``B = 0``.
    """
    m, n = B.shape
    k, p = min(m, n), max(m, n)
    fro2 = jnp.sum(B * B)
    if k == 1:
        lam = fro2
        rel = jnp.asarray((p + 2) * u, B.dtype)
    else:
        A = B.T @ B if m >= n else B @ B.T
        d, off = tridiagonal(A)
        lam = lam_max_tridiagonal(d, off)
        rel = (p + 2 * k + 16) * u * fro2 / jnp.where(lam > 0, lam, 1)
    pos = lam > 0
    log_s = 0.5 * jnp.log(jnp.where(pos, lam, 0.0))
    return log_s, jnp.where(pos, 0.5 * rel + 2 * u, 0.0)


def log_norm(B: jax.Array, u: float) -> tuple[jax.Array, jax.Array]:
    """``log ‖B‖`` (spectral norm) and a bound on its error, for any finite ``B``.

    ``B = 2^e B̃`` exactly, ``log ‖B‖ = log ‖B̃‖ + e log 2``; the bound adds the
    rounding of that sum, ``u(|log ‖B‖| + 2|e| log 2)`` (``log 2`` itself is
    rounded), which dominates for entries near 1e±300.
    """
    s1, s2, e = pow2_scale(jnp.max(jnp.abs(B)))
    log_s, err = log_norm_scaled(B * s1 * s2, u)
    shift = e.astype(B.dtype) * float(np.log(2.0))
    out = log_s + shift
    fin = jnp.isfinite(out)
    return out, err + jnp.where(fin, u * (jnp.abs(jnp.where(fin, out, 0)) + 2 * jnp.abs(shift)), 0)
