"""Activation functions σ, their derivatives σ' and the bound γ = sup_t |σ'(t)|.

Every activation is an :class:`Activation` record holding ``fn`` (σ), ``deriv``
(σ' in closed form), ``gamma`` (γ in closed form) and mpmath twins of σ and σ'
used when a verdict is re-decided in high precision.  The registry maps names
to records; :func:`get` looks one up and :func:`register` adds a user's own.

Convention at kinks.  Where σ is not differentiable (relu and leaky_relu at 0,
elu and selu at 0, hard_tanh at ±1) ``deriv`` returns exactly what
``jax.grad`` of ``fn`` returns there, so closed forms and autodiff agree
everywhere: relu'(0) = 0, leaky_relu'(0) = 1, elu'(0) = α, selu'(0) = λα,
hard_tanh'(±1) = 1.  With this convention γ is attained: γ = max_t |σ'(t)|.

γ values (closed forms; each is checked against a dense numeric maximisation
in ``tests/test_activations.py``):

.. math::

   γ_{\\rm sigmoid} = 1/4,\\quad γ_{\\tanh} = 1,\\quad γ_{\\rm selu} = λα,\\quad
   γ_{\\rm gelu} = Φ(\\sqrt2) + \\sqrt2\\,φ(\\sqrt2),\\quad
   γ_{\\rm erf} = 2/\\sqrt{π},\\quad γ_{\\rm silu} = σ'(t^*),\\ t^*\\tanh(t^*/2) = 2.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5 (γ = 1/4 for sigmoid);
  Klambauer et al. 2017, "Self-Normalizing Neural Networks" (selu's λ, α);
  Hendrycks & Gimpel 2016, "Gaussian Error Linear Units" (gelu).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import mpmath

__all__ = ["Activation", "get", "register", "names", "SELU_ALPHA", "SELU_LAMBDA"]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """An elementwise activation with its derivative and derivative bound.

    Attributes:
      name: registry name.
      fn: σ, elementwise on JAX arrays (keeps the input's dtype).
      deriv: σ' in closed form, equal to ``jax.grad(fn)`` everywhere.
      gamma: γ = sup_t |σ'(t)| as a Python float.
      mp_fn: σ on an ``mpmath.mpf`` (for high-precision re-decisions).
      mp_deriv: σ' on an ``mpmath.mpf``.
    """

    name: str
    fn: Callable[[jax.Array], jax.Array]
    deriv: Callable[[jax.Array], jax.Array]
    gamma: float
    mp_fn: Callable[[Any], Any] | None = None
    mp_deriv: Callable[[Any], Any] | None = None

    def __call__(self, z):
        return self.fn(z)


_REGISTRY: dict[str, Activation] = {}


def register(act: Activation, *, overwrite: bool = False) -> Activation:
    """Adds ``act`` to the registry under ``act.name`` and returns it."""
    if not isinstance(act, Activation):
        raise TypeError(f"expected an Activation, got {type(act).__name__}")
    if not (math.isfinite(act.gamma) and act.gamma >= 0):
        raise ValueError(f"activation {act.name!r}: gamma must be finite and >= 0, got {act.gamma}")
    if act.name in _REGISTRY and not overwrite:
        raise ValueError(f"activation {act.name!r} is already registered (pass overwrite=True)")
    _REGISTRY[act.name] = act
    return act


def names() -> tuple[str, ...]:
    """Names of all registered activations, in registration order."""
    return tuple(_REGISTRY)


def get(name: str | Activation) -> Activation:
    """Looks up an activation by name (an :class:`Activation` passes through)."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation: expected a name (str), got {type(name).__name__}")
    key = name.lower().replace("-", "_")
    key = {"swish": "silu", "identity": "linear", "logistic": "sigmoid"}.get(key, key)
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(_REGISTRY)}") from None


# ---------------------------------------------------------------- closed forms
def _sigmoid(z):
    return jax.nn.sigmoid(z)


def _sigmoid_d(z):
    # σ(z)σ(−z), not s(1 − s): 1 − s cancels to 0 for z > 37 (float64), where σ' ≈ e^{−z} is representable
    return jax.nn.sigmoid(z) * jax.nn.sigmoid(-z)


def _tanh_d(z):
    # sech² z = 4e/(1 + e)², e = exp(−2|z|): 1 − tanh² z cancels for |z| > ~18 (float64)
    e = jnp.exp(-2 * jnp.abs(z))
    return 4 * e / ((1 + e) * (1 + e))


def _relu(z):
    return jax.nn.relu(z)


def _relu_d(z):
    return jnp.where(z > 0, 1, 0).astype(z.dtype)


def _leaky(z):
    return jnp.where(z >= 0, z, LEAKY_SLOPE * z)


def _leaky_d(z):
    return jnp.where(z >= 0, 1.0, LEAKY_SLOPE).astype(z.dtype)


def _elu(z):
    return jnp.where(z > 0, z, jnp.expm1(jnp.where(z > 0, 0, z)))


def _elu_d(z):
    return jnp.where(z > 0, 1, jnp.exp(jnp.where(z > 0, 0, z))).astype(z.dtype)


