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
:func:`gradbounds.core.init_network` (Nielsen ch. 5, Glorot, He, Saxe,
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

import inspect
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from gradbounds import core
from gradbounds.core import Layer
from gradbounds.testing._arrays import (
    MAX_SEED,
    SCHEMES,
    SPECTRA,
    _activation_name,
    _as_strategy,
    _build,
    _check_x64,
    _choice,
    _draw,
    _dtype,
    _int,
    _interval,
    _matrix,
    _real,
)

__all__ = ["seeds", "widths", "activations", "init_schemes", "weights", "networks", "network_batches", "layers"]


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
    """Activation names from the registry (:func:`gradbounds.core.activation_names`), or from ``names``."""
    if names is None:
        return st.sampled_from(core.activation_names())
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
):
    """The one definition of the network options (:func:`networks`, :func:`network_batches`)."""
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


def networks(**options) -> SearchStrategy[tuple]:
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
    return _network_strategy(None, **options)


networks.__doc__ += _NETWORK_DOC


def network_batches(*, size: int = 32, **options) -> SearchStrategy[tuple]:
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
    return _network_strategy(_int("size", size, 1), **options)


def _signatures():
    """Show the options' keyword-only signature on both public strategies (one definition, two names)."""
    sig = inspect.signature(_network_strategy)
    opts = [p for name, p in sig.parameters.items() if name != "size"]
    size = inspect.Parameter("size", inspect.Parameter.KEYWORD_ONLY, default=32, annotation="int")
    networks.__signature__ = sig.replace(parameters=opts, return_annotation="SearchStrategy[tuple]")
    network_batches.__signature__ = sig.replace(parameters=[size, *opts], return_annotation="SearchStrategy[tuple]")


_signatures()


def layers(*, min_width: int = 1, max_width: int = 6, **kwargs) -> SearchStrategy[Layer]:
    """One :class:`~gradbounds.Layer` (a one-layer network's layer); ``kwargs`` as :func:`networks`."""
    return networks(widths=widths(min_layers=1, max_layers=1, min_width=min_width, max_width=max_width), **kwargs).map(
        lambda net: net[0]
    )
