"""Activation functions σ, their derivatives σ' and the bound γ = sup_t |σ'(t)|.

Every activation is one :class:`Activation` record, the only place its facts
live: ``fn`` (σ) and ``deriv`` (σ' in closed form) on JAX arrays, ``gamma``
(γ = sup|σ'|, a float rounded *up* from its closed form), float64 numpy twins
of σ and σ' (mean-field theory), mpmath twins (high-precision re-decisions),
the kinks where σ' jumps with the size of each jump, ``curvature`` (sup|σ''|
away from the kinks, rounded up), the points where σ varies most (quadrature
breakpoints) and sup|σ|.  The registry maps names to records;
:func:`get_activation` looks one up and :func:`register_activation` adds a
user's own.

Two GELUs.  ``"gelu"`` is the exact (erf) form ``zΦ(z)``, PyTorch's default
``nn.GELU()``; ``"gelu_tanh"`` is the tanh approximation
``½z(1 + tanh(√(2/π)(z + 0.044715 z³)))``, which is ``jax.nn.gelu``'s default
(``approximate=True``) and PyTorch's ``nn.GELU(approximate="tanh")``.  They
differ by up to 4.7e-4, so the adapters keep them apart.

Parameterised names.  A leaky relu of slope ``s`` on the negative side is the
name ``"leaky_relu:s"`` (for example ``"leaky_relu:0.2"``), made on first use
(kept out of :func:`activation_names`); ``"leaky_relu"`` is PyTorch's and JAX's
default slope 0.01 (:data:`LEAKY_SLOPE`), and ``"leaky_relu:0.01"`` is that
same record.  Its γ is ``max(1, |s|)``.

Convention at kinks.  Where σ is not differentiable (relu and leaky_relu at 0,
elu and selu at 0, hard_tanh at ±1) ``deriv`` returns exactly what
``jax.grad`` of ``fn`` returns there, so closed forms and autodiff agree
everywhere: relu'(0) = 0, leaky_relu'(0) = 1, elu'(0) = α, selu'(0) = λα,
hard_tanh'(±1) = 1.  With this convention γ is attained: γ = max_t |σ'(t)|.

γ values (closed forms evaluated in 50-digit arithmetic and rounded up to the
next float64, so that ``gamma`` is a proved upper bound of the true supremum;
each is checked against a dense numeric maximisation in
``tests/core/test_activations.py``):

.. math::

   γ_{\\rm sigmoid} = 1/4,\\quad γ_{\\tanh} = 1,\\quad γ_{\\rm selu} = λα,\\quad
   γ_{\\rm gelu} = Φ(\\sqrt2) + \\sqrt2\\,φ(\\sqrt2),\\quad
   γ_{\\rm gelu\\_tanh} = σ'(t^*),\\ σ''(t^*) = 0,\\ t^* ≈ 1.4185,\\quad
   γ_{\\rm erf} = 2/\\sqrt{π},\\quad γ_{\\rm silu} = σ'(t^*),\\ t^*\\tanh(t^*/2) = 2.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5 (γ = 1/4 for sigmoid);
  Klambauer et al. 2017, "Self-Normalizing Neural Networks" (selu's λ, α);
  Hendrycks & Gimpel 2016, "Gaussian Error Linear Units" (gelu and its tanh approximation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
from jax.typing import ArrayLike

from gradbounds.core import _balls
from gradbounds.core._closed_forms import (  # noqa: F401  (LEAKY_SLOPE, SELU_*: re-exported)
    _GELU_C,
    _GELU_K,
    LEAKY_SLOPE,
    MP_LOCK,
    SELU_ALPHA,
    SELU_LAMBDA,
    _elu,
    _elu_d,
    _erf_d,
    _exact_curvatures,
    _exact_gammas,
    _gelu,
    _gelu_d,
    _gelu_tanh,
    _gelu_tanh_argmax,
    _gelu_tanh_d,
    _gelu_tanh_u2,
    _hard_tanh,
    _hard_tanh_d,
    _linear,
    _linear_d,
    _mp_gelu_tanh,
    _mp_gelu_tanh_d,
    _mp_sig,
    _mp_silu_d,
    _np_erf,
    _np_expit,
    _np_gelu_tanh_u2,
    _np_ndtr,
    _np_neg,
    _np_sech2,
    _phi_cdf,
    _phi_pdf,
    _relu,
    _relu_d,
    _selu,
    _selu_d,
    _sigmoid,
    _sigmoid_d,
    _silu,
    _silu_argmax,
    _silu_d,
    _softplus,
    _tanh_d,
)

__all__ = [
    "Activation",
    "get_activation",
    "register_activation",
    "activation_names",
    "round_up",
    "leaky_relu",
    "SELU_ALPHA",
    "SELU_LAMBDA",
    "LEAKY_SLOPE",
]


def round_up(value: Any) -> float:
    """The smallest float64 ``≥ value`` (an mpmath number or anything ``mpmath.mpf`` takes).

    Used for constants that must be upper bounds (γ, sup|σ''|): rounding to
    nearest can land below the true value by half an ulp.
    """
    with MP_LOCK, mpmath.workdps(60):
        v = mpmath.mpf(value)
        f = float(v)
        return f if mpmath.mpf(f) >= v else math.nextafter(f, math.inf)


@dataclass(frozen=True)
class Activation:
    """An elementwise activation σ: every fact the toolkit uses about it.

    Attributes:
      name: registry name.
      fn: σ, elementwise on JAX arrays (keeps the input's dtype).
      deriv: σ' in closed form, equal to ``jax.grad(fn)`` everywhere (kinks included).
      gamma: γ = sup_t |σ'(t)|, a float64 rounded **up** (``gamma ≥`` the true supremum).
      np_fn: σ on float64 numpy arrays (mean-field theory; ``None``: ``fn`` on float64 input).
      np_deriv: σ' on float64 numpy arrays.
      mp_fn: σ on an ``mpmath.mpf`` (high-precision re-decisions).
      mp_deriv: σ' on an ``mpmath.mpf``.
      kinks: points where σ' jumps (σ not differentiable).
      jumps: size ``|σ'(k+) − σ'(k−)|`` of the jump at each kink.
      curvature: sup |σ''(t)| away from the kinks, rounded up (0 for piecewise linear σ).
      features: points where σ varies most or σ'² peaks (quadrature breakpoints).
      sup_abs: sup_t |σ(t)| (``inf`` when unbounded).
      ball: ``ball(t, d)``: σ (``d`` false) or σ' (``d`` true) on an arb ball
        ``t`` (:mod:`gradbounds.core._balls`; ``None``: no proofs in high precision).
      ball_gamma: γ as an arb ball from its closed form, at the working precision.
    """

    name: str
    fn: Callable[[ArrayLike], jax.Array]
    deriv: Callable[[ArrayLike], jax.Array]
    gamma: float
    np_fn: Callable[[np.ndarray], np.ndarray] | None = None
    np_deriv: Callable[[np.ndarray], np.ndarray] | None = None
    mp_fn: Callable[[Any], Any] | None = None
    mp_deriv: Callable[[Any], Any] | None = None
    kinks: tuple[float, ...] = ()
    jumps: tuple[float, ...] = ()
    curvature: float = math.inf
    features: tuple[float, ...] = (0.0,)
    sup_abs: float = math.inf
    ball: Callable[[Any, bool], Any] | None = None
    ball_gamma: Callable[[], Any] | None = None

    def __call__(self, z):
        return self.fn(z)

    def numpy_fn(self, u) -> np.ndarray:
        """σ on a float64 numpy array (the numpy twin, else ``fn`` evaluated on float64)."""
        if self.np_fn is not None:
            return self.np_fn(u)
        return np.asarray(self.fn(np.asarray(u, np.float64)), np.float64)

    def numpy_deriv(self, u) -> np.ndarray:
        """σ' on a float64 numpy array (the numpy twin, else ``deriv`` evaluated on float64)."""
        if self.np_deriv is not None:
            return self.np_deriv(u)
        return np.asarray(self.deriv(np.asarray(u, np.float64)), np.float64)


_REGISTRY: dict[str, Activation] = {}


def register_activation(act: Activation, *, overwrite: bool = False) -> Activation:
    """Adds ``act`` to the registry under ``act.name`` and returns it."""
    if not isinstance(act, Activation):
        raise TypeError(f"expected an Activation, got {type(act).__name__}")
    if not (math.isfinite(act.gamma) and act.gamma >= 0):
        raise ValueError(f"activation {act.name!r}: gamma must be finite and >= 0, got {act.gamma}")
    if len(act.kinks) != len(act.jumps):
        raise ValueError(f"activation {act.name!r}: expected one jump per kink, got {len(act.jumps)} for {act.kinks}")
    if act.name in _REGISTRY and not overwrite:
        raise ValueError(f"activation {act.name!r} is already registered (pass overwrite=True)")
    _REGISTRY[act.name] = act
    return act


def activation_names() -> tuple[str, ...]:
    """Names of all registered activations, in registration order."""
    return tuple(_REGISTRY)


def get_activation(name: str | Activation) -> Activation:
    """Looks up an activation by name (an :class:`Activation` passes through)."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation: expected a name (str), got {type(name).__name__}")
    if ":" in name:
        return _parameterised(name)
    key = name.lower().replace("-", "_").strip()
    key = {"swish": "silu", "identity": "linear", "logistic": "sigmoid"}.get(key, key)
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; expected one of {', '.join(_REGISTRY)} (or 'leaky_relu:SLOPE')"
        ) from None


_FAMILY: dict[str, Activation] = {}


def _parameterised(name: str) -> Activation:
    """``"leaky_relu:0.2"``: the one parameterised family; the records are cached, not registered."""
    family, _, arg = name.partition(":")
    if family.lower().replace("-", "_").strip() != "leaky_relu":
        raise ValueError(f"unknown activation {name!r}: only 'leaky_relu:SLOPE' takes a parameter")
    try:
        return leaky_relu(float(arg))
    except ValueError:
        raise ValueError(f"activation {name!r}: expected a finite number after 'leaky_relu:', got {arg!r}") from None


def leaky_relu(slope: float = LEAKY_SLOPE) -> Activation:
    """The leaky relu of negative-side slope ``slope``: ``σ(z) = z`` for ``z ≥ 0``, ``slope·z`` below.

    Its name is ``"leaky_relu"`` for the default slope 0.01 (:data:`LEAKY_SLOPE`) and
    ``f"leaky_relu:{slope!r}"`` otherwise; γ = max(1, |slope|), the kink at 0 jumps by ``|1 − slope|``.
    """
    slope = float(slope)
    if not math.isfinite(slope):
        raise ValueError(f"leaky_relu: expected a finite slope, got {slope}")
    if slope == LEAKY_SLOPE and "leaky_relu" in _REGISTRY:
        return _REGISTRY["leaky_relu"]
    name = "leaky_relu" if slope == LEAKY_SLOPE else f"leaky_relu:{slope!r}"
    if name in _FAMILY:
        return _FAMILY[name]
    s, ms = slope, mpmath.mpf(slope)
    fn: Callable[[Any], jax.Array] = lambda z: jnp.where(z >= 0, z, s * z)  # noqa: E731
    deriv: Callable[[Any], jax.Array] = lambda z: jnp.where(z >= 0, 1.0, s).astype(z.dtype)  # noqa: E731
    act = Activation(
        name,
        fn,
        deriv,
        max(1.0, abs(s)),
        lambda u: np.where(u >= 0, u, s * u),
        lambda u: np.where(u >= 0, 1.0, s),
        lambda t: t if t >= 0 else ms * t,
        lambda t: mpmath.mpf(1) if t >= 0 else ms,
        kinks=(0.0,),
        jumps=(round_up(abs(1 - ms)),),
        curvature=0.0,
        ball=_balls.leaky_relu(s),
        ball_gamma=_balls.constant(max(1.0, abs(s))),
    )
    if name != "leaky_relu":
        _FAMILY[name] = act
    return act


_SQ2PI = math.sqrt(2 * math.pi)
_GAMMA = {k: round_up(v) for k, v in _exact_gammas().items()}
_CURV = {k: round_up(v) for k, v in _exact_curvatures().items()}
_SILU_T = float(_silu_argmax())
_GELU_TANH_T = float(_gelu_tanh_argmax())
_L, _A = SELU_LAMBDA, SELU_ALPHA

for _act in (
    Activation(
        "sigmoid",
        _sigmoid,
        _sigmoid_d,
        _GAMMA["sigmoid"],
        _np_expit,
        lambda u: _np_expit(u) * _np_expit(-u),
        _mp_sig,
        lambda t: _mp_sig(t) * _mp_sig(-t),
        curvature=_CURV["sigmoid"],
        sup_abs=1.0,
        ball=_balls.sigmoid,
        ball_gamma=_balls.sigmoid_gamma,
    ),
    Activation(
        "tanh",
        jnp.tanh,
        _tanh_d,
        1.0,
        np.tanh,
        _np_sech2,
        mpmath.tanh,
        lambda t: mpmath.sech(t) ** 2,
        curvature=_CURV["tanh"],
        sup_abs=1.0,
        ball=_balls.tanh,
        ball_gamma=_balls.one,
    ),
    Activation(
        "relu",
        _relu,
        _relu_d,
        1.0,
        lambda u: np.maximum(u, 0.0),
        lambda u: (u > 0).astype(float),
        lambda t: max(t, 0),
        lambda t: mpmath.mpf(1 if t > 0 else 0),
        kinks=(0.0,),
        jumps=(1.0,),
        curvature=0.0,
        ball=_balls.relu,
        ball_gamma=_balls.one,
    ),
    leaky_relu(LEAKY_SLOPE),
    Activation(
        "elu",
        _elu,
        _elu_d,
        1.0,
        lambda u: np.where(u > 0, u, np.expm1(_np_neg(u))),
        lambda u: np.where(u > 0, 1.0, np.exp(_np_neg(u))),
        lambda t: t if t > 0 else mpmath.expm1(t),
        lambda t: mpmath.mpf(1) if t > 0 else mpmath.exp(t),
        kinks=(0.0,),  # σ'' jumps; σ' is continuous
        jumps=(0.0,),
        curvature=_CURV["elu"],
        ball=_balls.elu,
        ball_gamma=_balls.one,
    ),
    Activation(
        "selu",
        _selu,
        _selu_d,
        _GAMMA["selu"],
        lambda u: _L * np.where(u > 0, u, _A * np.expm1(_np_neg(u))),
        lambda u: _L * np.where(u > 0, 1.0, _A * np.exp(_np_neg(u))),
        lambda t: mpmath.mpf(SELU_LAMBDA) * (t if t > 0 else mpmath.mpf(SELU_ALPHA) * mpmath.expm1(t)),
        lambda t: mpmath.mpf(SELU_LAMBDA) * (1 if t > 0 else mpmath.mpf(SELU_ALPHA) * mpmath.exp(t)),
        kinks=(0.0,),
        jumps=(round_up(mpmath.mpf(SELU_LAMBDA) * (mpmath.mpf(SELU_ALPHA) - 1)),),
        curvature=_CURV["selu"],
        ball=_balls.selu,
        ball_gamma=_balls.selu_gamma,
    ),
    Activation(
        "softplus",
        _softplus,
        _sigmoid,
        1.0,
        lambda u: np.logaddexp(u, 0.0),
        _np_expit,
        lambda t: mpmath.log1p(mpmath.exp(t)),
        _mp_sig,
        curvature=_CURV["softplus"],
        ball=_balls.softplus,
        ball_gamma=_balls.one,
    ),
    Activation(
        "gelu",
        _gelu,
        _gelu_d,
        _GAMMA["gelu"],
        lambda u: u * _np_ndtr(u),
        lambda u: _np_ndtr(u) + u * np.exp(-0.5 * u * u) / _SQ2PI,
        lambda t: t * mpmath.ncdf(t),
        lambda t: mpmath.ncdf(t) + t * mpmath.npdf(t),
        curvature=_CURV["gelu"],
        features=(0.0, math.sqrt(2.0), -math.sqrt(2.0)),
        ball=_balls.gelu,
        ball_gamma=_balls.gelu_gamma,
    ),
    Activation(
        "gelu_tanh",
        _gelu_tanh,
        _gelu_tanh_d,
        _GAMMA["gelu_tanh"],
        lambda u: u * _np_expit(_np_gelu_tanh_u2(u)),
        lambda u: (
            _np_expit(_np_gelu_tanh_u2(u))
            * (1 + u * 2 * _GELU_C * (1 + 3 * _GELU_K * u * u) * _np_expit(-_np_gelu_tanh_u2(u)))
        ),
        _mp_gelu_tanh,
        _mp_gelu_tanh_d,
        curvature=_CURV["gelu_tanh"],
        features=(0.0, _GELU_TANH_T, -_GELU_TANH_T),
        ball=_balls.gelu_tanh,
        ball_gamma=_balls.gelu_tanh_gamma,
    ),
    Activation(
        "silu",
        _silu,
        _silu_d,
        _GAMMA["silu"],
        lambda u: u * _np_expit(u),
        lambda u: _np_expit(u) * (1 + u * _np_expit(-u)),
        lambda t: t * _mp_sig(t),
        _mp_silu_d,
        curvature=_CURV["silu"],
        features=(0.0, _SILU_T, -_SILU_T),
        ball=_balls.silu,
        ball_gamma=_balls.silu_gamma,
    ),
    Activation(
        "erf",
        jax.lax.erf,
        _erf_d,
        _GAMMA["erf"],
        _np_erf,
        lambda u: 2 / math.sqrt(math.pi) * np.exp(-u * u),
        mpmath.erf,
        lambda t: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-t * t),
        curvature=_CURV["erf"],
        sup_abs=1.0,
        ball=_balls.erf,
        ball_gamma=_balls.erf_gamma,
    ),
    Activation(
        "hard_tanh",
        _hard_tanh,
        _hard_tanh_d,
        1.0,
        lambda u: np.clip(u, -1.0, 1.0),
        lambda u: ((u >= -1) & (u <= 1)).astype(float),
        lambda t: mpmath.mpf(1) if t > 1 else (mpmath.mpf(-1) if t < -1 else t),
        lambda t: mpmath.mpf(0 if (t > 1 or t < -1) else 1),
        kinks=(-1.0, 1.0),
        jumps=(1.0, 1.0),
        curvature=0.0,
        features=(-1.0, 1.0),
        sup_abs=1.0,
        ball=_balls.hard_tanh,
        ball_gamma=_balls.one,
    ),
    Activation(
        "linear",
        _linear,
        _linear_d,
        1.0,
        lambda u: np.asarray(u, float),
        lambda u: np.ones_like(np.asarray(u, float)),
        lambda t: t,
        lambda t: mpmath.mpf(1),
        curvature=0.0,
        ball=_balls.linear,
        ball_gamma=_balls.one,
    ),
):
    register_activation(_act)

_BUILTIN = dict(_REGISTRY)


def registry_is_builtin() -> bool:
    """Whether the registry holds exactly the built-in activations (nothing registered or overwritten since)."""
    return _REGISTRY.keys() == _BUILTIN.keys() and all(_REGISTRY[k] is v for k, v in _BUILTIN.items())
