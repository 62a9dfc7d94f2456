"""Rigorous arithmetic on natural logarithms of non-negative reals: products, quotients, running products.

A level of the hierarchy is a product over depth, kept as a sum of logs.  Each
function takes bounds (``lo`` or ``hi``) on logs of exact reals and returns a
bound on the log of their product (sum), quotient (difference) or reverse
running product (reverse cumulative sum), rounded outward with
:func:`~gradbounds.linalg.enclosures.up`/``down``.  ``−inf`` is the log of a
*proved* zero and wins over an unbounded ``+inf`` factor (``0 · ∞ = 0`` for
finite reals known only to be finite: a dead relu output times ‖g‖ of a user
cost); an undefined ``(−inf) − (−inf)`` becomes the vacuous bound.

.. math:: \\Bigl|\\mathrm{fl}\\Bigl(\\sum_{i ≥ l} t_i\\Bigr) − \\sum_{i ≥ l} t_i\\Bigr| ≤ γ_{N+1} \\sum_{i ≥ l} |t_i|

References:
  Higham 2002, *Accuracy and Stability of Numerical Algorithms*, §4.2
  (recursive summation, the bound above).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gradbounds.linalg._enclosures import down, gamma, unit_roundoff, up


def smallest_normal(dtype) -> float:
    """The smallest positive normal number of a float dtype (XLA on CPU flushes below it)."""
    return float(jnp.finfo(dtype).tiny)


def subnormal(x):
    """Where ``x`` is subnormal (a bit test: a float comparison reads such an input as 0 too).

    XLA on CPU flushes subnormal inputs of arithmetic to zero (denormals-are-zero): ``W·a`` with
    ``W = 1e-39`` in float32 is 0 for any ``a``, so a subnormal weight, input or target needs its own error
    term (at most ``tiny`` in magnitude each), which a bound on rounding alone does not give.
    """
    fi = jnp.finfo(jnp.result_type(x))
    man = mantissa(x)
    expo = ((1 << (fi.bits - 1)) - 1) & ~((1 << fi.nmant) - 1)
    i = jax.lax.bitcast_convert_type(x, man.dtype)
    return ((i & np.asarray(expo, man.dtype)) == 0) & (man != 0)


def mantissa(x):
    """The stored mantissa bits of ``x`` (without the implicit leading bit) as an unsigned integer array."""
    fi = jnp.finfo(jnp.result_type(x))
    ut = {16: jnp.uint16, 32: jnp.uint32, 64: jnp.uint64}[fi.bits]
    return jax.lax.bitcast_convert_type(x, ut) & np.asarray((1 << fi.nmant) - 1, ut)


def vacuous_if_nan(x, *, upper: bool = True):
    """A NaN bound (one that met ``0·∞`` or ``∞ − ∞``) is no bound: ``+inf`` as an upper bound, ``−inf`` as a
    lower one, never a NaN that a later ``min``/``max`` drops or a comparison reads as a proved zero."""
    return jnp.where(jnp.isnan(x), jnp.inf if upper else -jnp.inf, x)


def log_product(a, b):
    """``log(AB)`` from ``log A`` and ``log B``: a proved zero (``−inf``) wins over an unbounded ``+inf``."""
    return jnp.where((a == -jnp.inf) | (b == -jnp.inf), -jnp.inf, a + b)


def _not_below(s, finite):
    """An upper bound that overflowed to ``−inf`` from finite terms (logs beyond ``−max``, as a sigmoid's
    ``σ'`` at ``|z| = 1e308`` twice): the most negative float, never the ``−inf`` of a proved zero."""
    return jnp.where(finite & (s == -jnp.inf), -float(jnp.finfo(jnp.result_type(s)).max), s)


def _not_above(s, finite):
    """A lower bound that overflowed to ``+inf`` from finite terms: the largest float, never ``+inf``."""
    return jnp.where(finite & (s == jnp.inf), float(jnp.finfo(jnp.result_type(s)).max), s)


def add_down(*xs):
    """A lower bound on ``Σ xs`` (the log of a product), each addition rounded down."""
    out = xs[0]
    for x in xs[1:]:
        out = down(_not_above(log_product(out, x), jnp.isfinite(out) & jnp.isfinite(x)))
    return out


def add_up(*xs):
    """An upper bound on ``Σ xs`` (the log of a product), each addition rounded up."""
    out = xs[0]
    for x in xs[1:]:
        out = up(_not_below(log_product(out, x), jnp.isfinite(out) & jnp.isfinite(x)))
    return out


def sub_down(a, b):
    """A lower bound on ``a − b`` from a lower bound ``a`` and an upper bound ``b`` (``−inf`` where undefined)."""
    d = a - b
    return down(_not_above(vacuous_if_nan(d, upper=False), jnp.isfinite(a) & jnp.isfinite(b)))


def sub_up(a, b):
    """An upper bound on ``a − b`` from an upper bound ``a`` and a lower bound ``b`` (``+inf`` where undefined)."""
    d = a - b
    return up(_not_below(vacuous_if_nan(d), jnp.isfinite(a) & jnp.isfinite(b)))


# Up to this length a reverse cumulative sum is one masked row sum (O(n²) work, one kernel); longer
# ones are jnp.cumsum, which on CPU lowers to an associative scan of slices, pads and concatenations:
# a dozen kernels for every call, and the hierarchy makes some fifty calls on vectors of length L.
REV_CUMSUM_DIRECT = 64


def rev_cumsum(x):
    """``y_l = Σ_{i ≥ l} x_i`` along the last axis (the point value, no error bound).

    The order of the additions is XLA's; every error bound here (``γ_N Σ|x_i|``) holds for any order.
    """
    n = x.shape[-1]
    if n <= REV_CUMSUM_DIRECT:
        i = np.arange(n)
        later = (i[None, :] >= i[:, None]).reshape((1,) * (x.ndim - 1) + (n, n))  # row l: the terms i ≥ l
        return jnp.sum(jnp.where(later, jnp.expand_dims(x, -2), jnp.zeros((), x.dtype)), axis=-1, dtype=x.dtype)
    return jnp.flip(jnp.cumsum(jnp.flip(x, -1), -1), -1)


def rev_cumsum_bounds(lo_terms, hi_terms):
    """Bounds on the reverse cumulative sums of exact reals in ``[lo_terms, hi_terms]`` (last axis).

    Recursive summation of ``N`` terms errs by at most ``γ_{N+1} Σ|t_i|``
    (Higham 2002, §4.2); infinite terms carry no rounding error.
    """
    N = lo_terms.shape[-1]
    g = gamma(N + 1, unit_roundoff(lo_terms.dtype))
    a_lo = jnp.where(jnp.isfinite(lo_terms), jnp.abs(lo_terms), 0.0)
    a_hi = jnp.where(jnp.isfinite(hi_terms), jnp.abs(hi_terms), 0.0)
    # the six sums as one (each row's additions as alone; the counts of infinite terms are exact in floats)
    n_lo, n_hi = (lo_terms == jnp.inf).astype(lo_terms.dtype), (hi_terms == -jnp.inf).astype(hi_terms.dtype)
    s_lo, s_hi, c_lo, c_hi, r_lo, r_hi = rev_cumsum(jnp.stack([lo_terms, hi_terms, n_lo, n_hi, a_lo, a_hi]))
    # a sum of finite terms that overflowed is the largest float of its sign, never a proved 0 or an infinity
    s_lo = _not_above(s_lo, c_lo == 0)
    s_hi = _not_below(s_hi, c_hi == 0)
    return down(s_lo - g * r_lo, 2), up(s_hi + g * r_hi, 2)
