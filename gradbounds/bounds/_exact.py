"""Re-deciding inconclusive verdicts in high precision (mpmath).

The float64 hierarchy (:mod:`gradbounds.bounds`) calls a comparison
*inconclusive* when its two sides lie within their rounding-error bounds.
Here the same levels are recomputed from the same input numbers (each float
converts to an ``mpmath.mpf`` exactly) in ``dps`` decimal digits:

.. math::

   E_l = \\|δ^l\\|,\\ P_l = \\|B^l⋯B^{L-1}M_L\\|\\,\\|g\\|,\\ J_l = ∏\\|B^r\\|\\,\\|M_L\\|\\,\\|g\\|,\\
   D_l,\\ G_l,\\ \\text{lower}_l = σ_{\\min}(B^l⋯B^{L-1}M_L)\\,\\|g\\|,

with singular values from ``mpmath.svd_r``.  A gap larger than
``10^{-(dps-10)}`` (relative) decides the comparison; identities by
construction hold (see :func:`gradbounds.bounds.identities`).  Costs: the
named ones (quadratic; cross-entropy, which cancels σ' with a sigmoid
output).  Cost: O(L n³) mpmath operations, so this is for small networks
(the seed network takes seconds).

Rigour.  ``D ≤ G`` is re-decided in interval arithmetic (``mpmath.iv``):
the forward pass, ``max|σ'_r(z^r)|`` and ``γ_r`` (the 60-digit supremum of
:func:`gradbounds.core.enclosures.gamma_mp` widened by ``10^{-55}``, never a
rounded float) are intervals, and ``G − D = Σ_r (\\log γ_r − \\log\\max|σ_r'|)``
(the common ``∏‖W‖‖g‖`` cancelled) decides when its interval excludes 0.  The
other comparisons use point mpmath values (``mpmath.svd_r`` has no interval
form): they may turn *inconclusive* into *holds* when the gap exceeds
``10^{-(dps-10)}``, but never into *violated*, because each of them is a
theorem in exact arithmetic and a point computation cannot prove its
failure; what they cannot decide stays inconclusive.  The limit: networks
small enough for O(L n³) mpmath operations (seconds for the seed network).

References:
  Johansson et al., mpmath (arbitrary-precision SVD, ``mpmath.svd_r``;
  interval arithmetic ``mpmath.iv``); Moore, Kearfott & Cloud 2009,
  *Introduction to Interval Analysis*, ch. 5 (interval extensions);
  docs/design.md §3 (inconclusive cases re-decided in higher precision).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np
from jax.typing import ArrayLike

from gradbounds import core
from gradbounds.bounds._levels import COMPARISONS
from gradbounds.bounds._result import Hierarchy
from gradbounds.bounds._verdicts import identities

__all__ = ["exact_levels", "decide", "decide_DG", "redecide"]


def _mp_matrix(a) -> mpmath.matrix:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    return mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in arr])


def _svals(A: mpmath.matrix) -> list:
    return sorted(mpmath.svd_r(A, compute_uv=False), reverse=True)


def _twins(act: core.Activation) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """σ and σ' of ``act`` on ``mpmath.mpf``; an activation without them cannot be re-decided."""
    if act.mp_fn is None or act.mp_deriv is None:
        raise ValueError(f"exact: activation {act.name!r}: expected mpmath twins (mp_fn, mp_deriv), got none")
    return act.mp_fn, act.mp_deriv


