"""Singular values of ``J^l``, ``B^l``, their products and ``∂a^L/∂x``, stable at any depth.

A product of many layer matrices ``P = A_m ⋯ A_1`` overflows or underflows in
float64 long before depth 1,000, and a direct SVD of a rescaled product only
resolves singular values down to ``ε σ_max``.  Here products are handled by
repeated QR re-orthonormalisation (the Lyapunov-exponent method): a k-frame
``Q_0`` is pushed through the factors, ``A_i Q_{i-1} = Q_i R_i``, and the logs
``log|diag R_i|`` are accumulated, so nothing is ever formed that could
overflow.  What each quantity guarantees:

* one forward pass (:func:`lyapunov_exponents`): ``Σ_{j≤p} Σ_i log|R_i[j,j]|``
  is the log of the p-volume of ``P`` on ``span(Q_0[:, :p])``, a lower bound on
  ``Σ_{j≤p} log σ_j(P)`` (equal when p = n and P is square:
  ``log|det P|``); divided by the depth these are the finite-depth Lyapunov
  exponents.
* forward–backward sweeps (``method="qr"``): a backward pass through
  ``A_iᵀ`` turns the sweep into orthogonal (subspace) iteration on ``PᵀP``.
  At its fixed point ``Q_0 = V`` (right singular vectors) the accumulated ``R``
  is diagonal and ``Σ_i log|R_i[j,j]| = log σ_j(P)`` exactly; the sweeps stop
  when two successive forward passes agree to ``tol·(1 + |log σ|)``
  (``converged``).  Consecutive singular values that differ by a factor ``ρ``
  converge like ``ρ^{2·sweeps}``, so deep products (widely separated σ) need
  one or two sweeps.
* ``method="svd"``: the product formed with per-step rescaling (log scale
  kept) and one SVD: accurate to ``≈ ε σ_max`` absolutely, the reference
  where that is enough.

Chains are scanned over runs of identical layers (:func:`gradbounds.core.segments`),
so depth 1,000 and more compiles quickly.  Directions of expansion and
shrinkage are the right singular vectors with ``σ > 1`` and ``σ < 1``.

References:
  Benettin, Galgani, Giorgilli & Strelcyn 1980 (QR method for Lyapunov
  exponents); Eckmann & Ruelle 1985, §III.B; Golub & Van Loan 2013, §8.3.7
  (orthogonal iteration) and §8.6 (SVD); Pennington et al. 2017, eq. (2)
  (``J = ∏ D^l W^l``); Saxe et al. 2014 (linear orthogonal networks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from gradbounds import core, linalg

__all__ = ["Spectrum", "LyapunovResult", "input_output_spectrum", "product_spectrum", "lyapunov_exponents"]


@dataclass(frozen=True)
class _Run:
    """``k`` chain steps ``A = diag(post) W diag(pre)``: W ``(k, n_out, n_in)``, pre ``(k, n_in)``, post ``(k, n_out)``."""

    W: jax.Array
    pre: jax.Array
    post: jax.Array


jax.tree_util.register_dataclass(_Run, data_fields=["W", "pre", "post"], meta_fields=[])


def _derivs(segs, x):
    """σ'(z^l) per segment, stacked ``(k_s, n_s)``, from the shared forward pass."""
    zs, _ = core.forward_segments(segs, x)
    return [core.get_activation(seg.activation).deriv(z) for seg, z in zip(segs, zs)]


def _first_step(segs, kind: str, start: int) -> list[int]:
    """Per segment, the index of its first layer in the chain (its length when none is)."""
    first = start if kind == "J" else start + 1
    out, g0 = [], 0
    for seg in segs:
        out.append(min(max(0, first - (g0 + 1)), seg.length))
        g0 += seg.length
    return out


