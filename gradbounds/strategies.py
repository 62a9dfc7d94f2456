"""Hypothesis strategies for networks, weights, inputs and targets.

Every strategy draws a few small choices from Hypothesis (sizes, names,
exponents) and one integer *seed*; the arrays are then built from
``jax.random.key(seed)``, so a failing example shrinks on its sizes and seed
and replays exactly.  All bounds are keyword-only with small defaults and are
checked at once (:class:`hypothesis.errors.InvalidArgument`, as in
``hypothesis.extra.numpy``).

Weights with controlled spectra (:func:`weights`, and the extra schemes of
:func:`networks`):

.. math::

   W = U\\,\\mathrm{diag}(s)\\,V^T \\ (\\text{prescribed } s),\\qquad
   W = Q \\ (\\text{orthogonal}),\\qquad
   W_{ij} = t_ν/\\sqrt{n_{in}} \\ (\\text{heavy-tailed}),\\qquad
   W_{ij} = 10^{c} g_{ij}/\\sqrt{n_{in}} \\ (\\text{scaled}),

with ``U``, ``V``, ``Q`` Haar-distributed (QR of a Gaussian matrix with the
signs of ``diag R`` fixed, Mezzadri 2007), ``t_ν = g/\\sqrt{χ²_ν/ν}`` a
Student-t deviate with integer ``ν`` degrees of freedom (``ν = 1``: Cauchy)
and ``g`` standard normal.  The init schemes of
:func:`gradbounds.networks.init_network` (Nielsen ch. 5, Glorot, He, Saxe,
Poole) are drawn with the same formulas, not the same random numbers.

Speed.  The Gaussian deviates come from one ``jax.random.normal`` call per
draw, at a length rounded up to a power of two (and vmapped over the keys of
a batch), so XLA compiles a handful of shapes per session instead of one per
network shape; scaling and QR are then done in NumPy.  A *batch* of
networks (:func:`network_batches`) is one network whose arrays carry a
leading axis, ready for ``jax.vmap``, so a single Hypothesis example checks
many networks.

This module imports Hypothesis; ``import gradbounds`` does not import it.
Hypothesis runs :func:`_hypothesis_setup_hook` through the ``hypothesis``
entry point declared in ``pyproject.toml``, which registers
``st.from_type(Layer)``.

References:
  Mezzadri 2007, "How to generate random matrices from the classical compact
  groups" (Haar orthogonal matrices by sign-fixed QR); Nielsen, *Neural
  Networks and Deep Learning*, ch. 5 (init schemes); MacIver et al.,
  Hypothesis (strategies, shrinking).
"""

from __future__ import annotations


def _hypothesis_setup_hook() -> None:
    """Registers a strategy for :class:`gradbounds.networks.Layer` (``st.from_type``).

    Defined before the imports below: when this module is imported first, its
    ``import hypothesis`` runs Hypothesis's entry points, which look this
    function up on the half-initialised module.  The registered strategy is a
    callable, resolved when first used.
    """
    from hypothesis import strategies as st_

    from gradbounds.networks import Layer as Layer_

    st_.register_type_strategy(Layer_, lambda _type: layers())


import math  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from functools import partial  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import InvalidArgument  # noqa: E402
from hypothesis.strategies import SearchStrategy  # noqa: E402

from gradbounds import activations as _acts  # noqa: E402
from gradbounds.networks import INITS, Layer  # noqa: E402

__all__ = [
    "SPECTRA",
    "SCHEMES",
    "MAX_SEED",
    "seeds",
    "widths",
    "activations",
    "init_schemes",
    "weights",
    "networks",
    "network_batches",
    "layers",
    "inputs",
    "targets",
]

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
        return _acts.get(v).name
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


# ------------------------------------------------------------------ strategies
def seeds() -> SearchStrategy[int]:
    """Seeds for ``jax.random.key``: integers in ``[0, 2**32 - 1]``, shrinking to 0."""
    return st.integers(0, MAX_SEED)