def exact_levels(
    net: Sequence[core.Layer], x: ArrayLike, y: ArrayLike, *, cost: str | Callable = "quadratic", dps: int = 50
) -> dict[str, Any]:
    """Natural logs of lower, E, P, J, D, G per layer, in ``dps`` digits.

    Returns:
      ``{"lower": [...], "E": [...], ..., "start": "grad_a" | "delta"}`` with
      ``mpmath.mpf`` entries (``-inf`` for an exact zero).

    .. math:: E_l = \\log\\|δ^l\\|,\\ P_l = \\log\\|Π_l\\|\\,\\|g\\|,\\ …,\\ G_l
       = \\log γ^{L-l+1}\\textstyle\\prod_{r>l}\\|W^r\\|\\,\\|g\\|,

    the levels of docs/design.md §2 (see :func:`gradbounds.bounds.levels`), in
    arbitrary precision.

    Raises:
      ValueError: a user (callable) cost, which has no mpmath form.

    References:
      docs/design.md §2; mpmath (Johansson et al.), ``mpmath.svd_r``.
    """
    c = core.get_cost(cost)
    if c.name not in core.COSTS:
        raise ValueError(f"exact: expected a named cost ({', '.join(core.COSTS)}), got a callable")
    net = tuple(net)
    acts = [core.get_activation(layer.activation) for layer in net]
    twins = [_twins(act) for act in acts]
    with mpmath.workdps(dps):
        a = _mp_matrix(x)
        zs = []
        for layer, (mp_fn, _) in zip(net, twins):
            z = _mp_matrix(layer.W) * a + _mp_matrix(layer.b)
            zs.append(z)
            a = mpmath.matrix([mp_fn(t) for t in z])
        yv = _mp_matrix(y)
        n_L = len(zs[-1])
        dL = [twins[-1][1](t) for t in zs[-1]]
        if c.name == "quadratic":
            g, start = a - yv, "grad_a"
        elif acts[-1].name in c.cancels_with:
            g, start = a - yv, "delta"
        else:  # cross-entropy through a non-sigmoid output: ∇_a C = (a - y) / (a (1 - a))
            g, start = mpmath.matrix([(a[i] - yv[i]) / (a[i] * (1 - a[i])) for i in range(n_L)]), "grad_a"
        m = dL if start == "grad_a" else [mpmath.mpf(1)] * n_L
        gamma_L = mpmath.mpf(acts[-1].gamma) if start == "grad_a" else mpmath.mpf(1)
        M = mpmath.diag(m)
        log = lambda v: mpmath.log(v) if v > 0 else mpmath.mpf("-inf")  # noqa: E731
        ng = mpmath.norm(g)
        delta = M * g
        L = len(net)
        out: dict[str, Any] = {k: [None] * L for k in ("lower", "E", "P", "J", "D", "G")}
        Pi = M
        sumB = log(max(abs(t) for t in m))
        sumS = sumB
        sumW = mpmath.mpf(0)
        sumGam = log(gamma_L)
        for l in range(L, 0, -1):  # 1-based layer index
            if l < L:
                d = [twins[l - 1][1](t) for t in zs[l - 1]]
                Wn = _mp_matrix(net[l].W)
                B = mpmath.diag(d) * Wn.T
                delta = B * delta
                Pi = B * Pi
                sumB += log(_svals(B)[0])
                sumS += log(max(abs(t) for t in d))
                sumW += log(_svals(Wn)[0])
                sumGam += log(mpmath.mpf(acts[l - 1].gamma))
            sv = _svals(Pi)
            out["E"][l - 1] = log(mpmath.norm(delta))
            out["P"][l - 1] = log(sv[0]) + log(ng)
            n_l = Pi.rows
            out["lower"][l - 1] = (log(sv[-1]) if n_l >= n_L else mpmath.mpf("-inf")) + log(ng)
            out["J"][l - 1] = sumB + log(ng)
            out["D"][l - 1] = sumS + sumW + log(ng)
            out["G"][l - 1] = sumGam + sumW + log(ng)
        out["start"] = start
    return out


def _codes(lv, dps: int) -> np.ndarray:
    L = len(lv["E"])
    tol = mpmath.mpf(10) ** (-(dps - 10))
    codes = np.ones((L, len(COMPARISONS)), dtype=np.int64)
    with mpmath.workdps(dps):
        for l in range(L):
            for j, (lo, hi) in enumerate(COMPARISONS):
                a, b = lv[lo][l], lv[hi][l]
                if a == mpmath.mpf("-inf"):
                    codes[l, j] = 0
                    continue
                gap = b - a
                codes[l, j] = 0 if gap > tol else (2 if gap < -tol else 1)
    return codes


_MONOTONE = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus", "erf", "hard_tanh", "linear")


def _iv_sigma(act, z):
    """σ over the interval ``z`` (``mpmath.iv.mpf``): end points for monotone σ, else the formula."""
    iv = mpmath.iv
    name = act.name

    def f(t):
        if name in ("sigmoid",):
            return 1 / (1 + iv.exp(-t))
        if name == "tanh":
            e = iv.exp(-2 * abs(t)) if t.a >= 0 or t.b <= 0 else None
            if e is None:
                return (1 - iv.exp(-2 * t)) / (1 + iv.exp(-2 * t))
            v = (1 - e) / (1 + e)
            return v if t.a >= 0 else -v
        if name == "relu":
            return iv.mpf([max(t.a, 0), max(t.b, 0)])
        if name == "leaky_relu":
            return t if t.a >= 0 else t * iv.mpf(core.LEAKY_SLOPE)
        if name == "elu":
            return t if t.a > 0 else iv.exp(t) - 1
        if name == "selu":
            lam, al = iv.mpf(core.SELU_LAMBDA), iv.mpf(core.SELU_ALPHA)
            return lam * t if t.a > 0 else lam * al * (iv.exp(t) - 1)
        if name == "softplus":
            return iv.log(1 + iv.exp(t))
        if name == "hard_tanh":
            return iv.mpf([min(max(t.a, -1), 1), min(max(t.b, -1), 1)])
        if name == "linear":
            return t
        if name == "silu":
            return t / (1 + iv.exp(-t))
        return None

    if name in _MONOTONE:
        lo, hi = f(iv.mpf(z.a)), f(iv.mpf(z.b))
        if lo is None or hi is None:
            return None
        return iv.mpf([lo.a, hi.b])
    return f(z)