def _selu(z):
    return SELU_LAMBDA * jnp.where(z > 0, z, SELU_ALPHA * jnp.expm1(jnp.where(z > 0, 0, z)))


def _selu_d(z):
    neg = SELU_ALPHA * jnp.exp(jnp.where(z > 0, 0, z))
    return (SELU_LAMBDA * jnp.where(z > 0, 1, neg)).astype(z.dtype)


def _softplus(z):
    return jnp.logaddexp(z, 0)


def _gelu(z):
    return z * _phi_cdf(z)


def _phi_cdf(z):
    # Φ(z) = erfc(−z/√2)/2: (1 + erf(z/√2))/2 cancels to 0 below z ≈ −8.3 (float64)
    return 0.5 * jax.lax.erfc(-z / math.sqrt(2))


def _phi_pdf(z):
    return jnp.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _gelu_d(z):
    return _phi_cdf(z) + z * _phi_pdf(z)


def _silu(z):
    return z * jax.nn.sigmoid(z)


def _silu_d(z):
    s = jax.nn.sigmoid(z)
    return s * (1 + z * jax.nn.sigmoid(-z))  # 1 − s = σ(−z) without cancellation


def _erf_d(z):
    return (2 / math.sqrt(math.pi)) * jnp.exp(-z * z)


def _hard_tanh(z):
    return jnp.where(z > 1, 1, jnp.where(z < -1, -1, z)).astype(z.dtype)


def _hard_tanh_d(z):
    return jnp.where((z > 1) | (z < -1), 0, 1).astype(z.dtype)


def _linear(z):
    return z


def _linear_d(z):
    return jnp.ones_like(z)


def _silu_argmax() -> float:
    """Root of t·tanh(t/2) = 2 (where silu'' = 0), by Newton's method."""
    t = 2.4
    for _ in range(50):
        f = t * math.tanh(t / 2) - 2
        df = math.tanh(t / 2) + t / (2 * math.cosh(t / 2) ** 2)
        t -= f / df
    return t


def _silu_d_float(t: float) -> float:
    s = 1 / (1 + math.exp(-t))
    return s * (1 + t * (1 - s))


_SQ2 = math.sqrt(2)
_GELU_GAMMA = 0.5 * (1 + math.erf(1.0)) + _SQ2 * math.exp(-1.0) / math.sqrt(2 * math.pi)


def _mp_sig(t):
    return 1 / (1 + mpmath.exp(-t))


for _act in (
    Activation("sigmoid", _sigmoid, _sigmoid_d, 0.25, _mp_sig, lambda t: _mp_sig(t) * _mp_sig(-t)),
    Activation("tanh", jnp.tanh, _tanh_d, 1.0, mpmath.tanh, lambda t: mpmath.sech(t) ** 2),
    Activation("relu", _relu, _relu_d, 1.0, lambda t: max(t, 0), lambda t: mpmath.mpf(1 if t > 0 else 0)),
    Activation(
        "leaky_relu",
        _leaky,
        _leaky_d,
        1.0,
        lambda t: t if t >= 0 else mpmath.mpf(LEAKY_SLOPE) * t,
        lambda t: mpmath.mpf(1 if t >= 0 else LEAKY_SLOPE),
    ),
    Activation(
        "elu",
        _elu,
        _elu_d,
        1.0,
        lambda t: t if t > 0 else mpmath.expm1(t),
        lambda t: mpmath.mpf(1) if t > 0 else mpmath.exp(t),
    ),
    Activation(
        "selu",
        _selu,
        _selu_d,
        SELU_LAMBDA * SELU_ALPHA,
        lambda t: mpmath.mpf(SELU_LAMBDA) * (t if t > 0 else mpmath.mpf(SELU_ALPHA) * mpmath.expm1(t)),
        lambda t: mpmath.mpf(SELU_LAMBDA) * (1 if t > 0 else mpmath.mpf(SELU_ALPHA) * mpmath.exp(t)),
    ),
    Activation("softplus", _softplus, _sigmoid, 1.0, lambda t: mpmath.log1p(mpmath.exp(t)), _mp_sig),
    Activation(
        "gelu",
        _gelu,
        _gelu_d,
        _GELU_GAMMA,
        lambda t: t * mpmath.ncdf(t),
        lambda t: mpmath.ncdf(t) + t * mpmath.npdf(t),
    ),
    Activation(
        "silu",
        _silu,
        _silu_d,
        _silu_d_float(_silu_argmax()),
        lambda t: t * _mp_sig(t),
        lambda t: _mp_sig(t) * (1 + t * _mp_sig(-t)),
    ),
    Activation(
        "erf",
        jax.lax.erf,
        _erf_d,
        2 / math.sqrt(math.pi),
        mpmath.erf,
        lambda t: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-t * t),
    ),
    Activation(
        "hard_tanh",
        _hard_tanh,
        _hard_tanh_d,
        1.0,
        lambda t: mpmath.mpf(1) if t > 1 else (mpmath.mpf(-1) if t < -1 else t),
        lambda t: mpmath.mpf(0 if (t > 1 or t < -1) else 1),
    ),
    Activation("linear", _linear, _linear_d, 1.0, lambda t: t, lambda t: mpmath.mpf(1)),
):
    register(_act)
