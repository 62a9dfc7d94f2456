"""Gaussian expectations ``E_z[f(a + b z)]``, ``z ~ N(0, 1)``, vectorised, for mean-field theory.

Numpy/scipy in float64 whatever JAX's x64 flag says (theory is not traced).
Two quadrature rules, chosen per point:

* **Gauss–Hermite** (probabilists', :data:`N_GH` nodes) for activations that
  are analytic on the real line, when ``b² ≤`` :data:`Q_GH`.  Its error decays
  like ``exp(-c√N/b)`` (the nearest complex singularity of ``σ(a + bz)`` is at
  distance ``∝ 1/b``), so it is used only where a test against
  ``scipy.integrate.quad`` shows ≤ 1e-10 relative error (tests/test_theory.py).
* **Composite Gauss–Legendre** on ``[-Z, Z]`` otherwise: pieces of length ≤ 2
  (the scale of the Gaussian), cut at every kink of σ (relu, elu, selu,
  hard_tanh, ...), so each piece is analytic, and graded around the
  activation's features at ``u = k`` (kinks, 0, where ``σ'²`` peaks) on the
  scale ``1/b`` of σ's variation in ``z``.  ``Z = 10``: the Gaussian tail beyond
  it is below 1e-22.

Activations are the numpy twins held by each
:class:`~gradbounds.core.Activation` record (float64 regardless of JAX's
configuration); a user-registered activation without a twin falls back to its
JAX functions evaluated on float64 arrays.

References:
  Golub & Welsch 1969 (Gauss quadrature nodes); Trefethen 2008, "Is Gauss
  quadrature better than Clenshaw–Curtis?" (convergence for analytic
  integrands); Poole et al. 2016, eq. (3) (the Gaussian integrals ``∫Dz``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from gradbounds.core import Activation, get_activation

__all__ = ["NpActivation", "np_activation", "expect", "N_GH", "Q_GH", "Z_MAX"]

N_GH = 240  # Gauss–Hermite nodes
Q_GH = 2.0  # GH is used for analytic σ when b² ≤ Q_GH
Z_MAX = 10.0  # truncation of the composite rule
M_GL = 20  # Gauss–Legendre nodes per piece
_OFFSETS = np.array([0.0, 0.25, -0.25, 1.0, -1.0, 4.0, -4.0, 16.0, -16.0])
_FINE = np.concatenate([[s * 10.0**-j for j in range(1, 9)] for s in (1, -1)])
_BASE = np.linspace(-Z_MAX, Z_MAX, 11)


class NpActivation(NamedTuple):
    """A float64 numpy view of an :class:`~gradbounds.core.Activation` for the quadrature rules.

    ``fn``/``deriv`` are the record's numpy twins; ``kinks`` (where σ is not
    analytic), ``features`` (where σ varies or σ'² peaks) and ``sup_abs``
    (sup |σ|) come from the record too.
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    deriv: Callable[[np.ndarray], np.ndarray]
    kinks: tuple
    features: tuple
    sup_abs: float  # sup |σ| (inf when unbounded)


def np_activation(name: str | Activation) -> NpActivation:
    """The float64 numpy view of a registered activation (by name or :class:`~gradbounds.core.Activation`)."""
    act = get_activation(name)
    return NpActivation(act.name, act.numpy_fn, act.numpy_deriv, act.kinks, act.features, act.sup_abs)


@functools.cache
def _gh():
    from scipy import special

    z, w = special.roots_hermitenorm(N_GH)
    return z, w / math.sqrt(2 * math.pi)


@functools.cache
def _gl():
    return np.polynomial.legendre.leggauss(M_GL)


def _composite(a, b, points, fine):
    """Composite Gauss–Legendre nodes/weights in z for E[f(a + b z)], shapes ``a.shape + (N,)``."""
    bs = np.maximum(b, 1e-300)[..., None]
    offs = np.concatenate([_OFFSETS, _FINE]) if fine else _OFFSETS
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        centres = (np.asarray(points)[None, :] - a[..., None]) / bs  # (m, P)
        cuts = centres[..., :, None] + offs / bs[..., None]  # (m, P, O)
    cuts = cuts.reshape(a.shape + (-1,))
    cuts = np.where(np.isnan(cuts), 0.0, cuts)
    bp = np.concatenate([np.broadcast_to(_BASE, a.shape + (_BASE.size,)), np.clip(cuts, -Z_MAX, Z_MAX)], -1)
    bp = np.sort(bp, -1)
    lo, hi = bp[..., :-1, None], bp[..., 1:, None]
    x, w = _gl()
    half = 0.5 * (hi - lo)
    z = (lo + hi) * 0.5 + half * x
    wz = half * w * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return z.reshape(a.shape + (-1,)), wz.reshape(a.shape + (-1,))


def expect(
    fn: Callable[..., Any],
    act: NpActivation,
    a: float | np.ndarray,
    b: float | np.ndarray,
    *,
    params: tuple = (),
    fine: bool = False,
) -> Any:
    """``E_z[fn(a + b z, z, *params)]`` for ``z ~ N(0,1)``, elementwise over broadcast ``a``, ``b ≥ 0``.

    ``fn(u, z, *p)`` gets ``u = a + b z`` and ``z`` with a trailing node axis
    and each of ``params`` (arrays broadcast with ``a``) with a trailing axis
    of length 1; it returns one array or a tuple of arrays (then a tuple of
    expectations is returned).  ``fine`` grades the composite rule down to
    ``10⁻⁸/b`` around the activation's features, for peaked integrands such
    as ``λx/(1-λx)`` near ``x = 1/sup λ``.

    .. math::  E_z[f(a + bz)] = \\int_{-\\infty}^{\\infty} f(a + bz)\\,\\frac{e^{-z^2/2}}{\\sqrt{2π}}\\,dz.
    """
    arrs = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float), *[np.asarray(p, float) for p in params])
    shape = arrs[0].shape
    a, b, *ps = [x.reshape(-1) for x in arrs]
    outs, single = None, True
    use_gh = np.zeros(a.shape, bool) if (act.kinks or fine) else (b * b <= Q_GH)
    pts = tuple(act.kinks) or (0.0,)
    if fine:
        pts += tuple(p for p in act.features if p not in pts)
    idx_gh, idx_c = np.flatnonzero(use_gh), np.flatnonzero(~use_gh)
    batches = [(c, True) for c in np.array_split(idx_gh, idx_gh.size // 4096 + 1) if c.size]
    batches += [(c, False) for c in np.array_split(idx_c, idx_c.size // 2048 + 1) if c.size]
    for sel, gh in batches:
        if gh:
            z, w = _gh()
            z = np.broadcast_to(z, (sel.size, z.size))
        else:
            z, w = _composite(a[sel], b[sel], pts, fine)
        u = a[sel, None] + b[sel, None] * z
        vals = fn(u, z, *[p[sel, None] for p in ps])
        single = not isinstance(vals, tuple)
        vals = (vals,) if single else vals
        if outs is None:
            outs = [np.empty(a.shape) for _ in vals]
        for o, v in zip(outs, vals):
            v = np.broadcast_to(v, u.shape)
            o[sel] = v @ w if gh else np.einsum("ij,ij->i", v, w)
    if outs is None:  # empty input
        return np.empty(shape)
    res = tuple(o.reshape(shape) for o in outs)
    return res[0] if single else res
