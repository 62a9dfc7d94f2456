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
depth 10,000 gives finite logs where plain backprop returns 0.  Each level has
a point value (the computed float, as before) with a first-order error
estimate ``err_X``, and a rigorous enclosure ``[lo_X, hi_X]`` of the exact
value for the given floats (forward-pass errors, σ' over intervals, every
product and norm: :mod:`gradbounds.bounds._enclosed`).  A comparison ``X ≤ Y``
*holds* when ``hi_X ≤ lo_Y`` (or a sharper bound on the gap with the common
terms cancelled is ``≥ 0``), is *violated* when ``lo_X > hi_Y``, and is
*inconclusive* otherwise (re-decide it with :func:`gradbounds.bounds.decide`).
Comparisons that are identities by construction (``P_L ≡ J_L ≡ D_L``;
``E_L ≡ P_L`` when ``g = δ^L``) hold.

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
from jax.typing import ArrayLike

from gradbounds import core
from gradbounds.bounds import _enclosed

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
      lo_lower, hi_lower, lo_E, hi_E, lo_P, hi_P, lo_J, hi_J, lo_D, hi_D, lo_G, hi_G:
        rigorous enclosures, ``lo_X ≤ log X_exact ≤ hi_X`` for the exact value of the level
        on the given floats (forward pass, σ', every product and norm included; see
        :mod:`gradbounds.bounds._enclosed`).  ``-inf`` only for a proved zero; ``+inf`` in
        ``hi`` only where no bound is available (a cost without an error bound for ``∇_a C``).
      gap_lo_PJ, gap_hi_PJ, gap_lo_JD, gap_hi_JD, gap_lo_DG, gap_hi_DG: bounds on
        ``log Y − log X`` for (X, Y) = (P, J), (J, D), (D, G) with the terms common to both
        sides (``‖g‖``, ``‖M_L‖``, ``∏‖W^r‖``) cancelled exactly; sharper than ``lo_Y − hi_X``.
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
    lo_lower: jax.Array
    hi_lower: jax.Array
    lo_E: jax.Array
    hi_E: jax.Array
    lo_P: jax.Array
    hi_P: jax.Array
    lo_J: jax.Array
    hi_J: jax.Array
    lo_D: jax.Array
    hi_D: jax.Array
    lo_G: jax.Array
    hi_G: jax.Array
    gap_lo_PJ: jax.Array
    gap_hi_PJ: jax.Array
    gap_lo_JD: jax.Array
    gap_hi_JD: jax.Array
    gap_lo_DG: jax.Array
    gap_hi_DG: jax.Array


jax.export.register_namedtuple_serialization(Levels, serialized_name="gradbounds.bounds.Levels")  # stored programs


def _weight_stats(segs, u: float | None = None):
    """Per segment, the statistics of every ``W^r`` the levels use (one network, shared by its examples).

    Segment 0 leaves out ``W^1``, which no level uses.  See
    :func:`gradbounds.bounds._enclosed.weight_stats` (``u`` is implied by the dtype).
    """
    return _enclosed.all_weight_stats(segs)


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
    out = _enclosed.levels_core(segs, wstats, x, y, cost=cost)
    return Levels(**{k: out[k] for k in Levels._fields})