@partial(jax.jit, static_argnames=("kind", "start", "output"))
def _scales(segs, x, kind: str, start: int, output: bool):
    """Per segment ``(pre, post)`` of its chain steps (from :func:`_first_step` on), and every ``σ'(z^l)``.

    One compiled program for the forward pass and the scale vectors; the
    weights are not touched here (a jitted function returns copies, and at
    depth 1,000 and width 512 the weights are 2 GB).
    """
    ds = _derivs(segs, x)
    scales, prev_last = [], None
    for s, (seg, d, j0) in enumerate(zip(segs, ds, _first_step(segs, kind, start))):
        k = seg.length
        if kind == "J":
            pre, post = jnp.ones(seg.W.shape[:-2] + seg.W.shape[-1:], d.dtype), d
        else:  # layer r uses pre = σ'(z^{r-1}); post = 1, or σ'(z^L) at r = L with output
            head = jnp.ones((1, seg.W.shape[-1]), d.dtype) if prev_last is None else prev_last[None]
            pre = jnp.concatenate([head, d[:-1]]) if k > 1 else head
            post = jnp.ones_like(d)
            if output and s == len(segs) - 1:
                post = post.at[-1].set(d[-1])
        scales.append((pre[j0:], post[j0:]))
        prev_last = d[-1]
    return scales, ds


def _runs(segs, x, kind: str, start: int, output: bool):
    """Chain steps for ``kind="J"`` (``J^L⋯J^start``) or ``"B"`` (``(B^start⋯B^{L-1}[Σ'(z^L)])ᵀ``)."""
    scales, ds = _scales(segs, x, kind, start, output)
    runs = []
    for seg, (pre, post), j0 in zip(segs, scales, _first_step(segs, kind, start)):
        if j0 < seg.length:
            runs.append(_Run(seg.W[j0:] if j0 else seg.W, pre, post))
    return tuple(runs), ds


def _apply(transpose):
    def f(Q, item):
        W, pre, post = item
        if transpose:
            return pre[:, None] * (W.T @ (post[:, None] * Q))
        return post[:, None] * (W @ (pre[:, None] * Q))

    return f


def _orthonormalise(Y, log_scale):
    """``Y = Q R``; returns Q (signs so that diag R > 0), ``log|R_jj| + log_scale`` and the column loss.

    The loss ``max_j log(‖y_j‖/|R_jj|)`` is how much of column j was cancelled
    by the earlier columns: the relative rounding error of ``R_jj`` is about
    ``u`` times its exponential (Householder QR is column-wise backward stable).
    """
    Qn, R = jnp.linalg.qr(Y)
    d = jnp.diagonal(R)
    sign = jnp.where(d < 0, -1, 1).astype(Y.dtype)
    log_d = jnp.log(jnp.abs(d))
    loss = jnp.max(jnp.where(d != 0, jnp.log(jnp.linalg.norm(Y, axis=0)) - log_d, 0.0))
    return Qn * sign[None, :], log_d + log_scale, loss


def _step_qr(transpose):
    apply = _apply(transpose)

    def step(Q, item):
        Qn, lg, loss = _orthonormalise(apply(Q, item), 0.0)
        return Qn, (lg, loss)

    return step


def _block_qr(transpose):
    """``b`` factors applied to the frame (rescaled by powers of two, exactly), then one QR."""
    apply = _apply(transpose)
    log2 = float(np.log(2.0))

    def factor(carry, item):
        Y, e = carry
        Y = apply(Y, item)
        m = jnp.max(jnp.abs(Y))
        k = jnp.frexp(jnp.where(m > 0, m, 1))[1]
        return (jnp.ldexp(Y, -k), e + k), None

    def step(Q, items):
        (Y, e), _ = jax.lax.scan(factor, (Q, jnp.zeros((), jnp.int32)), items, reverse=transpose)
        Qn, lg, loss = _orthonormalise(Y, e.astype(Y.dtype) * log2)
        return Qn, (lg, loss)

    return step


