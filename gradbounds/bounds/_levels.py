"""The bound hierarchy E ≤ P ≤ J ≤ D ≤ G, in log space, with verdicts.

For every layer ``l = 1..L`` (docs/design.md §2), with ``g`` the vector
backpropagation starts from and ``M_L`` the output factor (``Σ'(z^L)`` when
``g = ∇_{a^L}C``; the identity when σ' cancels against the cost and
``g = δ^L``, see :mod:`gradbounds.core`):

.. math::

   E_l &= \\|δ^l\\| \\\\
   P_l &= \\|B^l B^{l+1} ⋯ B^{L-1} M_L\\|\\,\\|g\\| \\\\
   J_l &= \\textstyle∏_{r=l}^{L-1}\\|B^r\\|\\,\\|M_L\\|\\,\\|g\\| \\\\
   D_l &= \\textstyle∏_{r=l}^{L-1}\\|Σ'(z^r)\\|\\,\\|M_L\\|\\,∏_{r=l+1}^{L}\\|W^r\\|\\,\\|g\\| \\\\
   G_l &= \\textstyle∏_{r=l}^{L-1}γ_r\\,γ_L^{[M_L=Σ']}\\,∏_{r=l+1}^{L}\\|W^r\\|\\,\\|g\\|

and ``E_l ≤ P_l ≤ J_l ≤ D_l ≤ G_l``.  With one activation and the quadratic
cost, ``G_l = γ^{L-l+1} ∏_{r>l}‖W^r‖ ‖a^L − y‖``, the textbook bound
(**), and ``D_l`` the data-split bound (*) before it (docs/design.md §2).  Below ``E``, the lower bound

.. math::  L_l = σ_{\\min}(B^l ⋯ B^{L-1} M_L)\\,\\|g\\| \\le E_l,

valid when ``n_l ≥ n_L`` (the product is tall, so ``‖Πg‖ ≥ σ_{n_L}(Π)‖g‖``);
for ``n_l < n_L`` it is the trivial bound 0.  It certifies an exploding
gradient as firmly as ``G`` certifies a vanishing one.

Numerics (docs/design.md §3).  All levels are natural logarithms, products are sums
of logs, ``E`` is computed by rescaled backpropagation (a unit vector is
propagated and the log of its scale kept) and ``P`` by rescaled products, so
depth 10,000 gives finite logs where plain backprop returns 0.  Each level
carries a first-order rounding-error bound (Higham 2002, *Accuracy and
Stability of Numerical Algorithms*, §3.5 for ``fl(Bv)``: error
``≤ (n+2)u ‖B‖_F ‖v‖``; Weyl's inequality with the backward stability of the
SVD for ``σ_max``: relative error ``≤ 2 max(m, n) u``; ``u·(#terms)·Σ|log|``
for sums of logs).  A comparison ``X ≤ Y`` *holds* when the computed gap
exceeds ``SAFETY·(err_X + err_Y)``, is *violated* when it is below minus that,
and is *inconclusive* in between (re-decide it with
:func:`gradbounds.bounds.decide`).  Comparisons that are identities by
construction (``P_L ≡ J_L ≡ D_L``; ``E_L ≡ P_L`` when ``g = δ^L``) hold.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5 ("What's causing the
  vanishing gradient problem?"), and the data-split bound (*) and the textbook bound (**);
  Higham 2002, §3.5; Pascanu, Mikolov & Bengio 2013, §2 (per-layer norms).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from gradbounds import core, linalg

__all__ = ["LEVELS", "COMPARISONS", "SLACK_PARTS", "VERDICTS", "SAFETY", "Levels", "levels", "levels_segments"]

LEVELS = ("E", "P", "J", "D", "G")
COMPARISONS = (("lower", "E"), ("E", "P"), ("P", "J"), ("J", "D"), ("D", "G"))
SLACK_PARTS = ("alignment", "submultiplicativity", "split", "activation")
VERDICTS = ("holds", "inconclusive", "violated")
SAFETY = 4.0


class Levels(NamedTuple):
    """Natural-log levels per layer and their rounding-error bounds; a pytree of arrays.

    Every field has shape ``(*batch, L)``: entry ``[..., l-1]`` belongs to
    layer ``l = 1..L``; ``batch`` is ``()`` for one example, ``(n,)`` for
    examples, ``(N, n)`` for a sweep of networks.

    Attributes:
      lower: ``log(σ_min(B^l⋯B^{L-1}M_L)‖g‖)`` minus its rounding margin, a certified
        lower bound on ``E`` (``-inf`` where ``n_l < n_L`` or the bound is trivial).
      E: ``log ‖δ^l‖`` by rescaled backpropagation.
      P: ``log(‖B^l⋯B^{L-1}M_L‖‖g‖)``.
      J: ``log(∏_{r=l}^{L-1}‖B^r‖ ‖M_L‖‖g‖)``.
      D: the data-split bound (*): ``log(∏_{r=l}^{L}max|σ_r'(z^r)| ∏_{r=l+1}^{L}‖W^r‖ ‖g‖)``.
      G: the textbook bound (**): ``log(∏ γ_r ∏_{r=l+1}^{L}‖W^r‖ ‖g‖)``.
      err_lower, err_E, err_P, err_J, err_D, err_G: bounds on the rounding error of
        each natural-log level (first order, docs/design.md §3).
      finite: boolean, ``z^l`` and ``σ'(z^l)`` finite at layer ``l``.
      tight_DG: boolean, ``max|σ_r'(z^r)| = γ_r`` for every ``r ≥ l`` (then D and G are the same sum).
    """

    lower: jax.Array
    E: jax.Array
    P: jax.Array
    J: jax.Array
    D: jax.Array
    G: jax.Array
    err_lower: jax.Array
    err_E: jax.Array
    err_P: jax.Array
    err_J: jax.Array
    err_D: jax.Array
    err_G: jax.Array
    finite: jax.Array  # z^l and σ'(z^l) finite, per layer
    tight_DG: jax.Array  # max|σ_r'(z^r)| == γ_r for every r >= l: D and G are the same sum


def _rcumsum(x):
    return jnp.flip(jnp.cumsum(jnp.flip(x, -1), -1), -1)


def _safe_log(x):
    return jnp.log(jnp.where(x > 0, x, 0.0))


def _weight_stats(segs, u: float):
    """Per segment: ``log ‖W^r‖``, its error bound and the column maxima ``max_j |W^r_{ji}|``.

    One network's weights, shared by all its examples.  Segment 0 leaves out
    ``W^1``, which no level uses.
    """
    out = []
    for i, seg in enumerate(segs):
        W = seg.W if i > 0 else seg.W[1:]
        if W.shape[0] == 0:
            out.append(None)
            continue
        lw, ew = jax.vmap(lambda w: linalg.log_norm(w, u))(W)
        out.append((lw, ew, jnp.max(jnp.abs(W), axis=-2)))
    return tuple(out)


def _step_factory(n_L: int, u: float):
    """One backward step at layer l: item (σ'(z^l), W^{l+1}, its stats); carry (v, Q̃).

    ``B^l = Σ'(z^l)(W^{l+1})^T`` is formed scaled by ``2^{-e}`` (exactly), with
    ``2^e ≈ max|B^l_{ij}| = max_i |σ'(z^l_i)| max_j |W^{l+1}_{ji}|``, so that
    the products below neither over- nor underflow; ``e log 2`` is added back
    to every log.
    """
    log2 = float(np.log(2.0))

    def step(carry, item):
        v, Q = carry
        d, Wn, (log_w, err_w, cmax) = item
        n_l, n_next = d.shape[-1], Wn.shape[0]
        s1, s2, e = linalg.pow2_scale(jnp.max(jnp.abs(d) * cmax))
        shift = e.astype(d.dtype) * log2
        B = (d * s1 * s2)[:, None] * Wn.T  # 2^{-e} B^l
        fB = jnp.sqrt(jnp.sum(B * B))
        # E: rescaled backprop, δ^l ∝ B^l v
        w = B @ v
        nw = jnp.linalg.norm(w)
        v_new = w / jnp.where(nw > 0, nw, 1)
        err_e = jnp.where(nw > 0, (n_next + 2) * u * fB / jnp.where(nw > 0, nw, 1), 0.0) + 2 * u
        # P: rescaled product Π_l = B^l Π_{l+1}; σ_min needs the SVD's absolute accuracy
        R = B @ Q
        sv = linalg.svdvals(R)  # one matrix a LAPACK call under vmap (see linalg.one_at_a_time)
        s = sv[0]
        smin = sv[-1] if n_l >= n_L else jnp.zeros((), R.dtype)
        Q_new = R / jnp.where(s > 0, s, 1)
        fQ = jnp.sqrt(jnp.sum(Q * Q))
        svd_r = 2 * max(n_l, n_L) * u
        err_p = jnp.where(s > 0, (n_next + 2) * u * fB * fQ / jnp.where(s > 0, s, 1), 0.0) + svd_r + 2 * u
        # J: ‖B^l‖ from the Gram matrix (see gradbounds._norms)
        log_b, err_b = linalg.log_norm_scaled(B, u)
        out = dict(
            inc_E=_safe_log(nw) + shift,
            inc_P=_safe_log(s) + shift,
            smin_rel=smin / jnp.where(s > 0, s, 1),
            log_B=log_b + shift,
            S=jnp.max(jnp.abs(d)),
            log_S=_safe_log(jnp.max(jnp.abs(d))),
            log_W=log_w,
            err_E=err_e,
            err_P=err_p,
            err_B=err_b,
            err_W=err_w,
            finite=jnp.all(jnp.isfinite(d)),
        )
        return (v_new, Q_new), out

    return step


def levels(
    net: Sequence[core.Layer],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
) -> Levels:
    """The five levels, the lower bound and their rounding-error bounds, for one example.

    Pure and traceable: ``jax.jit`` (with ``cost`` static) and ``jax.vmap``
    over networks and examples apply.  No input validation; use
    :func:`hierarchy` for checked inputs, verdicts and summaries.

    Args:
      net: tuple of :class:`~gradbounds.Layer`.
      x: input ``(n_0,)``.
      y: target ``(n_L,)``.
      cost: ``"quadratic"``, ``"cross-entropy"`` or a callable ``C(a, y)``.

    Returns:
      :class:`Levels` with arrays of shape ``(L,)`` (natural logs).

    References:
      docs/design.md §2; Nielsen ch. 2 (BP1, BP2) and ch. 5; the data-split bound (*) and the textbook bound (**).
    """
    return levels_segments(core.segments(tuple(net)), x, y, cost=cost)


def levels_segments(
    segs: Sequence[core.Segment],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
) -> Levels:
    """:func:`levels` on a network already cut by :func:`gradbounds._segments.segments`."""
    u = float(jnp.finfo(segs[0].W.dtype).eps) / 2
    return _levels_core(segs, _weight_stats(segs, u), x, y, cost=cost)


def _levels_core(segs, wstats, x, y, *, cost) -> Levels:
    """:func:`levels_segments` given :func:`_weight_stats`, which depend on the network only."""
    dtype = segs[0].W.dtype
    u = float(jnp.finfo(dtype).eps) / 2
    acts = [core.get_activation(seg.activation) for seg in segs]
    L = sum(seg.length for seg in segs)

    zs, a = core.forward_segments(segs, x)
    z_L = zs[-1][-1]
    act_L = acts[-1]
    out = core.output_error(cost, act_L, z_L, a, y)
    n_L = z_L.shape[0]

    # output layer
    m = act_L.deriv(z_L) if out.start == "grad_a" else jnp.ones_like(z_L)
    log_g = _safe_log(jnp.linalg.norm(out.g))
    log_M = _safe_log(jnp.max(jnp.abs(m)))
    nd = jnp.linalg.norm(out.delta)
    E_L = _safe_log(nd)
    v = out.delta / jnp.where(nd > 0, nd, 1)
    Q = jnp.diag(m) / jnp.where(log_M > -jnp.inf, jnp.exp(log_M), 1)
    gamma_L = act_L.gamma if out.start == "grad_a" else 1.0
    lower_L = (_safe_log(jnp.min(jnp.abs(m))) if out.start == "grad_a" else jnp.zeros((), dtype)) + log_g

    # backward pass over items (σ'(z^l), W^{l+1}, stats of W^{l+1}), l = L-1..1
    _, per = core.backward_scan(_step_factory(n_L, u), (v, Q), segs, zs, wstats)
    keys = ("inc_E", "inc_P", "smin_rel", "log_B", "S", "log_S", "log_W", "err_E", "err_P", "err_B", "err_W")
    if per is None:
        per = {k: jnp.zeros((0,), dtype) for k in keys}
        per["finite"] = jnp.zeros((0,), bool)

    def tail(x_, last):  # append the value of layer L
        return jnp.concatenate([x_, jnp.reshape(jnp.asarray(last, dtype), (1,))])

    gammas = [act.gamma for seg, act in zip(segs, acts) for _ in range(seg.length)][:-1]
    log_gamma = jnp.asarray(np.log(gammas), dtype).reshape(-1)
    logQ = _rcumsum(tail(per["inc_P"], log_M))
    E = _rcumsum(tail(per["inc_E"], E_L))
    P = logQ + log_g
    sumW = _rcumsum(tail(per["log_W"], 0.0))
    J = _rcumsum(tail(per["log_B"], log_M)) + log_g
    D = _rcumsum(tail(per["log_S"], log_M)) + sumW + log_g
    G = _rcumsum(tail(log_gamma, np.log(gamma_L))) + sumW + log_g

    # rounding-error bounds (natural-log units), see the module docstring
    n_terms = jnp.arange(L, 0, -1, dtype=dtype) + 2
    err0 = (n_L + 2) * u

    def logsum_err(*terms):
        mag = sum(_rcumsum(jnp.abs(jnp.where(jnp.isfinite(t), t, 0.0))) for t in terms)
        return u * n_terms * (mag + jnp.abs(jnp.where(jnp.isfinite(log_g), log_g, 0.0)))

    err_E = _rcumsum(tail(per["err_E"], err0)) + logsum_err(tail(per["inc_E"], E_L))
    err_P = _rcumsum(tail(per["err_P"], err0)) + logsum_err(tail(per["inc_P"], log_M))
    # certified lower bound: σ_min(Π_l)/‖Π_l‖ minus its rounding error, floored at 0
    ratio = per["smin_rel"] - SAFETY * err_P[:-1]
    lower = tail(logQ[:-1] + _safe_log(ratio) + log_g, lower_L)
    err_lower = tail(err_P[:-1], 2 * err0)
    err_W = _rcumsum(tail(per["err_W"], 0.0))
    err_J = _rcumsum(tail(per["err_B"], err0)) + logsum_err(tail(per["log_B"], log_M))
    err_D = err_W + err0 + logsum_err(tail(per["log_S"], log_M), tail(per["log_W"], 0.0))
    err_G = err_W + err0 + logsum_err(tail(log_gamma, np.log(gamma_L)), tail(per["log_W"], 0.0))

    zfin = jnp.concatenate([jnp.all(jnp.isfinite(zz), axis=-1) for zz in zs])
    last_ok = jnp.all(jnp.isfinite(m)) & jnp.all(jnp.isfinite(out.delta))
    finite = zfin & jnp.concatenate([per["finite"], last_ok[None]])
    # D and G are the same sum where every actual max σ' equals γ (relu, linear, ...): D ≡ G there
    sat = jnp.concatenate([per["S"] == jnp.asarray(gammas, dtype).reshape(-1), (jnp.max(jnp.abs(m)) == gamma_L)[None]])
    tight_DG = _rcumsum((~sat).astype(jnp.int32)) == 0
    return Levels(lower, E, P, J, D, G, err_lower, err_E, err_P, err_J, err_D, err_G, finite, tight_DG)
