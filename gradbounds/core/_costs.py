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
* ``softmax-cross-entropy``: on logits, with a linear output layer
  (``a^L = z^L``): :math:`C = -\\sum_j y_j \\ln \\mathrm{softmax}(z^L)_j
  = (\\textstyle\\sum_j y_j)\\,\\mathrm{logsumexp}(z^L) - y^{\\mathsf T} z^L`,
  so :math:`δ^L = \\mathrm{softmax}(z^L)\\sum_j y_j - y` (``softmax(z) − y``
  for a distribution ``y``; Goodfellow, Bengio & Courville 2016, §6.2.2.3).
  The softmax is evaluated as ``exp(z − max z)/Σ exp(z − max z)``
  (:func:`softmax`), the form whose rounding error the enclosures bound.

A user cost is any differentiable ``C(a, y) -> scalar``; then
``δ^L = Σ'(z^L) ∇_{a^L} C`` with ``∇_{a^L} C`` from ``jax.grad``.

``output_start`` tells the bound hierarchy where backpropagation starts:
``"grad_a"`` (δ^L = Σ'(z^L) g with g = ∇_{a^L}C, textbook exponent L−l+1)
or ``"delta"`` (σ' cancelled, g = δ^L, exponent L−l).  The code always takes
δ^L from autodiff, never from a formula that assumes one cost.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 2 (BP1) and ch. 3 (eqs. 63–66);
  Goodfellow, Bengio & Courville 2016, *Deep Learning*, §6.2.2.3 (softmax units).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from gradbounds.core._activations import Activation, get_activation

__all__ = ["Cost", "get_cost", "check_cost_defined", "output_error", "softmax", "COSTS"]


class Cost(NamedTuple):
    """A cost: ``fn(a, y)``; ``from_z(z, y, act)`` if it cancels against ``act``.

    ``outputs`` names the output activations where the cost is defined (their
    values lie in the cost's domain); ``None`` means any.  ``delta_z(z, y)`` is
    ``δ^L`` in closed form where the cost cancels σ'; ``domain`` says in words
    what the cost needs of the output (for the error message).
    """

    name: str
    fn: Callable
    cancels_with: tuple[str, ...] = ()
    from_z: Callable | None = None
    outputs: tuple[str, ...] | None = None
    delta_z: Callable | None = None
    domain: str = ""

    def cancels(self, activation: str) -> bool:
        """Whether σ' of the output ``activation`` cancels against this cost (then ``δ^L = delta_z(z^L, y)``)."""
        return activation in self.cancels_with and self.from_z is not None

    def start(self, activation: str) -> str:
        """Where the hierarchy starts: ``"delta"`` where σ' cancels (``g = δ^L``), else ``"grad_a"``."""
        return "delta" if self.cancels(activation) else "grad_a"

    def value(self, z_L: jax.Array, a_L: jax.Array, y: ArrayLike, activation: str) -> jax.Array:
        """The cost of one example: from ``z^L`` where σ' cancels (stable), else ``fn(a^L, y)``."""
        if self.cancels(activation):
            assert self.from_z is not None
            return self.from_z(z_L, y)
        return self.fn(a_L, y)


def _quadratic(a, y):
    d = a - y
    return 0.5 * jnp.sum(d * d)


def _cross_entropy(a, y):
    return -jnp.sum(y * jnp.log(a) + (1 - y) * jnp.log1p(-a))


def _cross_entropy_sigmoid_z(z, y):
    # ln σ(z) = -softplus(-z), ln(1-σ(z)) = -softplus(z); derivative σ(z) - y.
    return jnp.sum(y * jax.nn.softplus(-z) + (1 - y) * jax.nn.softplus(z))


def _sigmoid_minus_y(z, y):
    return get_activation("sigmoid").fn(z) - y  # Nielsen eq. (66)


def softmax(z: jax.Array) -> jax.Array:
    """``exp(z − max z) / Σ_k exp(z_k − max z)`` over the last axis, in exactly these operations.

    .. math:: \\mathrm{softmax}(z)_j = \\frac{e^{z_j - m}}{\\sum_k e^{z_k - m}},\\quad m = \\max_k z_k.

    The rounding error of this form is what the enclosures bound
    (:mod:`gradbounds.bounds._enclosed`), so it is spelt out here rather than
    taken from ``jax.nn.softmax``, whose operations may change.

    References:
      Goodfellow, Bengio & Courville 2016, §6.2.2.3; Higham 2002, §2.2.
    """
    m = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
    e = jnp.exp(z - m)
    return e / jnp.sum(e, axis=-1, keepdims=True)


def _softmax_cross_entropy(z, y):
    # −Σ y_j ln softmax(z)_j = (Σ y) logsumexp(z) − yᵀz; its gradient is softmax(z) Σy − y
    return jnp.sum(y) * jax.nn.logsumexp(z) - jnp.sum(y * z)


def _softmax_delta(z, y):
    return softmax(z) * jnp.sum(y) - y


COSTS = {
    "quadratic": Cost("quadratic", _quadratic),
    # ln a and ln(1 − a) need 0 < a < 1: the sigmoid is the registered activation with values in (0, 1)
    "cross-entropy": Cost(
        "cross-entropy",
        _cross_entropy,
        ("sigmoid",),
        _cross_entropy_sigmoid_z,
        ("sigmoid",),
        _sigmoid_minus_y,
        "values in (0, 1): ln a and ln(1 - a) need 0 < a < 1",
    ),
    # on logits: the output layer must be linear (a^L = z^L), softmax is part of the cost
    "softmax-cross-entropy": Cost(
        "softmax-cross-entropy",
        _softmax_cross_entropy,
        ("linear",),
        _softmax_cross_entropy,
        ("linear",),
        _softmax_delta,
        "logits: the softmax is part of the cost, so a^L = z^L must be the logits",
    ),
}


def get_cost(cost: str | Cost | Callable[[jax.Array, jax.Array], jax.Array]) -> Cost:
    """A :class:`Cost` from a name (``quadratic``, ``cross-entropy``, ``softmax-cross-entropy``) or a callable ``C(a, y)``.

    .. math:: C_{\\rm quad} = \\tfrac12\\|a^L - y\\|^2,\\qquad
       C_{\\rm CE} = -\\textstyle\\sum_j \\big[y_j \\ln a^L_j + (1-y_j)\\ln(1-a^L_j)\\big],\\qquad
       C_{\\rm SCE} = -\\textstyle\\sum_j y_j \\ln \\mathrm{softmax}(a^L)_j.

    References:
      Nielsen ch. 1, eq. (6) (quadratic) and ch. 3, eq. (63) (cross-entropy);
      Goodfellow, Bengio & Courville 2016, §6.2.2.3 (softmax cross-entropy)."""
    if isinstance(cost, Cost):
        return cost
    if callable(cost):
        return Cost(getattr(cost, "__name__", "user"), cost)
    if not isinstance(cost, str):
        raise TypeError(f"cost: expected a name or a callable C(a, y), got {type(cost).__name__}")
    key = cost.lower().replace("_", "-")
    key = {
        "ce": "cross-entropy",
        "crossentropy": "cross-entropy",
        "mse": "quadratic",
        "softmax-ce": "softmax-cross-entropy",
        "softmax": "softmax-cross-entropy",
    }.get(key, key)
    try:
        return COSTS[key]
    except KeyError:
        raise ValueError(f"unknown cost {cost!r}; expected one of {', '.join(COSTS)} or a callable") from None


def check_cost_defined(cost, act) -> None:
    """Raises ``ValueError`` unless ``cost`` is defined for the output activation ``act``.

    Cross-entropy :math:`C = -\\sum_j [y_j \\ln a_j + (1-y_j)\\ln(1-a_j)]` needs
    :math:`0 < a_j < 1`, so its output activation must take values in (0, 1)
    (the sigmoid); a tanh output (``a = −0.76``) or a relu output (``a = 0``)
    leaves the domain.  Softmax cross-entropy works on logits, so its output
    layer is linear.  Named costs without a restriction and user costs pass.

    References:
      Nielsen ch. 3, eq. (63).
    """
    c = get_cost(cost)
    act = get_activation(act)
    if c.outputs is not None and act.name not in c.outputs:
        raise ValueError(
            f"cost {c.name}: not defined for output activation {act.name}; it needs {c.domain}: "
            f"expected the output activation {' or '.join(c.outputs)}, or the quadratic cost"
        )


class OutputError(NamedTuple):
    """``delta`` = δ^L; ``g`` the vector the hierarchy starts from; ``start``."""

    delta: jax.Array
    g: jax.Array
    start: str  # "grad_a" or "delta"


def output_error(
    cost: str | Cost | Callable[[jax.Array, jax.Array], jax.Array],
    act: Activation,
    z_L: jax.Array,
    a_L: jax.Array,
    y: ArrayLike,
) -> OutputError:
    """δ^L = ∂C/∂z^L (BP1: closed-form σ', autodiff ∇_a C), and the start of the bound hierarchy.

    .. math::  δ^L = Σ'(z^L)\\,∇_{a^L} C \\quad\\text{(Nielsen BP1)},

    or, where the cost cancels σ' (cross-entropy with a sigmoid output,
    softmax cross-entropy with a linear one), ``g = δ^L`` from the cost's
    closed form and ``start = "delta"``.
    """
    c = get_cost(cost)
    act = get_activation(act)
    check_cost_defined(c, act)
    if c.cancels(act.name):
        # δ^L in closed form (σ(z^L) − y: Nielsen eq. 66; softmax(z^L)Σy − y); autodiff agrees to a few ulps
        assert c.delta_z is not None
        delta = c.delta_z(z_L, jnp.asarray(y))
        return OutputError(delta, delta, "delta")
    g = jax.grad(c.fn)(a_L, y)
    # BP1 with the closed-form σ' (not autodiff through σ, whose JAX rules lose σ' where it is
    # tiny: expm1's rule gives elu'(−40) = 0, logistic's s(1 − s) gives σ'(40) = 0)
    delta = act.deriv(z_L) * g
    return OutputError(delta, g, "grad_a")
