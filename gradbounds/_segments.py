"""Runs of identical layers, so that recurrences over depth use ``lax.scan``.

A network is cut into *segments*: maximal runs of consecutive layers with the
same weight shape, dtype and activation.  A run longer than one layer has
square weights (``n_out = n_in``), so a recurrence whose carry has the layer's
width keeps its shape across the run and can be scanned.  Short runs are
unrolled: ``lax.scan`` only pays off (in compile time under ``jit``, and in
not re-tracing under eager execution) once a run is long.  Segments are built
outside ``jit`` (stacking 10,000 layers inside a trace is slow to compile), and
a batch of networks (leading axis N on every array) gives segments whose
arrays are ``(N, k, ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

SCAN_MIN = 8  # runs at least this long are scanned


@dataclass(frozen=True)
class Segment:
    """``k`` consecutive layers: ``W`` ``(..., k, n_out, n_in)``, ``b`` ``(..., k, n_out)``."""

    W: jax.Array
    b: jax.Array
    activation: str

    @property
    def length(self) -> int:
        return self.W.shape[-3]


jax.tree_util.register_dataclass(Segment, data_fields=["W", "b"], meta_fields=["activation"])


def _stack(arrs, axis):
    if any(isinstance(a, jax.core.Tracer) for a in arrs):
        return jnp.stack(arrs, axis=axis)
    if len(arrs) == 1:
        return jnp.expand_dims(arrs[0], axis)
    return jnp.asarray(np.stack([np.asarray(a) for a in arrs], axis=axis))


def segments(net, *, batched: bool = False) -> tuple[Segment, ...]:
    """Cuts ``net`` into runs of layers with equal (W shape, dtype, activation)."""
    runs: list[list] = []
    for layer in net:
        key = (layer.W.shape, layer.W.dtype, layer.activation)
        if runs and runs[-1][0] == key:
            runs[-1][1].append(layer)
        else:
            runs.append([key, [layer]])
    axis = 1 if batched else 0
    return tuple(
        Segment(_stack([lay.W for lay in run], axis), _stack([lay.b for lay in run], axis), key[2]) for key, run in runs
    )


def scan_or_loop(step, carry, xs, *, reverse: bool = False):
    """``lax.scan(step, carry, xs)`` for long runs; an unrolled loop for short ones.

    Both return ``(carry, ys)`` with ``ys`` stacked along axis 0.
    """
    k = jax.tree_util.tree_leaves(xs)[0].shape[0]
    if k >= SCAN_MIN:
        return jax.lax.scan(step, carry, xs, reverse=reverse)
    ys = [None] * k
    for i in reversed(range(k)) if reverse else range(k):
        carry, ys[i] = step(carry, jax.tree_util.tree_map(lambda a, i=i: a[i], xs))
    if k == 0:
        return carry, None
    return carry, jax.tree_util.tree_map(lambda *a: jnp.stack(a), *ys)
