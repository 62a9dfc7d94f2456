"""Verdicts: which comparisons of the hierarchy hold, are violated, or are inconclusive.

A comparison ``X ≤ Y`` of neighbouring levels *holds* when the computed gap
``log Y − log X`` exceeds ``SAFETY·(err_X + err_Y)``, is *violated* when it is
below minus that, and is *inconclusive* in between (see docs/design.md §3).
Comparisons whose two sides are equal in exact arithmetic for the given
widths (:func:`identities`) hold by construction.

.. math::  \\log Y - \\log X > \\mathrm{SAFETY}\\,(e_X + e_Y) \\;\\Rightarrow\\; X \\le Y.

References:
  Higham 2002, *Accuracy and Stability of Numerical Algorithms*, §3.5 (the
  rounding-error bounds behind ``err_X``).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from gradbounds.bounds._levels import COMPARISONS, Levels

__all__ = ["identities", "verdict_codes"]


def identities(widths: Sequence[int], start: str) -> np.ndarray:
    """Mask ``(L, 5)`` of comparisons whose two sides are equal in exact arithmetic.

    The computed sides agree only to rounding, so without this mask such a
    comparison would always be *inconclusive*.  With factors
    ``B^l, ..., B^{L-1}, M_L`` (shapes ``n_r × n_{r+1}``):

    * ``E ≡ P`` and ``lower ≡ E`` when ``n_L = 1`` (``Π_l`` is a column, so
      ``‖Π_l g‖ = ‖Π_l‖|g| = σ_min(Π_l)|g|``), or at ``l = L`` when ``M_L = I``;
    * ``P ≡ J`` when every inner dimension ``n_{l+1}, ..., n_L`` is 1 (a
      product of rank-one factors through scalars), at ``l = L`` (no factor
      but ``M_L``), and at ``l = L-1`` when ``M_L = I``;
    * ``J ≡ D`` when every ``n_r = 1`` for ``r = l..L-1`` (``Σ'(z^r)`` is a
      scalar), and at ``l = L``;
    * ``D ≡ G`` at ``l = L`` when ``M_L = I`` (both are ``‖g‖``).
    """
    ws = tuple(int(n) for n in widths)
    L = len(ws) - 1
    idx = {c: j for j, c in enumerate(COMPARISONS)}
    mask = np.zeros((L, len(COMPARISONS)), bool)
    delta = start == "delta"
    for l in range(1, L + 1):
        row = mask[l - 1]
        if ws[L] == 1 or (delta and l == L):
            row[idx["E", "P"]] = row[idx["lower", "E"]] = True
        if l == L or all(n == 1 for n in ws[l + 1 : L + 1]) or (delta and l == L - 1):
            row[idx["P", "J"]] = True
        if l == L or all(n == 1 for n in ws[l:L]):
            row[idx["J", "D"]] = True
        if delta and l == L:
            row[idx["D", "G"]] = True
    return mask


def verdict_codes(lv: Levels, *, start: str, widths: Sequence[int] | None = None) -> jax.Array | np.ndarray:
    """Verdict codes per layer and comparison, from the enclosures: 0 holds, 1 inconclusive, 2 violated.

    Shape ``(..., L, 5)`` in the order of :data:`COMPARISONS`.  ``X ≤ Y``
    *holds* when ``hi_X ≤ lo_Y`` (the exact values are then ordered), or, for
    (P, J), (J, D), (D, G), when the lower bound of ``log Y − log X`` with the
    common terms cancelled is ``≥ 0``; it is *violated* when ``lo_X > hi_Y`` or
    that gap's upper bound is ``< 0``; otherwise *inconclusive* (re-decide it
    with :func:`gradbounds.bounds.decide`).  Comparisons that are identities in
    exact arithmetic (:func:`identities`) hold, and so does ``D ≤ G`` where
    every computed ``max|σ_r'|`` equals ``γ_r`` (``D`` and ``G`` are then the
    same sum, and ``max|σ'| ≤ γ`` holds at every ``z``).  Without ``widths``
    only the identities that hold for every width are applied (as if every
    ``n_l > 1``).

    .. math:: \\mathrm{hi}_X ≤ \\mathrm{lo}_Y \\Rightarrow X ≤ Y,\\qquad
       \\mathrm{lo}_X > \\mathrm{hi}_Y \\Rightarrow X > Y.

    References:
      Higham 2002, §3.5 and Theorem 10.3 (the bounds behind the enclosures);
      Rump 2011, BIT 51 (verified norm bounds).
    """
    if widths is None:
        widths = (2,) * (lv.E.shape[-1] + 1)
    # NumPy levels (a Hierarchy's, already on the host) stay in NumPy: the same exact comparisons, without
    # the dozen small XLA programs that jnp would compile for them in a fresh process
    xp = np if isinstance(lv.E, np.ndarray) else jnp
    codes = []
    for lo, hi in COMPARISONS:
        holds = getattr(lv, "hi_" + lo) <= getattr(lv, "lo_" + hi)
        violated = getattr(lv, "lo_" + lo) > getattr(lv, "hi_" + hi)
        key = lo + hi
        if key in ("PJ", "JD", "DG"):
            holds = holds | (getattr(lv, "gap_lo_" + key) >= 0)
            violated = violated | (getattr(lv, "gap_hi_" + key) < 0)
        c = xp.where(holds, 0, xp.where(violated, 2, 1))
        if (lo, hi) == ("D", "G"):
            c = xp.where(lv.tight_DG, 0, c)
        codes.append(c)
    codes = xp.stack(codes, -1)
    return xp.where(identities(widths, start), 0, codes).astype(jax.dtypes.canonicalize_dtype(np.int64))
