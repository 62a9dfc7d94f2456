"""The errors δ^l: closed-form backpropagation, autodiff, and what underflows.

Backpropagation (Nielsen ch. 2, BP1–BP4):

.. math::

   δ^L = Σ'(z^L)\\,∇_{a^L}C, \\qquad
   δ^l = Σ'(z^l)\\,(W^{l+1})^T δ^{l+1}, \\qquad
   \\frac{∂C}{∂b^l} = δ^l, \\qquad
   \\frac{∂C}{∂W^l} = δ^l (a^{l-1})^T,

so :math:`δ^l = Σ'(z^l)(W^{l+1})^T ⋯ Σ'(z^L)∇_{a^L}C`, the product whose
norm the bound hierarchy (:mod:`gradbounds.bounds`) bounds.  ``∂C/∂W^l`` is
rank one, so :math:`\\|∂C/∂W^l\\| = \\|δ^l\\|\\,\\|a^{l-1}\\|` in the spectral
and in the Frobenius norm (the ``≤`` of the textbook argument is this equality).

:func:`gradbounds.bounds.log_error_norms` computes
:math:`\\log\\|δ^l\\|` by rescaled backpropagation, so depth 10,000 gives
finite logs where plain backprop underflows to 0; :func:`underflow_depth` reports how many layers plain backprop survives in a
given dtype: a vanishing gradient is not a zero gradient until floating point
makes it one.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 2 (BP1–BP4) and ch. 5.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from gradbounds.core._activations import get_activation
from gradbounds.core._costs import get_cost, output_error
from gradbounds.core._networks import Layer, forward
from gradbounds.core._programs import stored_program
from gradbounds.core._scan import Segment, backward_scan, forward_segments, segments

__all__ = ["errors", "errors_autodiff", "weight_gradients", "underflow_depth", "underflow_depths"]


def errors(
    net: Sequence[Layer],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
) -> tuple[jax.Array, ...]:
    """``δ^1, ..., δ^L`` by closed-form backpropagation (BP1, BP2).

    .. math:: δ^l = Σ'(z^l)(W^{l+1})^T ⋯ Σ'(z^L)∇_{a^L} C.

    ``δ^L`` comes from autodiff of the cost (see :func:`gradbounds.core.output_error`).

    References:
      Nielsen ch. 2, eqs. (BP1), (BP2).
    """
    net = tuple(net)
    fw = forward(net, x)
    d = output_error(cost, net[-1].act, fw.z[-1], fw.a[-1], y).delta
    out = [d]
    for l in range(len(net) - 2, -1, -1):
        d = net[l].act.deriv(fw.z[l]) * (net[l + 1].W.T @ d)
        out.append(d)
    return tuple(reversed(out))


def errors_autodiff(
    net: Sequence[Layer],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
) -> tuple[jax.Array, ...]:
    """``δ^l = ∂C/∂b^l`` by ``jax.grad`` with respect to the biases (BP3).

    .. math:: δ^l = \\frac{∂C}{∂b^l} \\quad\\text{(Nielsen BP3)}.

    References:
      Nielsen ch. 2, eq. (BP3)."""
    net = tuple(net)
    c = get_cost(cost)

    def loss(bs):
        layers = tuple(Layer(lay.W, b, lay.activation) for lay, b in zip(net, bs))
        fw = forward(layers, x)
        return c.value(fw.z[-1], fw.a[-1], y, net[-1].activation)

    return tuple(jax.grad(loss)(tuple(lay.b for lay in net)))


def weight_gradients(
    net: Sequence[Layer],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
) -> tuple[jax.Array, ...]:
    """``∂C/∂W^l = δ^l (a^{l-1})^T`` (BP4), one rank-one matrix per layer.

    .. math:: \\frac{∂C}{∂W^l} = δ^l (a^{l-1})^T,\\qquad
       \\Big\\|\\frac{∂C}{∂W^l}\\Big\\|_2 = \\Big\\|\\frac{∂C}{∂W^l}\\Big\\|_F = \\|δ^l\\|\\,\\|a^{l-1}\\|.

    References:
      Nielsen ch. 2, eq. (BP4)."""
    fw = forward(tuple(net), x)
    return tuple(jnp.outer(d, a) for d, a in zip(errors(net, x, y, cost=cost), fw.a[:-1]))


def underflow_depth(
    net: Sequence[Layer],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
    dtype: DTypeLike | None = None,
) -> int | None:
    """How many layers back from the output plain backprop keeps a non-zero δ.

    Runs BP1/BP2 with every array cast to ``dtype`` and returns the smallest
    ``k = L − l + 1`` at which ``δ^l`` is exactly zero in that dtype (so
    layers ``l' ≤ l`` get a zero gradient although the exact one is not), or
    ``None`` if no layer underflows.

    Where that happens depends on the platform as well as the dtype: XLA on
    the CPU flushes subnormal results to zero, so plain backprop loses the
    gradient once it falls below the smallest *normal* number (about
    ``2.2e-308`` in float64, ``1.2e-38`` in float32), not the smallest
    subnormal.

    .. math:: δ^L = Σ'(z^L)∇_{a^L}C,\\qquad δ^l = Σ'(z^l)(W^{l+1})^Tδ^{l+1}.

    References:
      Nielsen ch. 2 (BP1, BP2) and ch. 5 ("vanishing" is not "zero");
      IEEE 754-2019 §7.5 (underflow).
    """
    net = tuple(net)
    if dtype is not None:
        return underflow_depths(net, x, y, cost=cost, dtypes=(dtype,))[jnp.dtype(dtype).name]
    return _depth(len(net), _plain_is_zero(segments(net), x, y, get_cost(cost)))


def underflow_depths(
    net: Sequence[Layer],
    x: ArrayLike,
    y: ArrayLike,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
    dtypes: Sequence[DTypeLike] = ("float32", "float64"),
) -> dict[str, int | None]:
    """:func:`underflow_depth` in several dtypes at once, keyed by dtype name (one compiled program).

    Each dtype's plain backprop runs on the network and example cast to that
    dtype, exactly as ``underflow_depth(net, x, y, dtype=d)`` does; the casts
    and every backward pass share one ``jit``, which compiles once instead of
    once per dtype.

    .. math:: \\min\\{L - l + 1 : δ^l = 0 \\text{ in dtype } d\\}\\quad\\text{for each } d.

    References:
      Nielsen ch. 2 (BP1, BP2); IEEE 754-2019 §7.5 (underflow).
    """
    net = tuple(net)
    names = tuple(jnp.dtype(d).name for d in dtypes)
    zeros = _plain_is_zero_in(segments(net), x, y, get_cost(cost), names)
    return {name: _depth(len(net), z) for name, z in zip(names, zeros)}


def prepare_underflow_depths(
    net: Sequence[Any], x: Any, y: Any, *, cost: str = "quadratic", dtypes: Sequence[DTypeLike] = ("float32", "float64")
) -> bool:
    """Makes ready the program :func:`underflow_depths` runs for arguments of these shapes, which may be
    abstract (``jax.ShapeDtypeStruct``); only with a program store set (see ``stored_program``)."""
    names = tuple(jnp.dtype(d).name for d in dtypes)
    segs = jax.eval_shape(segments, tuple(net))
    return _plain_is_zero_in.prepare(segs, x, y, get_cost(cost), names)


def _depth(n_layers: int, is_zero) -> int | None:
    zero = np.flatnonzero(np.asarray(is_zero))
    if zero.size == 0:
        return None
    return n_layers - int(zero[-1])


@stored_program(static_argnames=("cost", "dtypes"))
def _plain_is_zero_in(segs, x, y, cost, dtypes):
    """:func:`_plain_is_zero` with everything cast to each of ``dtypes`` first, in one program."""
    out = []
    for dt in dtypes:
        cast = tuple(Segment(s.W.astype(dt), s.b.astype(dt), s.activation) for s in segs)
        out.append(_plain_is_zero(cast, jnp.asarray(x).astype(dt), jnp.asarray(y).astype(dt), cost))
    return tuple(out)


@partial(jax.jit, static_argnames=("cost",))
def _plain_is_zero(segs, x, y, cost):
    """Per layer: is δ^l exactly zero under plain (unscaled) backprop?"""
    zs, a = forward_segments(segs, x)
    d = output_error(cost, get_activation(segs[-1].activation), zs[-1][-1], a, y).delta

    def bstep(d_next, item):
        dz, Wn, _ = item
        d_new = dz * (Wn.T @ d_next)
        return d_new, jnp.all(d_new == 0)

    _, zero = backward_scan(bstep, d, segs, zs)
    last = jnp.all(d == 0)[None]
    return last if zero is None else jnp.concatenate([zero, last])
