"""The closed forms behind the activation records: σ and σ' on JAX arrays, their numpy and mpmath twins.

Kept apart from :mod:`gradbounds.core._activations` (which assembles them into
one :class:`~gradbounds.core.Activation` record per name) so that each module
holds one idea: here the formulas, there the facts and the registry.  γ and
sup|σ''| in 50-digit arithmetic (``exact_gammas``, ``exact_curvatures``) are
rounded up where the records are built.

.. math::

   σ_{\\rm sigmoid}' = σ(1 − σ),\\quad \\tanh' = \\operatorname{sech}^2,\\quad
   \\operatorname{gelu}'(z) = Φ(z) + zφ(z),\\quad \\operatorname{silu}'(z) = σ(z)(1 + zσ(−z)).

References:
  Klambauer et al. 2017 (selu's λ, α); Hendrycks & Gimpel 2016 (gelu and its
  tanh approximation); Elfwing et al. 2018 (silu).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import jax
import jax.numpy as jnp
import mpmath
import numpy as np

#: held while mpmath works at a raised precision: mpmath's precision is one setting for the whole process,
#: so two threads tracing programs at once (``gradbounds check`` does) must not change it under each other
MP_LOCK = threading.RLock()

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946
LEAKY_SLOPE = 0.01


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


_GELU_C = math.sqrt(2 / math.pi)
_GELU_K = 0.044715


def _gelu_tanh_u2(z):
    # 2u, u = √(2/π)(z + 0.044715 z³): ½(1 + tanh u) = sigmoid(2u) and sech²u = 4 sigmoid(2u) sigmoid(−2u)
    return (2 * _GELU_C) * (z + _GELU_K * (z * z * z))


def _gelu_tanh(z):
    return z * jax.nn.sigmoid(_gelu_tanh_u2(z))  # ½z(1 + tanh u) without the cancellation of 1 + tanh u


def _gelu_tanh_d(z):
    u2 = _gelu_tanh_u2(z)
    du2 = (2 * _GELU_C) * (1 + (3 * _GELU_K) * (z * z))
    return jax.nn.sigmoid(u2) * (1 + z * du2 * jax.nn.sigmoid(-u2))


def _mp_gelu_tanh(t):
    return t * _mp_sig(2 * mpmath.sqrt(2 / mpmath.pi) * (t + mpmath.mpf(_GELU_K) * t**3))


def _mp_gelu_tanh_d(t):
    c, k = mpmath.sqrt(2 / mpmath.pi), mpmath.mpf(_GELU_K)
    u2 = 2 * c * (t + k * t**3)
    return _mp_sig(u2) * (1 + t * 2 * c * (1 + 3 * k * t * t) * _mp_sig(-u2))


def _gelu_tanh_argmax():
    """Where gelu_tanh'' = 0 for t > 0 (gelu_tanh' peaks there, t ≈ 1.4185), in 50-digit arithmetic."""
    with MP_LOCK, mpmath.workdps(50):
        return mpmath.findroot(lambda t: mpmath.diff(_mp_gelu_tanh_d, t), mpmath.mpf("1.42"))


def _np_gelu_tanh_u2(u):
    return 2 * _GELU_C * (u + _GELU_K * u**3)


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


def _silu_argmax():
    """Root of t·tanh(t/2) = 2 (where silu'' = 0, so silu' peaks), in 50-digit arithmetic."""
    with MP_LOCK, mpmath.workdps(50):
        return mpmath.findroot(lambda t: t * mpmath.tanh(t / 2) - 2, mpmath.mpf("2.4"))


def _mp_sig(t):
    return 1 / (1 + mpmath.exp(-t))


def _mp_silu_d(t):
    return _mp_sig(t) * (1 + t * _mp_sig(-t))


def _exact_gammas() -> dict[str, Any]:
    """γ of each built-in activation in 50-digit arithmetic (the float constants as given)."""
    with MP_LOCK, mpmath.workdps(50):
        sq2 = mpmath.sqrt(2)
        return {
            "sigmoid": mpmath.mpf(1) / 4,
            "selu": mpmath.mpf(SELU_LAMBDA) * mpmath.mpf(SELU_ALPHA),
            "gelu": mpmath.ncdf(sq2) + sq2 * mpmath.npdf(sq2),
            # σ' = ½ + an odd function, so max|σ'| = max σ' (the minimum is 1 − γ)
            "gelu_tanh": _mp_gelu_tanh_d(_gelu_tanh_argmax()),
            "silu": _mp_silu_d(_silu_argmax()),
            "erf": 2 / mpmath.sqrt(mpmath.pi),
        }


def _exact_curvatures() -> dict[str, Any]:
    """sup|σ''| away from the kinks, in 50-digit arithmetic (closed forms; tested numerically)."""
    with MP_LOCK, mpmath.workdps(50):
        s3 = mpmath.sqrt(3)
        return {
            "sigmoid": 1 / (6 * s3),  # σ(1−σ)(1−2σ) at σ = 1/2 ± 1/(2√3)
            "tanh": 4 / (3 * s3),  # −2 sech² tanh
            "relu": 0,
            "leaky_relu": 0,
            "elu": 1,  # e^z, z < 0
            "selu": mpmath.mpf(SELU_LAMBDA) * mpmath.mpf(SELU_ALPHA),
            "softplus": mpmath.mpf(1) / 4,  # σ'
            "gelu": 2 * mpmath.npdf(0),  # φ(z)(2 − z²) at 0
            "gelu_tanh": mpmath.sqrt(2 / mpmath.pi),  # at 0 (σ'' is even; its other extrema are ±0.108 at ±2.02)
            "silu": mpmath.mpf(1) / 2,  # 2σ' + zσ'(1 − 2σ) at 0
            "erf": 4 / mpmath.sqrt(mpmath.pi) * mpmath.exp(mpmath.mpf(-1) / 2) / mpmath.sqrt(2),
            "hard_tanh": 0,
            "linear": 0,
        }


# float64 numpy twins (scipy.special loads on first use, not at import)
def _np_expit(u):
    from scipy import special

    return special.expit(u)


def _np_sech2(u):
    e = np.exp(-2.0 * np.abs(u))
    return 4.0 * e / (1.0 + e) ** 2


def _np_neg(u):
    return np.minimum(u, 0.0)


def _np_ndtr(u):
    from scipy import special

    return special.ndtr(u)


def _np_erf(u):
    from scipy import special

    return special.erf(u)
