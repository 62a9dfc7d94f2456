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

References:
  Johansson et al., mpmath (arbitrary-precision SVD, ``mpmath.svd_r``);
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

__all__ = ["exact_levels", "decide", "redecide"]


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
