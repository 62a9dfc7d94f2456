"""Order-invariant attribution of the slack ``log G − log E``: exact Shapley values over the four steps.

The four steps E → P → J → D → G each apply one inequality to the chain of
factors whose product is ``δ^l`` (docs/design.md §2.3, §2.4).  Write the chain
as ``Σ'_l W_{l+1}ᵀ Σ'_{l+1} ⋯ W_Lᵀ M_L g`` (``M_L = Σ'_L``, or absent when
σ' cancels against the cost).  Its joints come in three kinds, and the
activation step is a rescaling:

- **alignment** (a): break the joint between the last matrix and ``g``
  (``‖Xg‖ ≤ ‖X‖‖g‖``);
- **submultiplicativity** (m): break the joints between layers, ``W_rᵀ | Σ'_r``
  (``‖AB‖ ≤ ‖A‖‖B‖`` between the factors ``B^r = Σ'_r W_{r+1}ᵀ``);
- **split** (s): break the joints inside each layer, ``Σ'_r | W_{r+1}ᵀ``;
- **activation** (c): scale every ``Σ'_r`` by ``γ_r/‖Σ'_r‖`` (``max|σ'| ≤ γ``).

For a coalition ``S`` of these four, ``v(S)`` is the log of the bound with
exactly the steps in ``S`` applied: the sum of the log-norms of the segments
that the broken joints leave, plus ``Σ_r log(γ_r/‖Σ'_r‖)`` if ``c ∈ S``.
Every ``v(S)`` is an upper bound on ``log E`` and ``v`` is monotone, so
every Shapley share is non-negative; ``v(∅) = log E``, ``v({a}) = log P``,
``v({a,m}) = log J``, ``v({a,m,s}) = log D``, ``v(all) = log G``: the
sequential split is one of the 4! orders.

References:
  L. S. Shapley, "A value for n-person games", in *Contributions to the Theory
  of Games II*, Annals of Mathematics Studies 28, Princeton University Press,
  1953, pp. 307–317; docs/design.md §2.4.
"""

from __future__ import annotations

from functools import partial
from math import factorial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradbounds import core
from gradbounds.bounds._levels import SLACK_PARTS

__all__ = ["PLAYERS", "CHAIN", "shapley", "coalition_values"]

#: the players, in the bit order of a coalition index (bit k set: step ``PLAYERS[k]`` applied).
PLAYERS = SLACK_PARTS
#: the coalition indices of E, P, J, D, G (the sequential order is this chain).
CHAIN = (0b0000, 0b0001, 0b0011, 0b0111, 0b1111)


def shapley(values) -> np.ndarray:
    """Exact Shapley values of the game ``v`` given on every coalition.

    ``values[..., S]`` is ``v(S)``, where bit ``k`` of the integer ``S`` says
    that player ``k`` is in the coalition (``2^n`` entries on the last axis).
    Returns ``(..., n)``:

    .. math::

       φ_i = \\sum_{S ⊆ N \\setminus \\{i\\}} \\frac{|S|!\\,(n-|S|-1)!}{n!}\\,\\bigl(v(S ∪ \\{i\\}) - v(S)\\bigr),

    the marginal contribution of step ``i`` averaged over the ``n!`` orders of
    the steps.  Efficiency: ``Σ_i φ_i = v(N) − v(∅)``.

    References:
      L. S. Shapley, "A value for n-person games", *Contributions to the Theory of
      Games II*, Annals of Mathematics Studies 28, Princeton, 1953, pp. 307–317.
    """
    v = np.asarray(values, dtype=np.float64)
    n = int(round(np.log2(v.shape[-1])))
    if 2**n != v.shape[-1]:
        raise ValueError(f"values: expected 2^n entries on the last axis, got {v.shape[-1]}")
    phi = np.zeros(v.shape[:-1] + (n,))
    for i in range(n):
        for S in range(2**n):
            if S >> i & 1:
                continue
            k = bin(S).count("1")
            phi[..., i] += factorial(k) * factorial(n - k - 1) / factorial(n) * (v[..., S | 1 << i] - v[..., S])
    return phi


def _lognorms(mats):
    """``log‖A‖`` of each matrix, one batched SVD per distinct shape (not one per layer: deep nets compile fast)."""
    groups: dict = {}
    for i, m in enumerate(mats):
        groups.setdefault(m.shape, []).append(i)
    out: list[Any] = [None] * len(mats)
    for idx in groups.values():
        v = jnp.log(jnp.linalg.norm(jnp.stack([mats[i] for i in idx]), ord=2, axis=(-2, -1)))
        for j, i in enumerate(idx):
            out[i] = v[j]
    return jnp.stack(out)


def _lognorm_vec(v):
    return jnp.log(jnp.linalg.norm(v))


