"""The one layer scan: runs of identical layers, forward and backward, with ``lax.scan``.

A network is cut into *segments*: maximal runs of consecutive layers with the
same weight shape, dtype and activation.  A run longer than one layer has
square weights (``n_out = n_in``), so a recurrence whose carry has the layer's
width keeps its shape across the run and can be scanned.  Short runs are
unrolled: ``lax.scan`` only pays off (in compile time under ``jit``, and in
not re-tracing under eager execution) once a run is long.  Segments are built
outside ``jit`` (stacking 10,000 layers inside a trace is slow to compile), and
a batch of networks (leading axis N on every array) gives segments whose
arrays are ``(N, k, ...)``.

:func:`forward_segments` and :func:`backward_scan` are the only forward and
backward loops over layers in the toolkit: the bound hierarchy, plain
backpropagation's underflow check and the spectra all run through them.

.. math::

   z^l = W^l a^{l-1} + b^l,\\quad a^l = σ_l(z^l)\\quad (l = 1..L),
   \\qquad \\text{backward items } (σ_l'(z^l),\\ W^{l+1}),\\ l = L-1, …, 1.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 2 (the forward pass and
  BP2, whose factor ``Σ'(z^l)(W^{l+1})^T`` pairs layer ``l`` with ``W^{l+1}``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer
from jax.typing import ArrayLike

from gradbounds.core._activations import get_activation
from gradbounds.core._networks import Layer, register_weights

__all__ = ["SCAN_MIN", "Segment", "segments", "scan_or_loop", "forward_segments", "backward_scan"]

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


register_weights(Segment, "gradbounds.core.Segment")


_ALIGN = 64  # bytes: XLA on the CPU takes a host buffer aligned like this without copying it


def _on_host(a) -> bool:
    return isinstance(a, np.ndarray) or all(d.platform == "cpu" for d in a.devices())


def _stack(arrs, axis):
    """``jnp.stack(arrs, axis)`` with one copy and nothing compiled, for concrete arrays on the CPU.

    The layers are copied once, into a 64-byte aligned host buffer, which
    ``jax.device_put`` then takes without a second copy (at depth 1,000 and
    width 512 the weights are 2 GB).  A single JAX array (a run of one layer)
    is not copied at all: the new axis is a view of its buffer.  Under tracing,
    or on an accelerator, this is ``jnp.stack``.
    """
    if any(isinstance(a, Tracer) for a in arrs) or not all(_on_host(a) for a in arrs):
        return jnp.stack(arrs, axis=axis)
    views = [np.asarray(a) for a in arrs]  # no copy: the arrays' own host buffers
    v = views[0]
    if len(arrs) == 1 and isinstance(arrs[0], jax.Array) and v.flags.c_contiguous and v.ctypes.data % _ALIGN == 0:
        # one layer (the first layer of a sweep: 20,000 networks of 30 x 784 are 3.8 GB): a new axis of
        # length 1 is a view of the array's own immutable buffer, which device_put takes without a copy
        return jax.device_put(np.expand_dims(v, axis))
    shape = list(views[0].shape)
    shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, len(views))
    dtype = views[0].dtype
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    out = raw[start : start + nbytes].view(dtype).reshape(shape)
    np.stack(views, axis=axis, out=out)
    return jax.device_put(out)


def segments(net: Sequence[Layer], *, batched: bool = False) -> tuple[Segment, ...]:
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


def scan_or_loop(
    step: Callable[[Any, Any], tuple[Any, Any]], carry: Any, xs: Any, *, reverse: bool = False
) -> tuple[Any, Any]:
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


def forward_segments(segs: Sequence[Segment], x: ArrayLike) -> tuple[list[jax.Array], jax.Array]:
    """The forward pass over segments.

    .. math::  z^l = W^l a^{l-1} + b^l,\\qquad a^l = σ_l(z^l),\\qquad a^0 = x.

    Args:
      segs: segments from :func:`segments` (one network, no batch axis).
      x: input ``(n_0,)``.

    Returns:
      ``(zs, a_L)``: ``zs[s]`` stacks the ``z^l`` of segment ``s``, shape ``(k_s, n_s)``.
    """
    zs, a = [], x
    for seg in segs:
        act = get_activation(seg.activation)

        def fstep(a_prev, wb, act=act):
            z = wb[0] @ a_prev + wb[1]
            return act.fn(z), z

        a, z = scan_or_loop(fstep, a, (seg.W, seg.b))
        zs.append(z)
    return zs, cast(jax.Array, a)  # a^L: x for no layer, a jax.Array after the first


def backward_scan(
    step: Callable[[Any, Any], tuple[Any, Any]],
    carry: Any,
    segs: Sequence[Segment],
    zs: Sequence[jax.Array],
    extras: Sequence[Any] | None = None,
) -> tuple[Any, Any]:
    """Runs ``step(carry, (σ_l'(z^l), W^{l+1}, extra)) -> (carry, out)`` for ``l = L-1, …, 1``.

    The item of layer ``l`` pairs its derivative with the next layer's
    weights (BP2's factor ``Σ'(z^l)(W^{l+1})^T``); runs inside a segment are
    scanned, the pairs across segment boundaries unrolled.

    Args:
      step: the backward step.
      carry: its initial carry (the state at layer ``L``).
      segs: segments of one network.
      zs: pre-activations from :func:`forward_segments`.
      extras: optional per-segment pytrees aligned with the weights a step
        receives: ``extras[s]`` has a leading axis over ``W`` of segment ``s``
        (without ``W^1`` for the first segment, which no step uses); ``None``
        passes ``None`` as the extra.

    Returns:
      ``(carry, outs)`` with ``outs`` the step outputs stacked in layer order
      ``l = 1..L-1`` (``None`` for a one-layer network).
    """
    pieces = []
    for s in reversed(range(len(segs))):
        seg = segs[s]
        deriv = get_activation(seg.activation).deriv
        if s < len(segs) - 1:  # last layer of segment s, paired with the first W of segment s+1
            ex = None if extras is None else jax.tree_util.tree_map(lambda t: t[0], extras[s + 1])
            carry, o = step(carry, (deriv(zs[s][-1]), segs[s + 1].W[0], ex))
            pieces.append(jax.tree_util.tree_map(lambda t: t[None], o))
        if seg.length > 1:  # layers of segment s but its last, paired with W of the same segment
            ex = None
            if extras is not None:
                ex = extras[s] if s == 0 else jax.tree_util.tree_map(lambda t: t[1:], extras[s])
            carry, o = scan_or_loop(step, carry, (deriv(zs[s][:-1]), seg.W[1:], ex), reverse=True)
            pieces.append(o)
    if not pieces:
        return carry, None
    return carry, jax.tree_util.tree_map(lambda *p: jnp.concatenate(p), *reversed(pieces))
