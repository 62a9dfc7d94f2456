"""Ball-arithmetic twins of the built-in activations (python-flint's arb), for proofs in high precision.

A ball ``t`` (an ``arb``: midpoint and radius) stands for every real number
it contains.  ``twin(t, d)`` returns a ball containing ``σ(s)`` (``d`` false)
or ``σ'(s)`` (``d`` true) for every ``s`` in ``t``, at the working precision
of ``flint.ctx``; at a kink it needs to know on which side ``t`` lies and
raises :class:`Straddle` when the ball contains the kink but is not exactly
it (the caller retries at a higher precision).  At a kink itself the library's
convention holds (``σ'`` equals ``jax.grad`` of σ: relu'(0) = 0,
leaky_relu'(0) = 1, elu'(0) = α·1 = 1, selu'(0) = λα, hard_tanh'(±1) = 1).

``γ`` is a ball around ``sup|σ'|`` from its closed form (silu: the root
``t^*`` of ``t tanh(t/2) = 2`` is enclosed by a sign change, and silu' is
evaluated on that ball), never from a rounded float.  The constants selu's λ
and α and the leaky slope are the float64 numbers the library multiplies by,
taken exactly: the exact network is the one the library evaluates.

.. math::

   γ_{\\rm sigmoid} = 1/4,\\ γ_{\\rm selu} = λα,\\ γ_{\\rm gelu} = Φ(\\sqrt2) + \\sqrt2\\,φ(\\sqrt2),\\
   γ_{\\rm erf} = 2/\\sqrt π,\\ γ_{\\rm silu} = σ'(t^*),\\ γ = 1 \\text{ otherwise}.

References:
  Johansson, "Arb: efficient arbitrary-precision midpoint-radius interval
  arithmetic", IEEE Trans. Comput. 66 (2017); python-flint (``arb``);
  Klambauer et al. 2017 (selu's λ, α); Hendrycks & Gimpel 2016 (gelu).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Straddle"]


class Straddle(ArithmeticError):
    """A ball contains a kink of σ' without being exactly it: retry at a higher precision."""


def _arb(v) -> Any:
    from flint import arb

    return arb(v)


def _side(t, kink) -> int:
    """-1, 0 or 1: ``t`` below, exactly at, or above ``kink``; raises :class:`Straddle` if undecided."""
    if t > kink:
        return 1
    if t < kink:
        return -1
    if t.is_exact() and t == kink:
        return 0
    raise Straddle(f"the ball {t} contains the kink {kink}")


def _sig(t):
    return 1 / (1 + (-t).exp())


def _phi_cdf(t):
    return (-t / _arb(2).sqrt()).erfc() / 2


def _phi_pdf(t):
    from flint import arb

    return (-t * t / 2).exp() / (2 * arb.pi()).sqrt()


def magnitude_bits(t) -> int:
    """``⌈log2 sup|t|⌉`` (0 for ``|t| ≤ 1`` and for a ball that is not finite)."""
    if not t.is_finite():
        return 0
    man, exp = t.abs_upper().man_exp()
    return max(0, int(man).bit_length() + int(exp)) if man != 0 else 0


def _far(degree: int, twin):
    """``twin`` evaluated ``degree · log2|t|`` bits above the working precision.

    ``exp(±t^k)`` (and ``erfc``, ``tanh``) reduce their argument modulo ``log 2``
    and lose about ``k·log2|t|`` bits doing it: at the re-decision's 128 bits,
    sigmoid'(1e300) was NaN and tanh'(1e300) a ball around 0 (no claim), where
    ``e^{-1e300}`` is a perfectly good arb number.  ``k`` is the degree of the
    exponent: 1 (sigmoid, tanh, softplus, silu, elu, selu), 2 (erf, gelu: ``e^{-t²}``),
    3 (gelu_tanh: ``tanh`` of a cubic).
    """

    def wide(t, d):
        extra = degree * magnitude_bits(t)
        if extra == 0:
            return twin(t, d)
        from flint import ctx

        with ctx.workprec(ctx.prec + extra + 16):
            return twin(t, d)

    # read by the ball reference's starting precision (bounds._ball)
    wide.extra_bits = lambda t: degree * magnitude_bits(t)  # type: ignore[attr-defined]
    return wide


def _smooth(fn, deriv, degree: int = 1):
    return _far(degree, lambda t, d: deriv(t) if d else fn(t))


def _relu(t, d):
    s = _side(t, 0)
    if d:
        return _arb(1 if s > 0 else 0)
    return t if s > 0 else _arb(0)


def _consts():
    from gradbounds.core._activations import SELU_ALPHA, SELU_LAMBDA

    return None, SELU_ALPHA, SELU_LAMBDA


def leaky_relu(slope: float):
    """The ball twin of the leaky relu of negative-side slope ``slope`` (a float, taken exactly)."""

    def twin(t, d):
        s = _side(t, 0)
        if d:
            return _arb(1) if s >= 0 else _arb(slope)
        return t if s >= 0 else _arb(slope) * t

    return twin