def _qr_pass(runs, Q, transpose=False, block=1):
    """One pass of the chain with a QR every ``block`` factors: ``(Q, log stretches (steps, k), max loss)``.

    With ``block > 1`` a run's last ``block·⌊len/block⌋`` factors go in blocks and
    each block's ``log|R_jj|`` is put on the block's last step (zeros on the
    others), so that the rows still add up to the logs of the volumes.
    """
    logs, worst = [], jnp.zeros((), Q.dtype)
    for run in reversed(runs) if transpose else runs:
        items = (run.W, run.pre, run.post)
        n = run.W.shape[0]
        nb = n // block if block > 1 else 0
        h = n - nb * block  # the first h factors one at a time, the rest in nb blocks
        head = jax.tree_util.tree_map(lambda a, h=h: a[:h], items)
        tail = jax.tree_util.tree_map(lambda a, h=h, nb=nb: a[h:].reshape(nb, block, *a.shape[1:]), items)
        parts = []
        if not transpose and h:
            Q, (lg, ls) = core.scan_or_loop(_step_qr(False), Q, head)
            parts.append(lg)
            worst = jnp.maximum(worst, jnp.max(ls))
        if nb:
            Q, (lg, ls) = jax.lax.scan(_block_qr(transpose), Q, tail, reverse=transpose)
            full = jnp.zeros((nb, block, lg.shape[-1]), lg.dtype).at[:, -1].set(lg)
            parts.append(full.reshape(nb * block, -1))
            worst = jnp.maximum(worst, jnp.max(ls))
        if transpose and h:
            Q, (lg, ls) = core.scan_or_loop(_step_qr(True), Q, head, reverse=True)
            parts.insert(0, lg)
            worst = jnp.maximum(worst, jnp.max(ls))
        logs.append(jnp.concatenate(parts))
    if transpose:
        logs = logs[::-1]
    return Q, jnp.concatenate(logs), worst


@partial(jax.jit, static_argnames=("block",))
def _sweep(runs, Q0, block=1):
    QL, fwd, loss_f = _qr_pass(runs, Q0, block=block)
    Q0n, _, loss_b = _qr_pass(runs, QL, transpose=True, block=block)
    return QL, fwd, Q0n, jnp.maximum(loss_f, loss_b)


@jax.jit
def _forward_pass(runs, Q):
    Q, fwd, _ = _qr_pass(runs, Q)
    return Q, fwd


@partial(jax.jit, static_argnames=("unit_pre",))
def _direct(runs, n_in_eye, unit_pre=False):
    """The rescaled product and its SVD; ``unit_pre``: every ``pre`` is 1 (``J`` chains), not multiplied."""

    def step(carry, item):
        P, s = carry
        W, pre, post = item
        P = post[:, None] * (W @ (P if unit_pre else pre[:, None] * P))
        m = jnp.max(jnp.abs(P))
        m = jnp.where(m > 0, m, 1)
        return (P / m, s + jnp.log(m)), None

    carry = (n_in_eye, jnp.zeros((), n_in_eye.dtype))
    for run in runs:
        carry, _ = core.scan_or_loop(step, carry, (run.W, run.pre, run.post))
    P, s = carry
    U, S, Vt = jnp.linalg.svd(P, full_matrices=False)
    return s + jnp.log(S), U, Vt.T


class Spectrum(NamedTuple):
    """Singular values of a product, as natural logs (descending), with singular vectors.

    Attributes:
      log_sv: ``(k,)`` natural logs of the k largest singular values, descending.
      right: ``(n_in, k)`` right singular vectors (columns, same order).  With
        ``"qr"`` they converge linearly in the sweeps while the values converge
        quadratically, so they are accurate to about ``√tol`` (relative to σ_1).
      left: ``(n_out, k)`` left singular vectors (same accuracy).
      log_stretch: ``(steps, k)`` per-step ``log|R_ii|`` of the last forward pass
        (QR method; rows sum to ``log_sv`` before sorting), else None.
      converged: the sweeps met ``tol`` (always True for ``"svd"``).
      sweeps: forward–backward sweeps done (0 for ``"svd"``).
      method: ``"qr"`` or ``"svd"``.
      qr_every: factors between two QR re-orthonormalisations in the sweeps (1: after every factor).
    """

    log_sv: jax.Array
    right: jax.Array
    left: jax.Array
    log_stretch: jax.Array | None
    converged: bool
    sweeps: int
    method: str
    qr_every: int = 1

    def singular_values(self) -> jax.Array:
        """``exp(log_sv)`` (may under/overflow at depth: prefer the logs)."""
        return jnp.exp(self.log_sv)

    @property
    def expanding(self) -> jax.Array:
        """Right singular vectors with ``σ > 1`` (directions the product expands)."""
        return self.right[:, np.asarray(self.log_sv) > 0]

    @property
    def shrinking(self) -> jax.Array:
        """Right singular vectors with ``σ < 1`` (directions the product shrinks)."""
        return self.right[:, np.asarray(self.log_sv) < 0]