def widths(*, min_layers: int = 1, max_layers: int = 4, min_width: int = 1, max_width: int = 6):
    """Layer widths ``(n_0, n_1, ..., n_L)`` with ``L`` in ``[min_layers, max_layers]``.

    Every ``n_l`` lies in ``[min_width, max_width]``; shrinks towards fewer,
    narrower layers.
    """
    min_layers, max_layers = _int("min_layers", min_layers, 1), _int("max_layers", max_layers, 1)
    min_width, max_width = _int("min_width", min_width, 1), _int("max_width", max_width, 1)
    _interval("min_layers", min_layers, "max_layers", max_layers)
    _interval("min_width", min_width, "max_width", max_width)
    return st.lists(st.integers(min_width, max_width), min_size=min_layers + 1, max_size=max_layers + 1).map(tuple)


def activations(*, names: Sequence[str] | None = None) -> SearchStrategy[str]:
    """Activation names from the registry (:func:`gradbounds.activations.names`), or from ``names``."""
    if names is None:
        return st.sampled_from(_acts.names())
    if isinstance(names, str):
        names = [names]
    names = [_activation_name(n, "names") for n in names]
    if not names:
        raise InvalidArgument("names: expected at least one activation name, got none")
    return st.sampled_from(names)


_widths_fn = widths
_activations_fn = activations


def init_schemes(*, names: Sequence[str] | None = None) -> SearchStrategy[str]:
    """Weight schemes of :func:`networks`: :data:`SCHEMES` (the init schemes and the extra spectra)."""
    return _choice("names", SCHEMES if names is None else names, SCHEMES)


def _spectrum_params(
    spectrum,
    n_out,
    n_in,
    *,
    singular_values,
    min_log10_sv,
    max_log10_sv,
    min_df,
    max_df,
    min_log10_scale,
    max_log10_scale,
    sw2,
    sb2,
):
    """Strategy for the per-matrix parameters of a spectrum/scheme (drawn by Hypothesis, so they shrink)."""
    k = min(n_out, n_in)
    if spectrum == "singular-values":
        if singular_values is not None:
            if len(singular_values) != k:
                raise InvalidArgument(
                    f"singular_values: expected {k} values for shape {(n_out, n_in)}, got {len(singular_values)}"
                )
            return st.just({"singular_values": tuple(singular_values)})
        logs = st.lists(st.floats(min_log10_sv, max_log10_sv), min_size=k, max_size=k)
        return logs.map(lambda e: {"singular_values": tuple(10.0**x for x in e)})
    if spectrum == "heavy-tailed":
        return st.builds(lambda d: {"df": d}, st.integers(min_df, max_df))
    if spectrum == "scaled":
        return st.builds(lambda c: {"log10_scale": c}, st.floats(min_log10_scale, max_log10_scale))
    if spectrum in ("orthogonal", "gaussian"):
        return st.builds(lambda a, b: {"sw2": a, "sb2": b}, sw2, sb2)
    return st.just({})


def _spectral_bounds(min_log10_sv, max_log10_sv, min_df, max_df, min_log10_scale, max_log10_scale):
    out = dict(
        min_log10_sv=_real("min_log10_sv", min_log10_sv),
        max_log10_sv=_real("max_log10_sv", max_log10_sv),
        min_df=_int("min_df", min_df, 1),
        max_df=_int("max_df", max_df, 1),
        min_log10_scale=_real("min_log10_scale", min_log10_scale),
        max_log10_scale=_real("max_log10_scale", max_log10_scale),
    )
    _interval("min_log10_sv", min_log10_sv, "max_log10_sv", max_log10_sv)
    _interval("min_df", min_df, "max_df", max_df)
    _interval("min_log10_scale", min_log10_scale, "max_log10_scale", max_log10_scale)
    for nm in ("min_log10_sv", "max_log10_sv", "min_log10_scale", "max_log10_scale"):
        if abs(out[nm]) > 100:
            raise InvalidArgument(f"{nm}: expected |{nm}| <= 100 (finite weights), got {out[nm]}")
    return out


