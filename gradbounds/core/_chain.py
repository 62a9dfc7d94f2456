"""The one-neuron-per-layer chain of Nielsen's chapter 5.

With one neuron per layer, ``z_j = w_j a_{j-1} + b_j`` and backpropagation is
a product of scalars (Nielsen ch. 5, "What's causing the vanishing gradient
problem?"):

.. math::

   \\frac{∂C}{∂b_1} = σ'(z_1)\\,w_2σ'(z_2)\\,w_3σ'(z_3) ⋯ w_Lσ'(z_L)\\,\\frac{∂C}{∂a_L},
   \\qquad
   \\frac{∂C}{∂b_j} = σ'(z_j) \\prod_{k>j} w_kσ'(z_k)\\,\\frac{∂C}{∂a_L}.

With sigmoid, :math:`|w_jσ'(z_j)| ≤ |w_j|/4`, so weights drawn from N(0,1)
make the product vanish.  The exploding case: every ``w_j = 100`` and biases
chosen so that every ``z_j = 0`` (``b_1 = −100x``, ``b_j = −100σ(0) = −50``),
so every factor is exactly ``100 · σ'(0) = 25`` and the gradient grows 25× a
layer.  Products are kept in log space (the exploding chain overflows float64
past depth ~220).

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5 (the chain, its
  vanishing and its exploding cases with ``w = 100``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from gradbounds.core._activations import Activation, get_activation
from gradbounds.core._costs import get_cost
from gradbounds.core._networks import Layer, forward

__all__ = ["ChainResult", "chain_network", "chain_gradients"]


class ChainResult(NamedTuple):
    """Factors ``w_j σ'(z_j)`` (j = 2..L) and gradients ``∂C/∂b_j`` (j = 1..L).

    ``grad_b`` is the plain product (may under/overflow); ``log10_abs_grad_b``
    and ``sign_grad_b`` are the same numbers kept in log space.
    """

    z: np.ndarray
    factors: np.ndarray
    grad_b: np.ndarray
    log10_abs_grad_b: np.ndarray
    sign_grad_b: np.ndarray
    dC_da: float


def chain_network(
    key: jax.Array | None = None,
    depth: int = 5,
    *,
    exploding: bool = False,
    x: float = 1.0,
    activation: str | Activation = "sigmoid",
    dtype: DTypeLike | None = None,
) -> tuple[Layer, ...]:
    """A chain of ``depth`` one-neuron layers, vanishing or exploding.

    .. math::

       z_j = w_j a_{j-1} + b_j,\\qquad
       \\text{exploding: } w_j = 100,\\ b_j = -100\\,σ(0)\\ (j ≥ 2)
       \\;\\Rightarrow\\; z_j = 0,\\ w_jσ'(z_j) = 100 · \\tfrac14 = 25.

    Args:
      key: ``jax.random`` key for the vanishing case (w_j, b_j ~ N(0, 1)).
      depth: number of layers L >= 1.
      exploding: every ``w_j = 100``, biases so that every ``z_j = 0``
        (sigmoid only: ``b_j = −100 σ(0)``).
      x: the input the exploding biases are tuned to.
      activation: activation name.
      dtype: float dtype (default: JAX's default float).

    References:
      Nielsen ch. 5, "The exploding gradient problem" (w = 100, biases that
      make every ``z_j = 0``, so every factor is ``100 · 1/4 = 25``).
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth: expected an int >= 1, got {depth!r}")
    act = get_activation(activation)
    dtype = jnp.dtype(dtype) if dtype is not None else jnp.zeros(()).dtype
    if exploding:
        a0 = float(act.fn(jnp.zeros((), dtype)))
        w = np.full(depth, 100.0)
        b = np.concatenate([[-100.0 * x], np.full(depth - 1, -100.0 * a0)])
    else:
        if key is None:
            raise ValueError("key: the vanishing chain draws w_j, b_j ~ N(0, 1); pass a jax.random key")
        kw, kb = jax.random.split(key)
        w = np.asarray(jax.random.normal(kw, (depth,), dtype))
        b = np.asarray(jax.random.normal(kb, (depth,), dtype))
    return tuple(Layer(jnp.asarray([[wj]], dtype), jnp.asarray([bj], dtype), act.name) for wj, bj in zip(w, b))


def chain_gradients(
    net: Sequence[Layer],
    x: ArrayLike = 1.0,
    y: ArrayLike = 0.0,
    *,
    cost: str | Callable[[jax.Array, jax.Array], jax.Array] = "quadratic",
) -> ChainResult:
    """The chain's factors and bias gradients by the closed-form product.

    .. math:: ∂C/∂b_j = σ'(z_j) ∏_{k=j+1}^{L} w_kσ'(z_k) · ∂C/∂a_L

    ``∂C/∂a_L`` comes from autodiff of the cost (any cost: the formula is the
    chain rule and assumes no cancellation).  Returns the plain product in the
    network's dtype and the same numbers in log space.

    References:
      Nielsen ch. 5, "What's causing the vanishing gradient problem?" (the
      expression for ``∂C/∂b_1`` of a four-neuron chain); docs/design.md §2.
    """
    net = tuple(net)
    for l, layer in enumerate(net, start=1):
        if layer.W.shape != (1, 1):
            raise ValueError(f"layer {l}: expected a one-neuron chain, W of shape (1, 1), got {tuple(layer.W.shape)}")
    dtype = net[0].W.dtype
    xv, yv = jnp.asarray([x], dtype), jnp.asarray([y], dtype)
    fw = forward(net, xv)
    z = np.array([float(zz[0]) for zz in fw.z])
    d = np.array([float(net[j].act.deriv(fw.z[j])[0]) for j in range(len(net))])
    w = np.array([float(layer.W[0, 0]) for layer in net])
    g = float(jax.grad(get_cost(cost).fn)(fw.a[-1], yv)[0])  # ∂C/∂a_L by autodiff
    factors = w[1:] * d[1:]  # w_j σ'(z_j), j = 2..L
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        tail_logs = np.concatenate([np.cumsum(np.log10(np.abs(factors))[::-1])[::-1], [0.0]])
        tail_sign = np.concatenate([np.cumprod(np.sign(factors)[::-1])[::-1], [1.0]])
        log_grad = np.log10(np.abs(d)) + tail_logs + np.log10(abs(g))
        sign = np.sign(d) * tail_sign * np.sign(g)
    # the plain product in the network's dtype, as backprop forms it (may under/overflow)
    t = np.dtype(dtype).type
    grad = np.empty(len(net), dtype=np.dtype(dtype))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        acc = t(g)
        for j in range(len(net) - 1, -1, -1):
            grad[j] = acc * t(d[j])
            acc = acc * t(d[j]) * (t(w[j]) if j > 0 else t(1))
    return ChainResult(z, factors, grad, log_grad, sign, g)