def _frame(n: int, k: int, dtype, key):
    if key is None:
        return jnp.eye(n, k, dtype=dtype)
    q, r = jnp.linalg.qr(jax.random.normal(key, (n, k), dtype))
    return q * jnp.where(jnp.diagonal(r) < 0, -1, 1).astype(dtype)[None, :]


BLOCK_MAX = 64  # most factors between two QRs ("auto")
_LOSS_FLOOR = float(np.log(8.0))  # a block may always lose this much (error amplification 8)


def _probe_block(runs, Q0, n_steps: int = 16):
    """Block length for ``qr_every="auto"`` and the loss it may reach, from a short plain probe.

    The first ``n_steps`` factors, with a QR after each (the plain method),
    give the per-step spread ``max_j − min_j log|R_jj|`` and loss.  A block of
    ``b`` factors spreads the frame by about ``b`` times the mean spread; it is
    sized so that this stays within the largest single-step loss (at least
    ``log 8``), and every blocked sweep is checked against that loss afterwards.
    """
    first = []
    left = n_steps
    for run in runs:
        if left <= 0:
            break
        m = min(left, run.W.shape[0])
        first.append(_Run(run.W[:m], run.pre[:m], run.post[:m]))
        left -= m
    _, fwd, loss = _forward_pass_loss(tuple(first), Q0)
    fwd = np.asarray(fwd)
    allowed = max(float(loss), _LOSS_FLOOR)
    spread = float(np.mean(np.max(fwd, 1) - np.min(fwd, 1))) if fwd.shape[1] > 1 else 0.0
    block = BLOCK_MAX if spread <= 0 else int(np.clip(allowed // spread, 1, BLOCK_MAX))
    return block, allowed


@jax.jit
def _forward_pass_loss(runs, Q):
    return _qr_pass(runs, Q)


def _check_qr_every(qr_every):
    if qr_every == "auto":
        return qr_every
    if isinstance(qr_every, bool) or not isinstance(qr_every, (int, np.integer)) or qr_every < 1:
        raise ValueError(f"qr_every: expected 'auto' or an int >= 1, got {qr_every!r}")
    return int(qr_every)


def _chain_spectrum(runs, n_in, **kw) -> Spectrum:
    with linalg.single_threaded_blas():
        sp = _chain_spectrum_impl(runs, n_in, **kw)
        return jax.block_until_ready(sp)


def _chain_spectrum_impl(
    runs, n_in, *, k, method, tol, max_sweeps, key, dtype, qr_every="auto", unit_pre=False
) -> Spectrum:
    if method == "svd":
        log_sv, U, V = _direct(runs, jnp.eye(n_in, dtype=dtype), unit_pre=unit_pre)
        return Spectrum(log_sv[:k], V[:, :k], U[:, :k], None, True, 0, "svd")
    if method != "qr":
        raise ValueError(f"method: expected 'qr' or 'svd', got {method!r}")
    if isinstance(max_sweeps, bool) or not isinstance(max_sweeps, int) or max_sweeps < 1:
        raise ValueError(f"max_sweeps: expected an int >= 1, got {max_sweeps!r}")
    qr_every = _check_qr_every(qr_every)
    tol = 4096 * float(jnp.finfo(dtype).eps) if tol is None else float(tol)
    Q0, prev, converged, sweeps = _frame(n_in, k, dtype, key), None, False, 0
    if qr_every == "auto":
        block, allowed = _probe_block(runs, Q0)
    else:
        block, allowed = qr_every, np.inf
    while sweeps < max_sweeps:
        QL, fwd, Q0n, loss = _sweep(runs, Q0, block=block)
        if block > 1 and float(loss) > allowed:  # a block cancelled more than the plain method: shorter blocks
            block = max(1, block // 2)
            continue
        sweeps += 1
        tot = np.asarray(jnp.sum(fwd, 0))
        if prev is not None:
            scale = 1 + np.abs(np.where(np.isfinite(tot), tot, 0))
            if np.all((tot == prev) | (np.abs(tot - prev) <= tol * scale)):
                converged = True
                break
        prev, Q0 = tot, Q0n
    order = np.argsort(-tot, kind="stable")  # pyright: ignore[reportOperatorIssue]  (max_sweeps >= 1: tot is set)
    sp = Spectrum(jnp.asarray(tot[order]), Q0[:, order], QL[:, order], fwd[:, order], converged, sweeps, "qr")
    return sp._replace(qr_every=block)


def _prepare(net, x):
    net = tuple(net)
    ws = core.validate_network(net)
    x = jnp.asarray(x)
    core.check_input(net, x, "x")
    if x.ndim != 1:
        raise ValueError(f"x: expected one input of shape ({ws[0]},), got {tuple(x.shape)}")
    return net, ws, x


def _check_k(k, kmax: int) -> int:
    if k is None:
        return kmax
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= kmax:
        raise ValueError(f"k: expected an int in 1..{kmax} (the smallest width along the product), got {k!r}")
    return int(k)


def input_output_spectrum(
    net: Sequence[core.Layer],
    x: ArrayLike,
    *,
    k: int | None = None,
    method: str = "qr",
    tol: float | None = None,
    max_sweeps: int = 30,
    key: jax.Array | None = None,
    qr_every: int | str = "auto",
) -> Spectrum:
    """Singular values of the input-output Jacobian ``∂a^L/∂x = J^L ⋯ J^1`` at ``x``.

    .. math::  \\frac{∂a^L}{∂x} = Σ'(z^L)W^L ⋯ Σ'(z^1)W^1,\\qquad
               \\log σ_j = \\sum_{l=1}^{L} \\log|R_l[j,j]| \\ \\text{(at the sweeps' fixed point)}.

    Args:
      net: tuple of :class:`~gradbounds.Layer`.
      x: input ``(n_0,)``.
      k: how many of the largest singular values (default: all, ``min_l n_l``).
      method: ``"qr"`` (sweeps of QR re-orthonormalisation, any depth) or ``"svd"``.
      tol: sweep convergence tolerance on the logs, relative to ``1 + |log σ|``
        (default ``4096 ε``: 9e-13 in float64, 5e-4 in float32).
      max_sweeps: cap on forward–backward sweeps.
      key: ``jax.random`` key for a random initial frame (default: identity columns).
      qr_every: re-orthonormalise after this many factors; ``"auto"`` (default)
        takes as many as keep every QR no worse conditioned than the worst
        single-factor QR of a short probe (largest column loss
        ``log(‖y_j‖/|R_jj|)``, at least ``log 8``), checked after each sweep
        (the block is halved and the sweep redone otherwise).  A block of
        factors has the triangular factor of the product of the single-step
        ones, so the values agree to rounding.

    Returns:
      :class:`Spectrum`; ``right`` lives in input space, ``left`` in output space.

    References:
      Pennington et al. 2017, eq. (2); Benettin et al. 1980; Golub & Van Loan 2013, §8.3.7.
    """
    net, ws, x = _prepare(net, x)
    runs, _ = _runs(core.segments(net), x, "J", 1, False)
    return _chain_spectrum(
        runs,
        ws[0],
        k=_check_k(k, min(ws)),
        method=method,
        tol=tol,
        max_sweeps=max_sweeps,
        key=key,
        dtype=x.dtype,
        qr_every=qr_every,
        unit_pre=True,  # the J chain's steps are diag(σ'(z^l)) W^l
    )


def product_spectrum(
    net: Sequence[core.Layer],
    x: ArrayLike,
    l: int = 1,
    *,
    output: bool = False,
    k: int | None = None,
    method: str = "qr",
    tol: float | None = None,
    max_sweeps: int = 30,
    key: jax.Array | None = None,
    qr_every: int | str = "auto",
) -> Spectrum:
    """Singular values of the backward product ``B^l B^{l+1} ⋯ B^{L-1}`` (times ``Σ'(z^L)`` with ``output``).

    .. math::  Π_l = B^l ⋯ B^{L-1} M_L,\\quad B^r = Σ'(z^r)(W^{r+1})^T,\\quad
               Π_l^T = M_L W^L Σ'(z^{L-1}) ⋯ W^{l+1} Σ'(z^l),

    computed on the chain ``Π_lᵀ`` (same singular values).  ``M_L = Σ'(z^L)``
    with ``output=True``, else the identity; ``l = L`` gives ``M_L`` itself.
    ``right`` are right singular vectors of ``Π_l`` (in δ^L-space: the
    directions of the output error that are expanded or shrunk on the way to
    layer l), ``left`` lie in δ^l-space.  ``‖δ^l‖ ≤ σ_1(Π_l)‖δ^L‖``: this is
    the level P of :mod:`gradbounds.bounds`.

    References:
      Nielsen ch. 2 (BP2); docs/design.md §2 (level P); Benettin et al. 1980.
    """
    net, ws, x = _prepare(net, x)
    L = len(net)
    if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 1 <= l <= L:
        raise ValueError(f"l: expected a layer index in 1..{L}, got {l!r}")
    segs = core.segments(net)
    runs, ds = _runs(segs, x, "B", int(l), bool(output))
    kmax = min(ws[l:])
    k = _check_k(k, kmax)
    if int(l) == L:  # no B factor: Π_L = M_L (diagonal)
        m = jnp.abs(ds[-1][-1]) if output else jnp.ones(ws[-1], x.dtype)
        order = jnp.argsort(-m)[:k]
        eye = jnp.eye(ws[-1], dtype=x.dtype)[:, order]
        with np.errstate(divide="ignore"):
            return Spectrum(jnp.log(m[order]), eye, eye, None, True, 0, "exact")
    sp = _chain_spectrum(
        runs, ws[l], k=k, method=method, tol=tol, max_sweeps=max_sweeps, key=key, dtype=x.dtype, qr_every=qr_every
    )
    return sp._replace(right=sp.left, left=sp.right)


class LyapunovResult(NamedTuple):
    """One QR pass: ``exponents`` ``(k,)`` (descending, per layer) and ``log_stretch`` ``(L, k)``."""

    exponents: jax.Array
    log_stretch: jax.Array


def lyapunov_exponents(
    net: Sequence[core.Layer], x: ArrayLike, *, k: int | None = None, key: jax.Array | None = None
) -> LyapunovResult:
    """Finite-depth Lyapunov exponents of ``∂a^L/∂x`` by one forward QR pass.

    .. math::  J^l Q_{l-1} = Q_l R_l,\\qquad λ_j = \\frac{1}{L}\\sum_{l=1}^{L} \\log|R_l[j,j]|.

    ``Σ_{j≤p} L λ_j`` is the log p-volume growth of ``span(Q_0[:, :p])``
    (a lower bound on ``Σ_{j≤p} log σ_j``); as ``L → ∞`` the ``λ_j`` converge
    to the Lyapunov exponents for almost every ``Q_0`` (Oseledets).  Use
    :func:`input_output_spectrum` for the exact finite-depth singular values.

    References:
      Benettin et al. 1980; Eckmann & Ruelle 1985, §III.B.
    """
    net, ws, x = _prepare(net, x)
    runs, _ = _runs(core.segments(net), x, "J", 1, False)
    k = _check_k(k, min(ws))
    with linalg.single_threaded_blas():
        _, fwd = jax.block_until_ready(_forward_pass(runs, _frame(ws[0], k, x.dtype, key)))
    exps = jnp.sum(fwd, 0) / len(net)
    order = jnp.argsort(-exps)
    return LyapunovResult(exps[order], fwd[:, order])