def weights(
    shape,
    *,
    spectrum=None,
    singular_values: Sequence[float] | None = None,
    min_log10_sv: float = -2.0,
    max_log10_sv: float = 2.0,
    min_df: int = 1,
    max_df: int = 4,
    min_log10_scale: float = -3.0,
    max_log10_scale: float = 3.0,
    dtype=jnp.float64,
) -> SearchStrategy[jax.Array]:
    """One weight matrix of shape ``(n_out, n_in)`` with a controlled spectrum.

    .. math::

       \\text{singular-values: } W = U\\mathrm{diag}(s)V^T,\\quad
       \\text{orthogonal: } W^TW = I \\text{ or } WW^T = I,\\quad
       \\text{heavy-tailed: } W_{ij} = t_ν/\\sqrt{n_{in}},\\quad
       \\text{scaled: } W_{ij} = 10^c g_{ij}/\\sqrt{n_{in}},\\quad
       \\text{gaussian: } W_{ij} = g_{ij}/\\sqrt{n_{in}}.

    Args:
      shape: ``(n_out, n_in)`` or a strategy for it.
      spectrum: one of :data:`SPECTRA`, a sequence of them, or a strategy;
        default all of them.
      singular_values: the ``min(n_out, n_in)`` values ``s`` (>= 0) for
        ``singular-values``; default ``10**e`` with each ``e`` drawn in
        ``[min_log10_sv, max_log10_sv]``.
      min_df, max_df: Student-t degrees of freedom ``ν`` for ``heavy-tailed``
        (``ν = 1`` is Cauchy).
      min_log10_scale, max_log10_scale: range of the exponent ``c`` for ``scaled``.
      dtype: float32 or float64.

    References:
      Mezzadri 2007 (Haar U, V by sign-fixed QR).
    """
    spectra = _choice("spectrum", SPECTRA if spectrum is None else spectrum, SPECTRA)
    bounds = _spectral_bounds(min_log10_sv, max_log10_sv, min_df, max_df, min_log10_scale, max_log10_scale)
    dt = _dtype(dtype)
    if singular_values is not None:
        sv = [_real("singular_values", v) for v in singular_values]
        if any(v < 0 for v in sv):
            raise InvalidArgument(f"singular_values: expected values >= 0, got {sv}")
        singular_values = tuple(sv)
    if isinstance(shape, SearchStrategy):
        shapes = shape
    else:
        shp = tuple(shape)
        if len(shp) != 2:
            raise InvalidArgument(f"shape: expected (n_out, n_in), got {shp!r}")
        shp = (_int("shape[0]", shp[0], 1), _int("shape[1]", shp[1], 1))
        if singular_values is not None and len(singular_values) != min(shp):
            raise InvalidArgument(
                f"singular_values: expected {min(shp)} values for shape {shp}, got {len(singular_values)}"
            )
        shapes = st.just(shp)
    unit = {"sw2": st.just(1.0), "sb2": st.just(0.0)}

    @st.composite
    def draw_weights(draw):
        _check_x64(dt)
        n_out, n_in = draw(shapes)
        kind = draw(spectra)
        p = draw(_spectrum_params(kind, n_out, n_in, singular_values=singular_values, **bounds, **unit))
        seed = draw(seeds())
        (W,) = _draw(seed, None, dt, lambda s: [_matrix(s, kind, n_out, n_in, p)])
        return jnp.asarray(W[0].astype(dt))

    return draw_weights()


