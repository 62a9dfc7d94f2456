"""Exact layer Jacobians, by ``jax.jacfwd``, ``jax.jacrev`` and in closed form.

Two Jacobians per layer (docs/design.md §1, Nielsen's convention ``W^l`` of shape
``(n_l, n_{l-1})``):

.. math::

   J^l = \\frac{∂a^l}{∂a^{l-1}} = Σ'(z^l)\\,W^l \\quad (n_l × n_{l-1}),
   \\qquad
   B^l = \\frac{∂δ^l}{∂δ^{l+1}} = Σ'(z^l)\\,(W^{l+1})^T \\quad (n_l × n_{l+1}).

``B^l`` is the matrix of Nielsen's BP2, :math:`δ^l = Σ'(z^l)(W^{l+1})^Tδ^{l+1}`.
By autodiff it is the transpose of :math:`∂z^{l+1}/∂z^l = W^{l+1}Σ'(z^l)`,
the Jacobian of the map :math:`z^l ↦ W^{l+1}σ_l(z^l) + b^{l+1}`.

The seed notes write :math:`z^{(j)} = A(w^{(j)T} z^{(j-1)})` with
:math:`w^{(j)}` of shape :math:`(n_{j-1}, n_j)`; that :math:`w^{(j)}` is our
:math:`(W^j)^T`.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 2 (BP2) and ch. 5.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
from jax.typing import ArrayLike

from gradbounds.core._networks import Layer, forward

__all__ = [
    "METHODS",
    "layer_jacobian",
    "error_jacobian",
    "layer_jacobians",
    "error_jacobians",
    "input_output_jacobian",
]

METHODS = ("closed", "jacfwd", "jacrev")


def _method(method: str):
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    return {"jacfwd": jax.jacfwd, "jacrev": jax.jacrev}.get(method)


def _check_layer(net, l: int, lo: int, hi: int, what: str) -> None:
    if not (lo <= l <= hi):
        raise ValueError(f"{what}: expected a layer index in {lo}..{hi}, got {l}")


def layer_jacobian(net: Sequence[Layer], x: ArrayLike, l: int, *, method: str = "closed") -> jax.Array:
    """``J^l = ∂a^l/∂a^{l-1} = Σ'(z^l) W^l`` at input ``x`` (l = 1..L).

    Args:
      net: tuple of :class:`~gradbounds.Layer`.
      x: input ``(n_0,)``.
      l: layer index, 1-based.
      method: ``"closed"``, ``"jacfwd"`` or ``"jacrev"``.

    Returns:
      Array of shape ``(n_l, n_{l-1})``.

    References:
      Nielsen ch. 2 (chain rule through ``a^l = σ(W^l a^{l-1} + b^l)``).
    """
    net = tuple(net)
    _check_layer(net, l, 1, len(net), "layer_jacobian")
    diff = _method(method)
    fw = forward(net[: l - 1], x) if l > 1 else None
    a_prev = fw.a[-1] if fw is not None else x
    layer = net[l - 1]
    if diff is None:
        z = layer.W @ a_prev + layer.b
        return layer.act.deriv(z)[:, None] * layer.W
    return diff(lambda a: layer.act.fn(layer.W @ a + layer.b))(a_prev)


def error_jacobian(net: Sequence[Layer], x: ArrayLike, l: int, *, method: str = "closed") -> jax.Array:
    """``B^l = ∂δ^l/∂δ^{l+1} = Σ'(z^l)(W^{l+1})^T`` at input ``x`` (l = 1..L-1).

    By autodiff, ``B^l = (∂z^{l+1}/∂z^l)^T``.

    Returns:
      Array of shape ``(n_l, n_{l+1})``.

    References:
      Nielsen ch. 2, BP2: ``δ^l = ((W^{l+1})^T δ^{l+1}) ⊙ σ'(z^l)``.
    """
    net = tuple(net)
    _check_layer(net, l, 1, len(net) - 1, "error_jacobian")
    diff = _method(method)
    z = forward(net[:l], x).z[-1]
    layer, nxt = net[l - 1], net[l]
    if diff is None:
        return layer.act.deriv(z)[:, None] * nxt.W.T
    return diff(lambda zl: nxt.W @ layer.act.fn(zl) + nxt.b)(z).T


def layer_jacobians(net: Sequence[Layer], x: ArrayLike, *, method: str = "closed") -> tuple[jax.Array, ...]:
    """All ``J^1..J^L`` from one forward pass (closed form) or by autodiff.

    .. math:: J^l = Σ'(z^l)W^l,\\qquad l = 1, …, L.

    References:
      Nielsen ch. 2 (chain rule through ``a^l = σ(W^l a^{l-1} + b^l)``).
    """
    net = tuple(net)
    if method != "closed":
        return tuple(layer_jacobian(net, x, l, method=method) for l in range(1, len(net) + 1))
    fw = forward(net, x)
    return tuple(layer.act.deriv(z)[:, None] * layer.W for layer, z in zip(net, fw.z))


def error_jacobians(net: Sequence[Layer], x: ArrayLike, *, method: str = "closed") -> tuple[jax.Array, ...]:
    """All ``B^1..B^{L-1}`` from one forward pass (closed form) or by autodiff.

    .. math:: B^l = Σ'(z^l)(W^{l+1})^T,\\qquad l = 1, …, L-1.

    References:
      Nielsen ch. 2, BP2.
    """
    net = tuple(net)
    if method != "closed":
        return tuple(error_jacobian(net, x, l, method=method) for l in range(1, len(net)))
    fw = forward(net, x)
    return tuple(net[l].act.deriv(fw.z[l])[:, None] * net[l + 1].W.T for l in range(len(net) - 1))


def input_output_jacobian(net: Sequence[Layer], x: ArrayLike, *, method: str = "closed") -> jax.Array:
    """``∂a^L/∂x = J^L J^{L-1} ⋯ J^1``, shape ``(n_L, n_0)``.

    References:
      Pennington, Schoenholz & Ganguli 2017, eq. (2) (their ``J = ∏ D^l W^l``).
    """
    net = tuple(net)
    diff = _method(method)
    if diff is not None:
        return diff(lambda a: forward(net, a).a[-1])(x)
    out = None
    for J in layer_jacobians(net, x):
        out = J if out is None else J @ out
    assert out is not None  # a network has at least one layer
    return out
