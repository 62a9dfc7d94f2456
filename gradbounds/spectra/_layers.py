"""Singular values and directions of each layer Jacobian ``J^l = Σ'(z^l)W^l`` and ``B^l = Σ'(z^l)(W^{l+1})^T``.

Each layer matrix expands the directions of its right singular vectors with
``σ > 1`` and shrinks those with ``σ < 1``.

.. math::  A = UΣV^T,\\quad \\|A v_j\\| = σ_j \\|v_j\\|.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 2 (BP2) and ch. 5;
  Golub & Van Loan 2013, §2.4 (SVD).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from gradbounds import core, linalg
from gradbounds.spectra._products import _prepare, _runs

__all__ = ["layer_singular_values", "error_singular_values", "Directions", "directions", "layer_directions"]


@partial(jax.jit, static_argnames=("kind",))
def _layer_svals(segs, x, kind):
    runs, _ = _runs(segs, x, kind, 1, False)
    out = []
    for run in runs:
        A = run.post[:, :, None] * run.W * run.pre[:, None, :]
        out.append(jax.vmap(linalg.svdvals)(A))  # one matrix a LAPACK call (see linalg.one_at_a_time)
    return out


def layer_singular_values(net: Sequence[core.Layer], x: ArrayLike) -> tuple[jax.Array, ...]:
    """Singular values (descending) of each ``J^l = Σ'(z^l) W^l``, l = 1..L.

    .. math::  J^l = \\frac{∂a^l}{∂a^{l-1}} = Σ'(z^l) W^l .

    References:
      Nielsen ch. 2; docs/design.md §1.
    """
    net, _, x = _prepare(net, x)
    with linalg.single_threaded_blas():
        out = jax.block_until_ready(_layer_svals(core.segments(net), x, "J"))
    return tuple(s for batch in out for s in batch)


def error_singular_values(net: Sequence[core.Layer], x: ArrayLike) -> tuple[jax.Array, ...]:
    """Singular values (descending) of each ``B^l = Σ'(z^l)(W^{l+1})^T``, l = 1..L-1.

    Computed as those of ``(B^l)ᵀ = W^{l+1} Σ'(z^l)``.

    .. math::  B^l = \\frac{∂δ^l}{∂δ^{l+1}} = Σ'(z^l)(W^{l+1})^T .

    References:
      Nielsen ch. 2 (BP2); docs/design.md §1.
    """
    net, _, x = _prepare(net, x)
    if len(net) < 2:
        return ()
    with linalg.single_threaded_blas():
        out = jax.block_until_ready(_layer_svals(core.segments(net), x, "B"))
    return tuple(s for batch in out for s in batch)


class Directions(NamedTuple):
    """Right singular vectors of a matrix split by whether they are expanded or shrunk.

    Attributes:
      singular_values: ``(r,)`` descending.
      right: ``(n_in, r)`` all right singular vectors.
      expanding: columns of ``right`` with ``σ > threshold``.
      shrinking: columns with ``σ < threshold``.
    """

    singular_values: jax.Array
    right: jax.Array
    expanding: jax.Array
    shrinking: jax.Array


def directions(A: ArrayLike, *, threshold: float = 1.0) -> Directions:
    """Directions a matrix expands (``σ > threshold``) and shrinks (``σ < threshold``).

    .. math::  A = UΣV^T,\\quad \\|A v_j\\| = σ_j \\|v_j\\|:\\ v_j \\text{ expanded iff } σ_j > 1.

    References:
      Golub & Van Loan 2013, §2.4 (SVD); expansion along singular values above one,
      shrinkage below (docs/design.md §2).
    """
    A = jnp.asarray(A)
    if A.ndim != 2:
        raise ValueError(f"A: expected a matrix, got shape {tuple(A.shape)}")
    _, s, Vt = jnp.linalg.svd(A, full_matrices=False)
    V = Vt.T
    s_np = np.asarray(s)
    return Directions(s, V, V[:, s_np > threshold], V[:, s_np < threshold])


def layer_directions(
    net: Sequence[core.Layer], x: ArrayLike, l: int, *, which: str = "J", threshold: float = 1.0
) -> Directions:
    """Expansion/shrinkage directions of ``J^l`` (``which="J"``) or ``B^l`` (``"B"``) at ``x``.

    References:
      docs/design.md §1 (``J^l``, ``B^l``); Golub & Van Loan 2013, §2.4.
    """
    net, _, x = _prepare(net, x)
    if which == "J":
        return directions(core.layer_jacobian(net, x, l), threshold=threshold)
    if which == "B":
        return directions(core.error_jacobian(net, x, l), threshold=threshold)
    raise ValueError(f"which: expected 'J' or 'B', got {which!r}")