def _network_strategy(
    size,
    *,
    widths,
    activations,
    mixed_activations,
    output_activation,
    init,
    sw2,
    sb2,
    min_log10_sv,
    max_log10_sv,
    min_df,
    max_df,
    min_log10_scale,
    max_log10_scale,
    dtype,
):
    dt = _dtype(dtype)
    if not isinstance(mixed_activations, bool):
        raise InvalidArgument(f"mixed_activations: expected a bool, got {mixed_activations!r}")
    bounds = _spectral_bounds(min_log10_sv, max_log10_sv, min_df, max_df, min_log10_scale, max_log10_scale)
    if widths is None:
        ws_st = _widths_fn()
    elif isinstance(widths, SearchStrategy):
        ws_st = widths
    else:
        ws = tuple(widths)
        if len(ws) < 2:
            raise InvalidArgument(f"widths: expected at least 2 entries (n_0, n_1), got {list(ws)}")
        ws_st = st.just(tuple(_int(f"widths[{i}]", n, 1) for i, n in enumerate(ws)))
    fixed_acts = None
    if activations is None:
        act_st = _activations_fn()
    elif isinstance(activations, SearchStrategy):
        act_st = activations
    elif isinstance(activations, str):
        act_st = st.just(_activation_name(activations))
    else:
        fixed_acts = tuple(_activation_name(a, "activations") for a in activations)
        act_st = None
        if not fixed_acts:
            raise InvalidArgument("activations: expected a name, a strategy or one name per layer, got none")
        if not isinstance(widths, (SearchStrategy, type(None))) and len(fixed_acts) != len(tuple(widths)) - 1:
            raise InvalidArgument(
                f"activations: expected {len(tuple(widths)) - 1} names (one per layer of {tuple(widths)}), "
                f"got {len(fixed_acts)}"
            )
    out_st = None
    if isinstance(output_activation, SearchStrategy):
        out_st = output_activation
    elif output_activation is not None:
        out_st = st.just(_activation_name(output_activation, "output_activation"))
    init_st = init_schemes() if init is None else _choice("init", init, SCHEMES)
    sw2_st = _as_strategy("sw2", sw2, st.floats(0.25, 4.0), _nonneg)
    sb2_st = _as_strategy("sb2", sb2, st.floats(0.0, 1.0), _nonneg)

    @st.composite
    def draw_network(draw):
        _check_x64(dt)
        ws = draw(ws_st)
        L = len(ws) - 1
        if fixed_acts is not None:
            if len(fixed_acts) != L:
                raise InvalidArgument(f"activations: expected {L} names (one per layer of {ws}), got {len(fixed_acts)}")
            acts = fixed_acts
        elif mixed_activations:
            acts = tuple(_activation_name(draw(act_st)) for _ in range(L))
        else:
            acts = (_activation_name(draw(act_st)),) * L
        if out_st is not None:
            acts = acts[:-1] + (_activation_name(draw(out_st), "output_activation"),)
        scheme = draw(init_st)
        if scheme in ("orthogonal", "gaussian"):
            shared = {"sw2": draw(sw2_st), "sb2": draw(sb2_st)}
            params = [shared] * L
        else:
            params = [
                draw(_spectrum_params(scheme, n_out, n_in, singular_values=None, **bounds, sw2=sw2_st, sb2=sb2_st))
                for n_in, n_out in zip(ws[:-1], ws[1:])
            ]
        seed = draw(seeds())
        return _build(seed, size, ws, acts, scheme, params, dt)

    return draw_network()


def _nonneg(name, v):
    v = _real(name, v)
    if v < 0:
        raise InvalidArgument(f"{name}: expected a variance >= 0, got {v}")
    return v


