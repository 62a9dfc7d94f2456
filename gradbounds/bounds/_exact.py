"""The levels in high-precision point arithmetic (mpmath): an independent check, not a proof.

The same levels as :mod:`gradbounds.bounds`, recomputed from the same input
numbers (each float converts to an ``mpmath.mpf`` exactly) in ``dps``
decimal digits:

.. math::

   E_l = \\|δ^l\\|,\\ P_l = \\|B^l⋯B^{L-1}M_L\\|\\,\\|g\\|,\\ J_l = ∏\\|B^r\\|\\,\\|M_L\\|\\,\\|g\\|,\\
   D_l,\\ G_l,\\ \\text{lower}_l = σ_{\\min}(B^l⋯B^{L-1}M_L)\\,\\|g\\|,

with singular values from ``mpmath.svd_r``.  Point values carry no error
bound, so they decide nothing: verdicts are proved in ball arithmetic by
:func:`gradbounds.bounds.decide`.  The tests use these values to check that
ball arithmetic, a different method with different code, contains them.
Cost: O(L n³) mpmath operations (the seed network takes seconds).

References:
  Johansson et al., mpmath (arbitrary-precision SVD, ``mpmath.svd_r``);
  docs/design.md §3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np
from jax.typing import ArrayLike

from gradbounds import core

__all__ = ["exact_levels"]


def _mp_matrix(a) -> Any:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    return mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in arr])


def _svals(A: Any) -> list:
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
    with core.MP_LOCK, mpmath.workdps(dps):
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
        elif c.name == "softmax-cross-entropy" and c.cancels(acts[-1].name):
            ex = [mpmath.exp(t) for t in a]
            sy = mpmath.fsum(yv)
            g, start = mpmath.matrix([ex[i] / mpmath.fsum(ex) * sy - yv[i] for i in range(n_L)]), "delta"
        elif c.cancels(acts[-1].name):
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
