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
past depth ~220).  Everything is computed on arrays of length L (the forward
recursion and the plain product as ``lax.scan``), so a chain of 10^6 layers
takes about a hundred bytes a layer and seconds, not a tuple of 10^6 layers.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5 (the chain, its
  vanishing and its exploding cases with ``w = 100``).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradbounds.core._activations import get_activation
from gradbounds.core._costs import get_cost
from gradbounds.core._networks import Layer

__all__ = ["ChainResult", "chain_weights", "chain_network", "chain_gradients", "chain_gradients_arrays"]


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


def chain_weights(
    key=None, depth: int = 5, *, exploding: bool = False, x: float = 1.0, activation="sigmoid", dtype=None
):
    """The weights ``w`` and biases ``b`` (NumPy arrays of length ``depth``) of :func:`chain_network`.

    .. math::

       z_j = w_j a_{j-1} + b_j,\\qquad
       \\text{exploding: } w_j = 100,\\ b_j = -100\\,σ(0)\\ (j ≥ 2)
       \\;\\Rightarrow\\; z_j = 0,\\ w_jσ'(z_j) = 100 · \\tfrac14 = 25.

    Arguments as :func:`chain_network`.

    References:
      Nielsen ch. 5, "The exploding gradient problem".
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth: expected an int >= 1, got {depth!r}")
    act = get_activation(activation)
    dtype = jnp.dtype(dtype) if dtype is not None else jnp.zeros(()).dtype
    if exploding:
        a0 = float(act.fn(jnp.zeros((), dtype)))
        w = np.full(depth, 100.0, dtype)
        b = np.concatenate([[-100.0 * x], np.full(depth - 1, -100.0 * a0)]).astype(dtype)
    else:
        if key is None:
            raise ValueError("key: the vanishing chain draws w_j, b_j ~ N(0, 1); pass a jax.random key")
        kw, kb = jax.random.split(key)
        w = np.asarray(jax.random.normal(kw, (depth,), dtype))
        b = np.asarray(jax.random.normal(kb, (depth,), dtype))
    return w, b


def chain_network(
    key=None, depth: int = 5, *, exploding: bool = False, x: float = 1.0, activation="sigmoid", dtype=None
):
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
    act = get_activation(activation)
    dtype = jnp.dtype(dtype) if dtype is not None else jnp.zeros(()).dtype
    w, b = chain_weights(key, depth, exploding=exploding, x=x, activation=act, dtype=dtype)
    return tuple(Layer(jnp.asarray([[wj]], dtype), jnp.asarray([bj], dtype), act.name) for wj, bj in zip(w, b))


@partial(jax.jit, static_argnames=("activation", "cost"))
def _chain_scan(w, b, p1, y, activation, cost):
    act = get_activation(activation)
    w_next = jnp.concatenate([w[1:], jnp.ones((1,), w.dtype)])

    def fstep(p, wb):
        # z_j = p + b_j with p = w_j a_{j-1} rounded in the previous step: the product and the sum are two
        # roundings, as in forward() (XLA's CPU backend fuses w·a + b in one step into a multiply-add, which
        # gives z_1 = 100x − fl(100x) ≠ 0 in the exploding chain, whose factors must be exactly 25)
        z = p + wb[1]
        a = act.fn(z)
        return wb[0] * a, (z, a)

    _, (z, a) = jax.lax.scan(fstep, p1, (w_next, b))
    a_L = a[-1]
    d = act.deriv(z)
    g = jax.grad(get_cost(cost).fn)(a_L[None], y[None])[0]  # ∂C/∂a_L by autodiff
    w_back = w.at[0].set(1)

    def bstep(acc, dw):  # the plain product as backprop forms it: δ_j = acc·σ'(z_j), acc ← δ_j·w_j
        delta = acc * dw[0]
        return delta * dw[1], delta

    _, grad = jax.lax.scan(bstep, g, (d, w_back), reverse=True)
    return z, d, g, grad


def chain_gradients_arrays(w, b, x=1.0, y=0.0, *, activation="sigmoid", cost="quadratic") -> ChainResult:
    """:func:`chain_gradients` for a chain given as arrays ``w``, ``b`` (length L, their dtype).

    .. math:: ∂C/∂b_j = σ'(z_j) ∏_{k=j+1}^{L} w_kσ'(z_k) · ∂C/∂a_L

    One ``lax.scan`` forwards and one backwards, logs and signs on arrays:
    memory and time linear in L with small constants.

    References:
      Nielsen ch. 5, "What's causing the vanishing gradient problem?".
    """
    w, b = np.asarray(w), np.asarray(b)
    if w.ndim != 1 or w.shape != b.shape or w.size == 0:
        raise ValueError(f"chain: expected w and b of the same shape (L,), L >= 1, got {w.shape} and {b.shape}")
    dtype = w.dtype
    act = get_activation(activation).name
    cost = get_cost(cost)
    p1 = np.asarray(w[0] * dtype.type(x), dtype)  # w_1 x, rounded once
    z, d, g, grad = _chain_scan(
        jnp.asarray(w), jnp.asarray(b, dtype), jnp.asarray(p1), jnp.asarray(y, dtype), act, cost
    )
    z, d, g, grad = np.asarray(z), np.asarray(d, np.float64), float(g), np.asarray(grad)
    wf = w.astype(np.float64)
    factors = wf[1:] * d[1:]  # w_j σ'(z_j), j = 2..L
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        tail_logs = np.concatenate([np.cumsum(np.log10(np.abs(factors))[::-1])[::-1], [0.0]])
        tail_sign = np.concatenate([np.cumprod(np.sign(factors)[::-1])[::-1], [1.0]])
        log_grad = np.log10(np.abs(d)) + tail_logs + np.log10(abs(g))
        sign = np.sign(d) * tail_sign * np.sign(g)
    return ChainResult(z.astype(np.float64), factors, grad, log_grad, sign, g)


def chain_gradients(net, x=1.0, y=0.0, *, cost="quadratic") -> ChainResult:
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
    acts = {layer.activation for layer in net}
    if len(acts) != 1:
        raise ValueError(f"chain: expected one activation for every layer, got {sorted(acts)}")
    w = np.array([np.asarray(layer.W)[0, 0] for layer in net])
    b = np.array([np.asarray(layer.b)[0] for layer in net])
    return chain_gradients_arrays(w, b, x, y, activation=acts.pop(), cost=cost)