_NETWORK_DOC = """
    Args:
      widths: ``(n_0, ..., n_L)``, or a strategy for them (default :func:`widths`).
      activations: a name for every layer, a sequence of L names, or a strategy
        for names (default :func:`activations`).
      mixed_activations: with a strategy, draw each layer's activation on its own.
      output_activation: the last layer's activation (a name or a strategy),
        overriding ``activations`` there (e.g. ``"sigmoid"`` for cross-entropy).
      init: one of :data:`SCHEMES`, a sequence of them, or a strategy (default all).
      sw2, sb2: σ_w², σ_b² for the ``gaussian`` and ``orthogonal`` schemes
        (numbers or strategies; default ``floats(0.25, 4)`` and ``floats(0, 1)``).
      min_log10_sv, max_log10_sv: range of ``log10 s`` for ``singular-values``.
      min_df, max_df: Student-t degrees of freedom for ``heavy-tailed``.
      min_log10_scale, max_log10_scale: range of the exponent for ``scaled``.
      dtype: float32 or float64 (float64 needs ``jax_enable_x64``).
"""


def networks(
    *,
    widths=None,
    activations=None,
    mixed_activations: bool = False,
    output_activation=None,
    init=None,
    sw2=None,
    sb2=None,
    min_log10_sv: float = -2.0,
    max_log10_sv: float = 2.0,
    min_df: int = 1,
    max_df: int = 4,
    min_log10_scale: float = -3.0,
    max_log10_scale: float = 3.0,
    dtype=jnp.float64,
) -> SearchStrategy[tuple]:
    """A network: a tuple of :class:`~gradbounds.Layer`, drawn from a seed.

    .. math::

       W^l_{ij} \\sim \\mathcal N(0, v_W(n_{l-1}, n_l)),\\qquad
       b^l_i \\sim \\mathcal N(0, v_b),\\qquad l = 1..L,

    with ``v_W = 1/n_{l-1}`` (``nielsen``), ``1`` (``standard-normal``),
    ``2/(n_{l-1}+n_l)`` (``glorot``), ``2/n_{l-1}`` (``he``),
    ``σ_w²/n_{l-1}`` (``gaussian``), or a controlled spectrum (``orthogonal``
    scaled by ``σ_w``, ``singular-values``, ``heavy-tailed``, ``scaled``; see
    :func:`weights`).  Biases: ``v_b = 1`` for ``nielsen``,
    ``standard-normal`` and the extra spectra, ``σ_b²`` for
    ``gaussian``/``orthogonal``, zero for ``glorot``/``he``.  Shrinks towards
    one layer of width 1, the first activation and the first scheme.

    References:
      Nielsen, *Neural Networks and Deep Learning*, ch. 5; Glorot & Bengio
      2010; He et al. 2015; Saxe et al. 2014; Poole et al. 2016.
    """
    return _network_strategy(
        None,
        widths=widths,
        activations=activations,
        mixed_activations=mixed_activations,
        output_activation=output_activation,
        init=init,
        sw2=sw2,
        sb2=sb2,
        min_log10_sv=min_log10_sv,
        max_log10_sv=max_log10_sv,
        min_df=min_df,
        max_df=max_df,
        min_log10_scale=min_log10_scale,
        max_log10_scale=max_log10_scale,
        dtype=dtype,
    )


networks.__doc__ += _NETWORK_DOC


