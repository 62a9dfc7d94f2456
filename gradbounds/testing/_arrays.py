"""The machinery behind the strategies: argument validation and arrays from one seed.

Every strategy draws a few small choices from Hypothesis and one integer
*seed*; arrays are built from ``jax.random.key(seed)`` by :func:`_draw`, which
runs a builder twice (once to count the deviates it needs, once on one
``jax.random.normal`` call at a length rounded up to a power of two), so XLA
compiles a handful of shapes per session instead of one per network shape.

References:
  Mezzadri 2007, "How to generate random matrices from the classical compact
  groups" (Haar orthogonal matrices by sign-fixed QR).
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from gradbounds import core
from gradbounds.core import INITS, Layer

__all__ = ["SPECTRA", "SCHEMES", "MAX_SEED"]

SPECTRA = ("gaussian", "orthogonal", "singular-values", "heavy-tailed", "scaled")
"""Spectrum kinds of :func:`weights`."""

SCHEMES = INITS + ("singular-values", "heavy-tailed", "scaled")
"""Weight schemes of :func:`networks`: the init schemes and the extra spectra."""

MAX_SEED = 2**32 - 1


# ------------------------------------------------------------------ validation
def _int(name, v, lo=None):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise InvalidArgument(f"{name}: expected an int, got {v!r}")
    if lo is not None and v < lo:
        raise InvalidArgument(f"{name}: expected an int >= {lo}, got {v}")
    return int(v)


def _real(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
        raise InvalidArgument(f"{name}: expected a finite real number, got {v!r}")
    return float(v)


def _interval(lo_name, lo, hi_name, hi):
    if lo > hi:
        raise InvalidArgument(f"expected {lo_name} <= {hi_name}, got {lo_name}={lo} > {hi_name}={hi}")


def _dtype(dtype):
    try:
        dt = jnp.dtype(dtype)
    except TypeError:
        raise InvalidArgument(f"dtype: expected float32 or float64, got {dtype!r}") from None
    if dt not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise InvalidArgument(f"dtype: expected float32 or float64, got {dt}")
    return dt


def _check_x64(dt):
    if dt == jnp.float64 and not jax.config.read("jax_enable_x64"):
        raise InvalidArgument("dtype float64: expected jax_enable_x64 to be on (jax.config.update), got it off")


def _activation_name(v, name="activation"):
    try:
        return core.get_activation(v).name
    except (TypeError, ValueError) as e:
        raise InvalidArgument(f"{name}: {e}") from None


def _choice(name, v, allowed):
    """A fixed name from ``allowed``, a sequence of them (sampled), or a strategy."""
    if isinstance(v, SearchStrategy):
        return v
    vals = [v] if isinstance(v, str) else list(v)
    if not vals:
        raise InvalidArgument(f"{name}: expected at least one of {', '.join(allowed)}, got none")
    for x in vals:
        if x not in allowed:
            raise InvalidArgument(f"{name}: expected one of {', '.join(allowed)}, got {x!r}")
    return st.sampled_from(vals)


def _as_strategy(name, v, default, check):
    if v is None:
        return default
    if isinstance(v, SearchStrategy):
        return v
    return st.just(check(name, v))


# ------------------------------------------------------------------ randomness
def _bucket(n: int) -> int:
    return max(256, 1 << max(n - 1, 0).bit_length())


@partial(jax.jit, static_argnames=("m", "dtype", "kind"))
def _deviates(keys, m, dtype, kind):
    draw = jax.random.normal if kind == "normal" else jax.random.uniform
    return jax.vmap(lambda k: draw(k, (m,), dtype))(keys)


def _keys(seed: int, size: int | None):
    key = jax.random.key(seed)
    return key[None] if size is None else jax.random.split(key, size)


class _Stream:
    """Hands out consecutive chunks of ``(N, n)`` deviates; counts when ``data`` is None."""

    def __init__(self, data, dtype):
        self.data, self.dtype, self.used = data, dtype, 0

    def take(self, *shape):
        n = math.prod(shape)
        if self.data is None:
            out = np.ones((1,) + shape, self.dtype)
        else:
            out = self.data[:, self.used : self.used + n].reshape((-1,) + shape)
        self.used += n
        return out


def _draw(seed, size, dtype, build, kind="normal"):
    """Runs ``build(stream)`` twice: once to count the deviates, once on ``jax.random`` draws."""
    counter = _Stream(None, dtype)
    build(counter)
    data = np.asarray(_deviates(_keys(seed, size), _bucket(counter.used), dtype, kind))
    return build(_Stream(data, dtype))


def _haar(g):
    """First ``k`` columns of a Haar orthogonal matrix from Gaussian ``g`` (..., m, k), m >= k."""
    q, r = np.linalg.qr(g)
    d = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    return q * np.where(d == 0, 1, d)[..., None, :]


def _matrix(s: _Stream, spectrum, n_out, n_in, p):
    """One weight matrix per batch row, ``(N, n_out, n_in)``, from a spectrum kind and its parameters."""
    k = min(n_out, n_in)
    if spectrum == "gaussian":
        return s.take(n_out, n_in) / math.sqrt(n_in)
    if spectrum == "orthogonal":
        q = _haar(s.take(max(n_out, n_in), k))
        return q if n_out >= n_in else np.swapaxes(q, -1, -2)
    if spectrum == "singular-values":
        u, v = _haar(s.take(n_out, k)), _haar(s.take(n_in, k))
        sv = np.asarray(p["singular_values"], s.dtype)
        return (u * sv[..., None, :]) @ np.swapaxes(v, -1, -2)
    if spectrum == "heavy-tailed":
        df = p["df"]
        g = s.take(n_out, n_in)
        chi2 = np.sum(s.take(df, n_out, n_in) ** 2, axis=1)
        return g / np.sqrt(chi2 / df) / math.sqrt(n_in)
    if spectrum == "scaled":
        return (10.0 ** p["log10_scale"]) * s.take(n_out, n_in) / math.sqrt(n_in)
    raise AssertionError(spectrum)


def _layer(s: _Stream, scheme, n_out, n_in, p):
    """``(W, b)`` with a batch axis, for an init scheme (networks.py's table) or an extra spectrum."""
    if scheme in ("singular-values", "heavy-tailed", "scaled"):
        return _matrix(s, scheme, n_out, n_in, p), s.take(n_out)
    g, gb = s.take(n_out, n_in), s.take(n_out)
    if scheme == "nielsen":
        return g / math.sqrt(n_in), gb
    if scheme == "standard-normal":
        return g, gb
    if scheme == "glorot":
        return g * math.sqrt(2.0 / (n_in + n_out)), 0 * gb
    if scheme == "he":
        return g * math.sqrt(2.0 / n_in), 0 * gb
    if scheme == "orthogonal":
        return math.sqrt(p["sw2"]) * _matrix(s, "orthogonal", n_out, n_in, p), math.sqrt(p["sb2"]) * gb
    if scheme == "gaussian":
        return g * math.sqrt(p["sw2"] / n_in), math.sqrt(p["sb2"]) * gb
    raise AssertionError(scheme)


def _build(seed, size, ws, acts, scheme, params, dtype):
    """The network (batched when ``size`` is an int) drawn from ``jax.random.key(seed)``."""

    def build(s):
        return [_layer(s, scheme, n_out, n_in, p) for n_in, n_out, p in zip(ws[:-1], ws[1:], params)]

    arrays = _draw(seed, size, dtype, build)
    sl = (lambda a: a) if size is not None else (lambda a: a[0])
    return tuple(
        Layer(jnp.asarray(sl(W).astype(dtype)), jnp.asarray(sl(b).astype(dtype)), a) for (W, b), a in zip(arrays, acts)
    )
