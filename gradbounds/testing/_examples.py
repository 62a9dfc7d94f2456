"""Strategies for inputs and targets of a drawn network (or a batch of networks).

Use them with ``st.data()`` or ``.flatmap``, since they depend on the network::

    @given(networks(widths=[4, 3, 2]), st.data())
    def test_claim(net, data):
        x = data.draw(inputs(net))
        y = data.draw(targets(net))

A failing example prints the network (:class:`~gradbounds.Layer`'s repr: activation, dtype,
shape and every value, exactly) and each ``Draw n:`` as its array.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from gradbounds.core import Layer
from gradbounds.testing._arrays import _bucket, _deviates, _int, _interval, _keys, _real
from gradbounds.testing._networks import seeds

__all__ = ["inputs", "targets"]


def _net_info(net):
    net = tuple(net)
    if not net or not all(isinstance(layer, Layer) for layer in net):
        raise InvalidArgument(f"net: expected a non-empty tuple of Layer, got {type(net).__name__}")
    W0, WL = net[0].W, net[-1].W
    return W0.shape[:-2], int(W0.shape[-1]), int(WL.shape[-2]), jnp.dtype(W0.dtype)


def _examples_shape(batch, examples):
    if examples is None:
        return tuple(batch)
    return tuple(batch) + (_int("examples", examples, 1),)


def _uniform_array(seed, shape, dtype):
    n = max(math.prod(shape), 1)
    data = np.asarray(_deviates(_keys(seed, None), _bucket(n), dtype, "uniform"))[0, : math.prod(shape)]
    return data.reshape(shape)


def inputs(
    net: Sequence[Layer], *, examples: int | None = None, min_value: float = -1.0, max_value: float = 1.0
) -> SearchStrategy[jax.Array]:
    """Inputs ``x`` for ``net``: uniform in ``[min_value, max_value]``.

    Shape ``(*batch, n_0)`` or ``(*batch, examples, n_0)``, where ``batch`` is
    the network's leading axes (``(size,)`` for :func:`network_batches`).
    """
    batch, n0, _, dt = _net_info(net)
    shape = _examples_shape(batch, examples) + (n0,)
    lo, hi = _real("min_value", min_value), _real("max_value", max_value)
    _interval("min_value", lo, "max_value", hi)

    @st.composite
    def draw_inputs(draw):  # a composite, not .map: a counterexample prints the array, not "f(seed)"
        s = draw(seeds())
        return jnp.asarray((lo + (hi - lo) * _uniform_array(s, shape, dt)).astype(dt))

    return draw_inputs()


def targets(net: Sequence[Layer], *, examples: int | None = None, kind: str = "uniform") -> SearchStrategy[jax.Array]:
    """Targets ``y`` for ``net`` in ``[0, 1]`` (valid for the quadratic and the cross-entropy cost).

    ``kind="uniform"``: entries uniform in ``[0, 1]``; ``"one-hot"``: one
    entry 1, the others 0 (a class label).  Shape as :func:`inputs`, with
    ``n_L`` last.
    """
    batch, _, nL, dt = _net_info(net)
    shape = _examples_shape(batch, examples) + (nL,)
    if kind not in ("uniform", "one-hot"):
        raise InvalidArgument(f"kind: expected 'uniform' or 'one-hot', got {kind!r}")

    @st.composite
    def draw_targets(draw):  # a composite, not .map: a counterexample prints the array, not "make(seed)"
        u = _uniform_array(draw(seeds()), shape, dt)
        if kind == "one-hot":
            u = (np.arange(nL) == np.floor(u[..., :1] * nL).clip(0, nL - 1)).astype(dt)
        return jnp.asarray(u.astype(dt))

    return draw_targets()