def _iv_abs_deriv(act, z):
    """An interval containing ``|σ'(t)|`` for every ``t`` in ``z``, or None (no interval form here)."""
    iv = mpmath.iv
    name = act.name
    a, b = z.a, z.b
    mig = 0 if (a <= 0 <= b) else min(abs(a), abs(b))
    mag = max(abs(a), abs(b))

    def even_decreasing(fn):
        return iv.mpf([fn(iv.mpf(mag)).a, fn(iv.mpf(mig)).b])

    if name == "sigmoid":
        return even_decreasing(lambda t: iv.exp(-t) / (1 + iv.exp(-t)) ** 2)
    if name == "tanh":
        return even_decreasing(lambda t: 4 * iv.exp(-2 * t) / (1 + iv.exp(-2 * t)) ** 2)
    if name == "erf":
        return even_decreasing(lambda t: 2 / iv.sqrt(iv.pi) * iv.exp(-t * t))
    if name == "softplus":
        return iv.mpf([(1 / (1 + iv.exp(-iv.mpf(a)))).a, (1 / (1 + iv.exp(-iv.mpf(b)))).b])
    if name == "relu":
        return iv.mpf([1 if a > 0 else 0, 1 if b > 0 else 0])
    if name == "leaky_relu":
        s = iv.mpf(core.LEAKY_SLOPE)
        return iv.mpf([1 if a >= 0 else s.a, 1 if b >= 0 else s.b])
    if name == "hard_tanh":
        return iv.mpf([1 if (a >= -1 and b <= 1) else 0, 1 if (b >= -1 and a <= 1) else 0])
    if name == "linear":
        return iv.mpf(1)
    if name == "elu":
        return iv.mpf([iv.exp(iv.mpf(min(a, 0))).a, iv.exp(iv.mpf(min(b, 0))).b])
    if name == "selu":
        lam, la = iv.mpf(core.SELU_LAMBDA), iv.mpf(core.SELU_LAMBDA) * iv.mpf(core.SELU_ALPHA)
        lo = lam.a if a > 0 else min((la * iv.exp(iv.mpf(a))).a, lam.a if b > 0 else (la * iv.exp(iv.mpf(a))).a)
        hi = lam.b if a > 0 else (la * iv.exp(iv.mpf(min(b, 0)))).b
        return iv.mpf([lo, hi])
    if name == "silu":
        s = 1 / (1 + iv.exp(-z))
        v = s * (1 + z * (1 - s))
        return iv.mpf([0 if (v.a <= 0 <= v.b) else min(abs(v.a), abs(v.b)), max(abs(v.a), abs(v.b))])
    return None


def _iv_gamma(act):
    from gradbounds.core import enclosures

    if act.name in enclosures.KNOWN:
        g = enclosures.gamma_mp(act.name)
        eps = mpmath.mpf(10) ** -55
        return mpmath.iv.mpf([g - eps, g + eps])
    return mpmath.iv.mpf(act.gamma)  # a user activation: its stated γ, as given


def decide_DG(net, x, y, *, cost="quadratic", dps: int = 50) -> np.ndarray:
    """Codes ``(L,)`` for ``D ≤ G`` in interval arithmetic: 0 proved, 2 disproved, 1 undecided.

    .. math:: \\log G_l − \\log D_l = \\textstyle\\sum_{r ≥ l} (\\log γ_r − \\log\\max_i|σ_r'(z^r_i)|)
       \\ (+ \\log γ_L − \\log\\max|σ_L'| \\text{ when } M_L = Σ'),

    every term an ``mpmath.iv`` interval from an interval forward pass of the
    given floats and ``γ`` from its 60-digit value.

    References:
      Moore, Kearfott & Cloud 2009, ch. 5; mpmath ``iv``.
    """
    net = tuple(net)
    c = core.get_cost(cost)
    acts = [core.get_activation(layer.activation) for layer in net]
    L = len(net)
    start = "delta" if (acts[-1].name in c.cancels_with and c.from_z is not None) else "grad_a"
    iv = mpmath.iv
    codes = np.ones(L, dtype=np.int64)
    old_prec = iv.prec
    iv.dps = dps
    try:
        with mpmath.workdps(dps):
            a = [iv.mpf(float(v)) for v in np.asarray(x, np.float64).reshape(-1)]
            terms = []
            for layer, act in zip(net, acts):
                W, b = np.asarray(layer.W, np.float64), np.asarray(layer.b, np.float64)
                zs = []
                for i in range(W.shape[0]):
                    acc = iv.mpf(float(b[i]))
                    for j in range(W.shape[1]):
                        acc += iv.mpf(float(W[i, j])) * a[j]
                    zs.append(acc)
                d = [_iv_abs_deriv(act, t) for t in zs]
                if any(v is None for v in d):
                    return codes
                S = iv.mpf([max(v.a for v in d), max(v.b for v in d)])
                terms.append((act, S))
                a = [_iv_sigma(act, t) for t in zs]
                if any(v is None for v in a):
                    a = None
                    if len(terms) < L:
                        return codes
            gap = iv.mpf(0)
            gaps = [None] * L
            for l in range(L, 0, -1):
                act, S = terms[l - 1]
                if l < L or start == "grad_a":
                    if S.b <= 0:
                        gaps[l - 1] = None  # D = 0 exactly from here: D ≤ G
                        gap = None
                    elif gap is not None:
                        log_s_lo = iv.log(iv.mpf(S.a)).a if S.a > 0 else mpmath.mpf("-inf")
                        log_s = iv.mpf([log_s_lo, iv.log(iv.mpf(S.b)).b])
                        gap = gap + iv.log(_iv_gamma(act)) - log_s
                        gaps[l - 1] = gap
                else:
                    gaps[l - 1] = gap
            for l in range(L):
                g = gaps[l]
                if g is None:
                    codes[l] = 0
                elif g.a >= 0:
                    codes[l] = 0
                elif g.b < 0:
                    codes[l] = 2
    finally:
        iv.prec = old_prec
    return codes