def _offchain(net, x, y, cost):
    """Natural-log ``v(S)`` of one example, ``(L, 16)``; ``v(∅)``, ``v({a})`` left NaN (they are E and P)."""
    L = len(net)
    fw = core.forward(net, x)
    out = core.output_error(cost, net[-1].act, fw.z[-1], fw.a[-1], y)
    g = out.g
    sd = [layer.act.deriv(z) for layer, z in zip(net, fw.z)]
    s = jnp.stack([jnp.log(jnp.max(jnp.abs(d))) for d in sd])  # log‖Σ'_r‖
    w = _lognorms([layer.W for layer in net])  # log‖W^r‖
    f = _lognorms([d[:, None] * layer.W for d, layer in zip(sd, net)])  # log‖Σ'_r W^r‖
    zero1 = jnp.zeros((1,), s.dtype)
    b = _lognorms([sd[r][:, None] * net[r + 1].W.T for r in range(L - 1)]) if L > 1 else zero1[:0]  # log‖B^r‖
    b = jnp.concatenate([b, zero1])  # b_L := 0 (no factor)
    lg = jnp.log(jnp.asarray([layer.act.gamma for layer in net], s.dtype))
    lgn = _lognorm_vec(g)
    rsum = lambda t: jnp.flip(jnp.cumsum(jnp.flip(t)))  # noqa: E731  rsum(t)[l-1] = Σ_{r ≥ l} t_r
    last = jnp.arange(1, L + 1) == L
    zero = jnp.zeros((), s.dtype)
    Bsum = rsum(b)  # Σ_{r=l}^{L-1} b_r
    Wsum = rsum(w) - w  # Σ_{r=l+1}^{L} w_r
    Fin = rsum(f) - f - f[-1]  # Σ_{r=l+1}^{L-1} f_r (0 at l = L after masking)
    if out.start == "grad_a":
        tm = _lognorm_vec(sd[-1] * g)  # ‖δ^L‖ = ‖Σ'_L g‖
        ts = _lognorm_vec(net[-1].W.T @ (sd[-1] * g)) if L > 1 else zero
        Ssum = rsum(s) - s[-1]  # Σ_{r=l}^{L-1} s_r
        C = rsum(lg - s)  # Σ_{r=l}^{L} log(γ_r/‖Σ'_r‖)
        vm = Bsum + tm
        vam = Bsum + s[-1] + lgn
        vs = jnp.where(last, tm, s + Fin + ts)
        vas = jnp.where(last, s[-1] + lgn, s + Fin + f[-1] + lgn)
        vms = Ssum + Wsum + tm
        vams = Ssum + s[-1] + Wsum + lgn
    else:  # "delta": g = δ^L, no output factor; layer L's values are all log‖g‖
        if L > 1:
            u = net[-1].W.T @ g
            tm = _lognorm_vec(sd[-2] * u)  # ‖δ^{L-1}‖ = ‖Σ'_{L-1} W_Lᵀ g‖
            ts = _lognorm_vec(u)
        else:
            tm = ts = lgn
        sm = jnp.where(last, zero, s)  # Σ'_L is not a factor
        Ssum = rsum(sm)
        C = rsum(jnp.where(last, zero, lg - s))
        vm = jnp.where(last, lgn, Bsum - b[L - 2] + tm) if L > 1 else jnp.full(L, lgn)
        vam = Bsum + lgn
        vs = jnp.where(last, lgn, s + Fin + ts)
        vas = jnp.where(last, lgn, s + Fin + w[-1] + lgn)
        vms = jnp.where(last, lgn, Ssum + Wsum - w[-1] + ts)
        vams = Ssum + Wsum + lgn
    nan = jnp.full(L, jnp.nan, s.dtype)
    base = [nan, nan, vm, vam, vs, vas, vms, vams]  # bit order: a = 1, m = 2, s = 4
    return jnp.stack(base + [t + C for t in base], axis=-1)


@partial(jax.jit, static_argnames=("cost",))
def _offchain_examples(net, x, y, cost):
    return jax.vmap(lambda xx, yy: _offchain(net, xx, yy, cost))(x, y)


@partial(jax.jit, static_argnames=("cost",))
def _offchain_sweep(nets, x, y, cost):
    return jax.vmap(lambda n, xx, yy: jax.vmap(lambda a, b: _offchain(n, a, b, cost))(xx, yy))(nets, x, y)


def coalition_values(net, x, y, E, P, *, cost: Any = "quadratic", stacked: bool = False) -> np.ndarray:
    """Natural-log ``v(S)`` of the 16 coalitions of the four steps, shape ``(*batch, L, 16)``.

    ``x``, ``y`` are ``(n_0,)``/``(n_L,)`` or ``(n, n_0)``/``(n, n_L)`` (with
    ``stacked=True``: a stack of networks with leading axis N and ``(N, n, n_0)``,
    ``(N, n, n_L)``); ``E`` and ``P`` the natural-log levels of the same
    examples (``v(∅)`` and ``v({a})`` are the full products, which the
    hierarchy computes by rescaled products).  Bit ``k`` of the last index is
    step :data:`PLAYERS` ``[k]``; see the module docstring for the value of a
    coalition.  Point values in the network's dtype (no enclosures): an
    attribution, not a verdict.

    .. math::  v(S) = \\sum_{\\text{segments } Q \\text{ left by } S} \\log\\|Q\\|
               + [c ∈ S] \\sum_r \\log\\frac{γ_r}{\\|Σ'(z^r)\\|}.
    """
    c = core.get_cost(cost)
    net = tuple(net)
    if stacked:
        v = np.array(_offchain_sweep(net, jnp.asarray(x), jnp.asarray(y), c), dtype=np.float64)
    else:
        xb, yb = jnp.atleast_2d(jnp.asarray(x)), jnp.atleast_2d(jnp.asarray(y))
        v = np.array(_offchain_examples(net, xb, yb, c), dtype=np.float64)
        v = v.reshape(np.shape(x)[:-1] + v.shape[-2:])
    E, P = np.asarray(E, np.float64), np.asarray(P, np.float64)
    act = v[..., 15] - v[..., 7]  # c adds the same Σ log(γ/‖Σ'‖) to every coalition
    v[..., 0], v[..., 1], v[..., 8], v[..., 9] = E, P, E + act, P + act
    return v