def network_batches(
    *,
    size: int = 32,
    widths=None,
    activations=None,
    mixed_activations: bool = False,
    output_activation=None,
    init=None,
    sw2=None,
    sb2=None,
    min_log10_sv: float = -2.0,
    max_log10_sv: float = 2.0,
    min_df: int = 1,
    max_df: int = 4,
    min_log10_scale: float = -3.0,
    max_log10_scale: float = 3.0,
    dtype=jnp.float64,
) -> SearchStrategy[tuple]:
    """``size`` networks with the same widths, activations and scheme, stacked.

    The result is one network whose arrays have a leading axis ``size``
    (``W`` is ``(size, n_l, n_{l-1})``), as ``jax.vmap(init)(keys)`` would
    give; network ``i`` is drawn from ``jax.random.split(key(seed), size)[i]``.
    Use ``jax.vmap`` (or :func:`gradbounds.sweep`) over it to check ``size``
    networks per Hypothesis example: under ``jax.jit`` the cost of an example
    is the compilation for its shapes, nearly independent of ``size``.

    Args:
      size: number of networks (>= 1).
      widths, activations, mixed_activations, output_activation, init, sw2,
        sb2, min_log10_sv, max_log10_sv, min_df, max_df, min_log10_scale,
        max_log10_scale, dtype: as :func:`networks` (drawn once per batch;
        the random arrays differ between the networks of a batch).
    """
    return _network_strategy(
        _int("size", size, 1),
        widths=widths,
        activations=activations,
        mixed_activations=mixed_activations,
        output_activation=output_activation,
        init=init,
        sw2=sw2,
        sb2=sb2,
        min_log10_sv=min_log10_sv,
        max_log10_sv=max_log10_sv,
        min_df=min_df,
        max_df=max_df,
        min_log10_scale=min_log10_scale,
        max_log10_scale=max_log10_scale,
        dtype=dtype,
    )


def layers(*, min_width: int = 1, max_width: int = 6, **kwargs) -> SearchStrategy[Layer]:
    """One :class:`~gradbounds.Layer` (a one-layer network's layer); ``kwargs`` as :func:`networks`."""
    return networks(widths=widths(min_layers=1, max_layers=1, min_width=min_width, max_width=max_width), **kwargs).map(
        lambda net: net[0]
    )


def _net_info(net):
    net = tuple(net)
    if not net or not all(isinstance(layer, Layer) for layer in net):
        raise InvalidArgument(f"net: expected a non-empty tuple of Layer, got {type(net).__name__}")
    W0, WL = net[0].W, net[-1].W
    return W0.shape[:-2], int(W0.shape[-1]), int(WL.shape[-2]), jnp.dtype(W0.dtype)


def _examples_shape(batch, examples):
    if examples is None:
        return tuple(batch)
    return tuple(batch) + (_int("examples", examples, 1),)


def _uniform_array(seed, shape, dtype):
    n = max(math.prod(shape), 1)
    data = np.asarray(_deviates(_keys(seed, None), _bucket(n), dtype, "uniform"))[0, : math.prod(shape)]
    return data.reshape(shape)


def inputs(net, *, examples: int | None = None, min_value: float = -1.0, max_value: float = 1.0):
    """Inputs ``x`` for ``net``: uniform in ``[min_value, max_value]``.

    Shape ``(*batch, n_0)`` or ``(*batch, examples, n_0)``, where ``batch`` is
    the network's leading axes (``(size,)`` for :func:`network_batches`).
    """
    batch, n0, _, dt = _net_info(net)
    shape = _examples_shape(batch, examples) + (n0,)
    lo, hi = _real("min_value", min_value), _real("max_value", max_value)
    _interval("min_value", lo, "max_value", hi)
    return seeds().map(lambda s: jnp.asarray((lo + (hi - lo) * _uniform_array(s, shape, dt)).astype(dt)))


def targets(net, *, examples: int | None = None, kind: str = "uniform"):
    """Targets ``y`` for ``net`` in ``[0, 1]`` (valid for the quadratic and the cross-entropy cost).

    ``kind="uniform"``: entries uniform in ``[0, 1]``; ``"one-hot"``: one
    entry 1, the others 0 (a class label).  Shape as :func:`inputs`, with
    ``n_L`` last.
    """
    batch, _, nL, dt = _net_info(net)
    shape = _examples_shape(batch, examples) + (nL,)
    if kind not in ("uniform", "one-hot"):
        raise InvalidArgument(f"kind: expected 'uniform' or 'one-hot', got {kind!r}")

    def make(s):
        u = _uniform_array(s, shape, dt)
        if kind == "one-hot":
            u = (np.arange(nL) == np.floor(u[..., :1] * nL).clip(0, nL - 1)).astype(dt)
        return jnp.asarray(u.astype(dt))

    return seeds().map(make)
