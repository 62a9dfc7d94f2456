"""Costs C(a^L, y) and the output error δ^L = ∂C/∂z^L.

Named costs:

* ``quadratic``: :math:`C = \\tfrac12\\|a^L - y\\|^2`, so
  :math:`∇_{a^L} C = a^L - y` and :math:`δ^L = Σ'(z^L)(a^L - y)` (Nielsen
  ch. 2, BP1; the case of the textbook bound (**)).
* ``cross-entropy``: :math:`C = -\\sum_j [y_j \\ln a_j + (1-y_j)\\ln(1-a_j)]`
  (Nielsen ch. 3, eq. (63)).  With a sigmoid output layer σ' cancels and
  :math:`δ^L = a^L - y` (Nielsen ch. 3, eq. (66)); this module evaluates the
  cost from ``z^L`` in a numerically stable form so that autodiff gives that
  ``δ^L`` without dividing by ``a(1-a)``.

A user cost is any differentiable ``C(a, y) -> scalar``; then
``δ^L = Σ'(z^L) ∇_{a^L} C`` with ``∇_{a^L} C`` from ``jax.grad``.

``output_start`` tells the bound hierarchy where backpropagation starts:
``"grad_a"`` (δ^L = Σ'(z^L) g with g = ∇_{a^L}C, textbook exponent L−l+1)
or ``"delta"`` (σ' cancelled, g = δ^L, exponent L−l).  The code always takes
δ^L from autodiff, never from a formula that assumes one cost.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 2 (BP1) and ch. 3 (eqs. 63–66).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradbounds.core._activations import get_activation

__all__ = ["Cost", "get_cost", "check_cost_defined", "output_error", "COSTS"]


class Cost(NamedTuple):
    """A cost: ``fn(a, y)``; ``from_z(z, y, act)`` if it cancels against ``act``.

    ``outputs`` names the output activations where the cost is defined (their
    values lie in the cost's domain); ``None`` means any.
    """

    name: str
    fn: Callable
    cancels_with: tuple[str, ...] = ()
    from_z: Callable | None = None
    outputs: tuple[str, ...] | None = None


def _quadratic(a, y):
    d = a - y
    return 0.5 * jnp.sum(d * d)


def _cross_entropy(a, y):
    return -jnp.sum(y * jnp.log(a) + (1 - y) * jnp.log1p(-a))


def _cross_entropy_sigmoid_z(z, y):
    # ln σ(z) = -softplus(-z), ln(1-σ(z)) = -softplus(z); derivative σ(z) - y.
    return jnp.sum(y * jax.nn.softplus(-z) + (1 - y) * jax.nn.softplus(z))


COSTS = {
    "quadratic": Cost("quadratic", _quadratic),
    # ln a and ln(1 − a) need 0 < a < 1: the sigmoid is the registered activation with values in (0, 1)
    "cross-entropy": Cost("cross-entropy", _cross_entropy, ("sigmoid",), _cross_entropy_sigmoid_z, ("sigmoid",)),
}


def get_cost(cost) -> Cost:
    """A :class:`Cost` from a name (``quadratic``, ``cross-entropy``) or a callable ``C(a, y)``.

    .. math:: C_{\\rm quad} = \\tfrac12\\|a^L - y\\|^2,\\qquad
       C_{\\rm CE} = -\\textstyle\\sum_j \\big[y_j \\ln a^L_j + (1-y_j)\\ln(1-a^L_j)\\big].

    References:
      Nielsen ch. 1, eq. (6) (quadratic) and ch. 3, eq. (63) (cross-entropy)."""
    if isinstance(cost, Cost):
        return cost
    if callable(cost):
        return Cost(getattr(cost, "__name__", "user"), cost)
    if not isinstance(cost, str):
        raise TypeError(f"cost: expected a name or a callable C(a, y), got {type(cost).__name__}")
    key = cost.lower().replace("_", "-")
    key = {"ce": "cross-entropy", "crossentropy": "cross-entropy", "mse": "quadratic"}.get(key, key)
    try:
        return COSTS[key]
    except KeyError:
        raise ValueError(f"unknown cost {cost!r}; expected one of {', '.join(COSTS)} or a callable") from None


def check_cost_defined(cost, act) -> None:
    """Raises ``ValueError`` unless ``cost`` is defined for the output activation ``act``.

    Cross-entropy :math:`C = -\\sum_j [y_j \\ln a_j + (1-y_j)\\ln(1-a_j)]` needs
    :math:`0 < a_j < 1`, so its output activation must take values in (0, 1)
    (the sigmoid); a tanh output (``a = −0.76``) or a relu output (``a = 0``)
    leaves the domain.  Named costs without a restriction and user costs pass.

    References:
      Nielsen ch. 3, eq. (63).
    """
    c = get_cost(cost)
    act = get_activation(act)
    if c.outputs is not None and act.name not in c.outputs:
        raise ValueError(
            f"cost {c.name}: not defined for output activation {act.name}, whose values leave (0, 1) "
            f"(ln a and ln(1 - a) need 0 < a < 1); expected an output activation in {', '.join(c.outputs)} "
            "or the quadratic cost"
        )


class OutputError(NamedTuple):
    """``delta`` = δ^L; ``g`` the vector the hierarchy starts from; ``start``."""

    delta: jax.Array
    g: jax.Array
    start: str  # "grad_a" or "delta"


def output_error(cost, act, z_L, a_L, y) -> OutputError:
    """δ^L = ∂C/∂z^L (BP1: closed-form σ', autodiff ∇_a C), and the start of the bound hierarchy.

    .. math::  δ^L = Σ'(z^L)\\,∇_{a^L} C \\quad\\text{(Nielsen BP1)},

    or, where the cost cancels σ' (cross-entropy with a sigmoid output),
    ``g = δ^L`` and ``start = "delta"``.
    """
    c = get_cost(cost)
    act = get_activation(act)
    check_cost_defined(c, act)
    if act.name in c.cancels_with and c.from_z is not None:
        # δ^L = σ(z^L) − y in closed form (Nielsen eq. 66); autodiff of the softplus form agrees to a few ulps
        delta = act.fn(z_L) - y
        return OutputError(delta, delta, "delta")
    g = jax.grad(c.fn)(a_L, y)
    # BP1 with the closed-form σ' (not autodiff through σ, whose JAX rules lose σ' where it is
    # tiny: expm1's rule gives elu'(−40) = 0, logistic's s(1 − s) gives σ'(40) = 0)
    delta = act.deriv(z_L) * g
    return OutputError(delta, g, "grad_a")