def decide(
    net: Sequence[core.Layer], x: ArrayLike, y: ArrayLike, *, cost: str | Callable = "quadratic", dps: int = 50
) -> np.ndarray:
    """Verdict codes ``(L, 5)`` (0 holds, 1 inconclusive, 2 violated) from :func:`exact_levels`.

    ``X ≤ Y`` holds when ``log Y − log X > 10^{-(dps-10)}`` and is violated
    when it is below minus that.  A gap inside that tolerance is recomputed
    at ``2·dps`` digits: if it stays inside ``10^{-(2dps-10)}`` the two sides
    are equal to that many digits (as for relu networks whose ``σ'`` are
    exactly 0 and 1, where ``E = P`` or ``P = J`` hold with equality) and the
    comparison *holds*; a true violation of relative size above
    ``10^{-(2dps-10)}`` would have shown.  Identities hold
    (:func:`gradbounds.bounds.identities`).

    .. math:: \\log Y - \\log X > 10^{-(dps-10)} \\Rightarrow X \\le Y\\ \\text{holds}.

    References:
      docs/design.md §2 (the hierarchy) and §3 (verdicts).
    """
    lv = exact_levels(net, x, y, cost=cost, dps=dps)
    codes = _codes(lv, dps)
    if (codes == 1).any():
        codes2 = _codes(exact_levels(net, x, y, cost=cost, dps=2 * dps), 2 * dps)
        codes = np.where(codes == 1, np.where(codes2 == 1, 0, codes2), codes)
    # point values cannot prove a failure of a theorem: never 'violated' from them (see the module docstring)
    codes = np.where(codes == 2, 1, codes)
    # D ≤ G in interval arithmetic (γ from its 60-digit value, never a rounded float)
    j = COMPARISONS.index(("D", "G"))
    codes[:, j] = decide_DG(net, x, y, cost=cost, dps=dps)
    widths = (int(np.shape(net[0].W)[1]),) + tuple(int(np.shape(layer.W)[0]) for layer in net)
    return np.where(identities(widths, lv["start"]), 0, codes)


def redecide(
    h: Hierarchy,
    net: Sequence[core.Layer],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable = "quadratic",
    dps: int = 50,
) -> Hierarchy:
    """Replaces the inconclusive verdicts of a single-network :class:`~gradbounds.Hierarchy`.

    ``x``, ``y`` are those ``h`` was computed at (one example or a batch);
    only examples with an inconclusive comparison are recomputed.  Returns a
    new :class:`~gradbounds.Hierarchy` with updated ``codes``.
    """
    import dataclasses

    codes = np.array(h.codes)
    xs, ys = np.asarray(x), np.asarray(y)
    if codes.ndim == 2:
        if (codes == 1).any():
            codes = np.where(codes == 1, decide(net, xs, ys, cost=cost, dps=dps), codes)
    else:
        xs2, ys2 = xs.reshape(-1, xs.shape[-1]), ys.reshape(-1, ys.shape[-1])
        flat = codes.reshape(-1, *codes.shape[-2:])
        for i in range(flat.shape[0]):
            if (flat[i] == 1).any():
                flat[i] = np.where(flat[i] == 1, decide(net, xs2[i], ys2[i], cost=cost, dps=dps), flat[i])
        codes = flat.reshape(codes.shape)
    return dataclasses.replace(h, codes=codes)