def constant(value: float):
    """γ given exactly by a float (``max(1, |slope|)`` of a leaky relu)."""
    return lambda: _arb(value)


def _elu(t, d):
    s = _side(t, 0)
    if d:
        return _arb(1) if s > 0 else t.exp()
    return t if s > 0 else t.expm1()


def _selu(t, d):
    _, alpha, lam = (_arb(c) for c in _consts())
    s = _side(t, 0)
    if d:
        return lam if s > 0 else lam * alpha * t.exp()
    return lam * t if s > 0 else lam * alpha * t.expm1()


def _hard_tanh(t, d):
    hi, lo = _side(t, 1), _side(t, -1)
    if d:
        return _arb(0 if (hi > 0 or lo < 0) else 1)
    return _arb(1) if hi > 0 else (_arb(-1) if lo < 0 else t)


def _gelu_d(t):
    """``Φ(t) + tφ(t)``; far below 0, where arb's ``erfc`` gives only a ball around 0, from Mills' ratio
    ``0 < Φ(t)/φ(t) < 1/|t|`` (``t < 0``; Gordon 1941): ``gelu'(t) ∈ φ(t)·[t, t + 1/|t|]``."""
    v = _phi_cdf(t) + t * _phi_pdf(t)
    if v.contains(0) and t < -1:
        p = _phi_pdf(t)
        return p * t - p / t * _arb(0).union(_arb(1))
    return v


def _erf_d(t):
    from flint import arb

    return 2 / arb.pi().sqrt() * (-t * t).exp()


sigmoid = _smooth(_sig, lambda t: _sig(t) * _sig(-t))
tanh = _smooth(lambda t: t.tanh(), lambda t: t.sech() * t.sech())
relu, hard_tanh = _relu, _hard_tanh
elu, selu = _far(1, _elu), _far(1, _selu)
softplus = _smooth(lambda t: t.exp().log1p(), _sig)
gelu = _smooth(lambda t: t * _phi_cdf(t), _gelu_d, 2)
silu = _smooth(lambda t: t * _sig(t), lambda t: _sig(t) * (1 + t * _sig(-t)))
erf = _smooth(lambda t: t.erf(), _erf_d, 2)


def linear(t, d):
    return _arb(1) if d else t


def _silu_argmax():
    """A ball containing the root ``t^*`` of ``t tanh(t/2) = 2`` (a sign change at its ends)."""
    from flint import arb, ctx

    f = lambda t: t * (t / 2).tanh() - 2  # noqa: E731
    t = arb(2.3993572805154675)
    for _ in range(12):  # Newton on the midpoint; f'(t) = tanh(t/2) + t/(2 cosh²(t/2))
        t = arb((t - f(t) / ((t / 2).tanh() + t / (2 * (t / 2).cosh() * (t / 2).cosh()))).mid())
    eps = arb(2) ** (-(ctx.prec - 8))
    lo, hi = arb((t - eps * t).lower()), arb((t + eps * t).upper())
    if not (f(lo) < 0 < f(hi)):
        raise ArithmeticError("silu: t* is not enclosed")
    return lo.union(hi)


def gelu_gamma():
    r = _arb(2).sqrt()
    return _phi_cdf(r) + r * _phi_pdf(r)


def erf_gamma():
    from flint import arb

    return 2 / arb.pi().sqrt()


def one():
    """γ = 1 (tanh, relu, leaky_relu, elu, softplus, hard_tanh, linear)."""
    return _arb(1)


def sigmoid_gamma():
    return _arb(1) / 4


def selu_gamma():
    _, alpha, lam = (_arb(c) for c in _consts())
    return lam * alpha


def silu_gamma():
    return silu(_silu_argmax(), True)


def _gelu_tanh_u2(t):
    from gradbounds.core._closed_forms import _GELU_C, _GELU_K

    return _arb(2 * _GELU_C) * (t + _arb(_GELU_K) * t * t * t)  # 2·C is exact (a doubling)


def _gelu_tanh_d(t):
    from gradbounds.core._closed_forms import _GELU_C, _GELU_K

    u2 = _gelu_tanh_u2(t)
    du2 = _arb(2 * _GELU_C) * (1 + 3 * _arb(_GELU_K) * t * t)
    return _sig(u2) * (1 + t * du2 * _sig(-u2))


gelu_tanh = _smooth(lambda t: t * _sig(_gelu_tanh_u2(t)), _gelu_tanh_d, 3)


def gelu_tanh_gamma():
    """γ of gelu_tanh: from σ'(t*) (a lower end, t* found in 50 digits) to the record's γ rounded up.

    Not a closed form: the upper end is the 50-digit value at the 50-digit
    root of σ'' rounded up (σ' is flat at t*, so an error ε in t* costs O(ε²)).
    """
    from gradbounds.core._activations import get_activation
    from gradbounds.core._closed_forms import _gelu_tanh_argmax

    lo = _gelu_tanh_d(_arb(float(_gelu_tanh_argmax())))
    return _arb(lo.lower()).union(_arb(get_activation("gelu_tanh").gamma))
