"""Feed-forward networks as data: a tuple of :class:`Layer` records.

Notation (Nielsen, *Neural Networks and Deep Learning*, ch. 2): layer ``l``
(``l = 1..L``) has weights ``W^l`` of shape ``(n_l, n_{l-1})``, biases ``b^l``
of shape ``(n_l,)`` and its own activation ``σ_l``;

.. math::

   z^l = W^l a^{l-1} + b^l, \\qquad a^l = σ_l(z^l), \\qquad a^0 = x.

A network is a plain tuple of layers.  :class:`Layer` is a registered pytree
whose leaves are ``W`` and ``b`` and whose activation name is static, so
``jax.jit``, ``jax.vmap`` and ``jax.grad`` act on networks directly, and a
network built from arrays taken out of any framework works the same.

Initialisation schemes (``init=``), all from an explicit ``jax.random`` key:

==================  ==========================================  ===========================
name                W^l                                          b^l
==================  ==========================================  ===========================
``nielsen``         N(0, 1/n_{l-1})                              N(0, 1)   (ch. 5 scripts)
``standard-normal`` N(0, 1)                                      N(0, 1)   (ch. 5 text)
``glorot``          N(0, 2/(n_{l-1}+n_l))                        0
``he``              N(0, 2/n_{l-1})                              0
``orthogonal``      σ_w · (Haar-orthogonal, semi-orthogonal)     N(0, σ_b²)
``gaussian``        N(0, σ_w²/n_{l-1})                           N(0, σ_b²)
==================  ==========================================  ===========================

References:
  Nielsen, ch. 2 (notation) and ch. 5 (``network2.py`` initialisers);
  Glorot & Bengio 2010; He et al. 2015; Saxe et al. 2014 (orthogonal);
  Poole et al. 2016 (σ_w², σ_b² parametrisation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer
from jax.typing import ArrayLike, DTypeLike

from gradbounds.core._activations import Activation, get_activation
from gradbounds.core._callables import activation_name

__all__ = [
    "Layer",
    "Forward",
    "INITS",
    "init_network",
    "network_from_arrays",
    "draw_examples",
    "widths",
    "forward",
    "validate_network",
    "check_finite",
    "check_input",
    "check_widths",
]

INITS = ("nielsen", "standard-normal", "glorot", "he", "orthogonal", "gaussian")
"""The initialisation schemes of :func:`init_network` (the table in the module docstring)."""


@dataclass(frozen=True)
class Layer:
    """One layer: ``z = W a_prev + b``, ``a = σ(z)``.

    Attributes:
      W: weights, shape ``(n_out, n_in)``.
      b: biases, shape ``(n_out,)``.
      activation: registry name of σ (static pytree metadata); required (no default: the arrays do not say it).

    The repr shows the activation, each array's dtype and shape, and its values in the shortest form
    that reads back to the same floats (``numpy.array2string(floatmode="unique")``), so that a
    Hypothesis counterexample can be copied and replayed.
    """

    W: jax.Array
    b: jax.Array
    activation: str

    @property
    def act(self) -> Activation:
        return get_activation(self.activation)

    def __repr__(self) -> str:
        def arr(name, a):
            try:
                v = np.asarray(a)
            except Exception:  # a tracer inside jit: no values to show
                return f"{name}={a!r}", "?"
            prefix = f"    {name}=numpy.array("
            body = np.array2string(
                v, separator=", ", floatmode="unique", threshold=400, max_line_width=110, prefix=prefix
            )
            return f"{name}=numpy.array({body}, dtype={v.dtype.name!r})", f"{v.dtype.name} {v.shape}"

        (w, wd), (b, bd) = arr("W", self.W), arr("b", self.b)
        return (
            f"Layer(  # {self.activation}, W {wd}, b {bd}\n    {w},\n    {b},\n    activation={self.activation!r},\n)"
        )

    def _repr_pretty_(self, p, cycle):  # IPython and Hypothesis's pretty printer: the same text
        p.text(repr(self))


def register_weights(cls: type, serialized_name: str) -> None:
    """Registers a ``(W, b, activation)`` dataclass as a pytree, and for ``jax.export`` serialization.

    ``W`` and ``b`` are leaves; the one static field, the activation's name, is the
    auxiliary data, serialized as its UTF-8 bytes (so that a stored program,
    ``core.stored_program``, may take or return one).
    """
    jax.tree_util.register_dataclass(cls, data_fields=["W", "b"], meta_fields=["activation"])
    jax.export.register_pytree_node_serialization(
        cls,
        serialized_name=serialized_name,
        serialize_auxdata=lambda aux: "\x00".join(aux).encode(),
        deserialize_auxdata=lambda b: tuple(b.decode().split("\x00")),
    )


register_weights(Layer, "gradbounds.core.Layer")


class Forward(NamedTuple):
    """Result of :func:`forward`: ``z[l-1] = z^l`` (l = 1..L), ``a[l] = a^l`` (l = 0..L)."""

    z: tuple
    a: tuple


def widths(net: Sequence[Layer]) -> tuple[int, ...]:
    """``(n_0, n_1, ..., n_L)`` of a network."""
    net = tuple(net)
    if not net:
        raise ValueError("network: expected at least one layer, got 0")
    return (int(net[0].W.shape[-1]),) + tuple(int(layer.W.shape[-2]) for layer in net)


def _activation_list(activation, n_layers: int) -> list[str]:
    """Registry names, one per layer, from a name, an Activation or a callable (``jax.nn.tanh``), or a list of them."""
    if isinstance(activation, (str, Activation)) or callable(activation):
        return [activation_name(activation)] * n_layers
    acts = list(activation)
    if len(acts) != n_layers:
        raise ValueError(f"activations: expected {n_layers} (one per layer), got {len(acts)}")
    return [activation_name(a, f"layer {l}: activation") for l, a in enumerate(acts, start=1)]


def check_widths(widths_: Sequence[int]) -> tuple[int, ...]:
    """Validates ``(n_0, ..., n_L)``: at least two positive ints; returns them as a tuple.

    Raises:
      TypeError: an entry is not an int.
      ValueError: fewer than two entries, or a width below 1 (naming the layer).
    """
    ws = tuple(widths_)
    if len(ws) < 2:
        raise ValueError(f"widths: expected at least 2 entries (n_0, n_1), got {list(ws)}")
    for i, n in enumerate(ws):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"widths[{i}]: expected an int, got {type(n).__name__}")
        if n < 1:
            raise ValueError(f"layer {i}: expected a width >= 1, got {n}")
    return tuple(int(n) for n in ws)


def _orthogonal(key, n_out, n_in, dtype):
    """Haar-distributed (semi-)orthogonal matrix (QR of a Gaussian, sign-fixed)."""
    big, small = max(n_out, n_in), min(n_out, n_in)
    a = jax.random.normal(key, (big, small), dtype)
    q, r = jnp.linalg.qr(a)
    q = q * jnp.sign(jnp.diagonal(r))[None, :]
    return q if n_out >= n_in else q.T


def _unfused(a):
    """``a`` itself; under ``jit`` an optimisation barrier, so that the same key gives the same bits.

    Traced, XLA would fuse the scaling of a drawn array into the sampler's own
    arithmetic and change the last bit of ``W`` (``gradbounds check`` draws its
    networks inside one ``jit``, and must match a user's op-by-op
    ``init_network``).  Op by op there is nothing to fuse and nothing to add.
    """
    return jax.lax.optimization_barrier(a) if isinstance(a, Tracer) else a


def _normals_by_shape(keys, shapes, dtype) -> list:
    """``[jax.random.normal(keys[i], shapes[i], dtype)]``, drawn once per distinct shape (vmapped over the keys).

    The same bits as one call per array (the generator is exact integer arithmetic per key and ``erf_inv``
    is elementwise), with one sampler per shape in a compiled program instead of one per layer: the seed
    network's draws compile to about half the kernels.
    """
    out: list = [None] * len(shapes)
    for shape in dict.fromkeys(shapes):
        idx = [i for i, s in enumerate(shapes) if s == shape]
        drawn = _unfused(jax.vmap(lambda k, shape=shape: jax.random.normal(k, shape, dtype))(keys[np.asarray(idx)]))
        for j, i in enumerate(idx):
            out[i] = drawn[j]
    return out


def init_network(
    key: jax.Array,
    widths: Sequence[int],
    *,
    activation: str | Activation | Callable | Sequence[str | Activation | Callable] = "sigmoid",
    init: str = "nielsen",
    sw2: float = 1.0,
    sb2: float = 0.0,
    dtype: DTypeLike | None = None,
) -> tuple[Layer, ...]:
    """Draws a network from an init scheme (table in the module docstring).

    Args:
      key: a ``jax.random`` key; the same key gives the same network.
      widths: ``(n_0, ..., n_L)``.
      activation: one name for every layer, or a sequence of L names; a callable
        such as ``jax.nn.tanh`` or ``functools.partial(jax.nn.leaky_relu, negative_slope=0.2)``
        is recognised by identity (:func:`activation_name`), an unknown one is a ``TypeError``.
      init: one of :data:`INITS`.
      sw2: σ_w² (a variance) for ``gaussian`` and ``orthogonal``.
      sb2: σ_b² (a variance) for ``gaussian`` and ``orthogonal``.
      dtype: float dtype; default is JAX's default float (float64 under x64).

    Returns:
      A tuple of L :class:`Layer`.

    References:
      Nielsen ch. 5 (``network2.py``: ``default_weight_initializer`` is
      ``nielsen``, ``large_weight_initializer`` is ``standard-normal``);
      Glorot & Bengio 2010; He et al. 2015; Saxe et al. 2014; Poole et al. 2016.
    """
    ws = check_widths(widths)
    acts = _activation_list(activation, len(ws) - 1)
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; expected one of {', '.join(INITS)}")
    if not (math.isfinite(sw2) and math.isfinite(sb2) and sw2 >= 0 and sb2 >= 0):
        raise ValueError(f"sw2 and sb2 are variances: expected finite values >= 0, got sw2={sw2}, sb2={sb2}")
    dtype = jnp.dtype(dtype) if dtype is not None else jnp.zeros(()).dtype
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype: expected a float dtype, got {dtype}")
    keys = jax.random.split(key, len(ws) - 1)
    kwb = jax.vmap(jax.random.split)(keys)  # layer l draws W from kwb[l, 0] and b from kwb[l, 1]
    gws = _normals_by_shape(kwb[:, 0], [(n_out, n_in) for n_in, n_out in zip(ws[:-1], ws[1:])], dtype)
    gbs = _normals_by_shape(kwb[:, 1], [(n_out,) for n_out in ws[1:]], dtype)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(ws[:-1], ws[1:])):
        kw, gw, gb = kwb[i, 0], gws[i], gbs[i]
        if init == "nielsen":
            W, b = gw / math.sqrt(n_in), gb
        elif init == "standard-normal":
            W, b = gw, gb
        elif init == "glorot":
            W, b = gw * math.sqrt(2.0 / (n_in + n_out)), jnp.zeros_like(gb)
        elif init == "he":
            W, b = gw * math.sqrt(2.0 / n_in), jnp.zeros_like(gb)
        elif init == "orthogonal":
            W, b = math.sqrt(sw2) * _unfused(_orthogonal(kw, n_out, n_in, dtype)), math.sqrt(sb2) * gb
        else:  # gaussian
            W, b = gw * math.sqrt(sw2 / n_in), math.sqrt(sb2) * gb
        layers.append(Layer(W.astype(dtype), b.astype(dtype), acts[i]))
    return tuple(layers)


def network_from_arrays(
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike],
    activation: str | Activation | Callable | Sequence[str | Activation | Callable],
    *,
    validate: bool = True,
) -> tuple[Layer, ...]:
    """Builds a network from user arrays ``W^1..W^L`` and ``b^1..b^L`` and their activations.

    ``activation`` (one name for every layer, or one per layer) is required: arrays do not
    say their activation, and none is assumed.

    Arrays keep their dtype (numpy arrays become JAX arrays of the same dtype).
    With ``validate`` the shapes, dtypes and finiteness are checked by
    :func:`validate_network`.
    """
    weights, biases = list(weights), list(biases)
    if len(weights) != len(biases):
        raise ValueError(f"expected as many biases as weights ({len(weights)}), got {len(biases)}")
    acts = _activation_list(activation, len(weights))
    net = tuple(Layer(jnp.asarray(W), jnp.asarray(b), a) for W, b, a in zip(weights, biases, acts))
    if validate:
        validate_network(net)
    return net


def _is_float_array(x) -> bool:
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating)


def check_finite(name: str, x: ArrayLike) -> None:
    """Raises ``ValueError`` naming ``name`` if ``x`` holds NaN or inf (skipped under tracing)."""
    if isinstance(x, Tracer):
        return
    arr = np.asarray(x)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name}: expected finite values, got {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)}")


_ADAPTERS = {"torch": "from_torch", "equinox": "from_equinox", "flax": "from_flax"}


def _adapter_hint(net, layer) -> str:
    """``"; convert the model with gradbounds.from_torch(model)"`` for a framework's module, else ``""``."""
    top = type(layer).__module__.split(".")[0]
    return f" (a {top} module: convert the model with gradbounds.{_ADAPTERS[top]}(model))" if top in _ADAPTERS else ""


def validate_network(net: Sequence[Layer]) -> tuple[int, ...]:
    """Checks shapes, dtypes and finiteness layer by layer; returns the widths.

    Raises:
      TypeError: a non-float array or mixed dtypes, naming the layer.
      ValueError: a shape mismatch, a zero width, NaN or inf, naming the layer
        with what was expected and what was given.
    """
    net = tuple(net)
    if not net:
        raise ValueError("network: expected at least one layer, got 0")
    dtype = None
    for l, layer in enumerate(net, start=1):
        if not isinstance(layer, Layer):
            raise TypeError(f"layer {l}: expected a Layer, got {type(layer).__name__}{_adapter_hint(net, layer)}")
        W, b = layer.W, layer.b
        for nm, arr in (("W", W), ("b", b)):
            if not _is_float_array(arr):
                got = getattr(arr, "dtype", type(arr).__name__)
                raise TypeError(f"layer {l}: expected {nm} of a float dtype, got {got}")
        if W.ndim != 2:
            raise ValueError(f"layer {l}: expected W of rank 2 (n_{l}, n_{l - 1}), got shape {tuple(W.shape)}")
        if 0 in W.shape:
            raise ValueError(f"layer {l}: expected non-zero widths, got W of shape {tuple(W.shape)}")
        if b.shape != (W.shape[0],):
            hint = ""
            if b.shape == (W.shape[1],):
                hint = "; W looks transposed (Flax and Keras kernels are (n_in, n_out): pass kernel.T)"
            raise ValueError(f"layer {l}: expected b of shape {(W.shape[0],)}, got {tuple(b.shape)}{hint}")
        if l > 1:
            want = net[l - 2].W.shape[0]
            if W.shape[1] != want:
                raise ValueError(f"layer {l}: expected W of shape {(W.shape[0], want)}, got {tuple(W.shape)}")
        if dtype is None:
            dtype = W.dtype
        for nm, arr in (("W", W), ("b", b)):
            if arr.dtype != dtype:
                raise TypeError(f"layer {l}: expected {nm} of dtype {dtype} (as W1), got {arr.dtype}")
        get_activation(layer.activation)
        check_finite(f"layer {l}: W", W)
        check_finite(f"layer {l}: b", b)
    return widths(net)


def check_input(net: Sequence[Layer], x: jax.Array | np.ndarray, name: str = "x", *, n: int | None = None) -> None:
    """Checks that ``x`` is a finite float vector of the network's input width."""
    want = widths(net)[0] if n is None else n
    dtype = net[0].W.dtype
    if not _is_float_array(x):
        raise TypeError(f"{name}: expected a float array of dtype {dtype}, got {getattr(x, 'dtype', type(x).__name__)}")
    if x.shape[-1:] != (want,):
        raise ValueError(f"{name}: expected shape (..., {want}), got {tuple(x.shape)}")
    if x.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype} (the network's), got {x.dtype}")
    check_finite(name, x)


def forward(net: Sequence[Layer], x: ArrayLike) -> Forward:
    """Forward pass returning every ``z^l`` and ``a^l``.

    .. math::  z^l = W^l a^{l-1} + b^l,\\quad a^l = σ_l(z^l),\\quad a^0 = x.

    Args:
      net: tuple of :class:`Layer`.
      x: input of shape ``(n_0,)``.

    Returns:
      :class:`Forward` with ``z`` (L arrays) and ``a`` (L+1 arrays, ``a[0] = x``).

    References:
      Nielsen, ch. 2, eq. (25).
    """
    a = x
    zs, as_ = [], [x]
    for layer in net:
        z = layer.W @ a + layer.b
        a = layer.act.fn(z)
        zs.append(z)
        as_.append(a)
    return Forward(tuple(zs), tuple(as_))


def draw_examples(key: jax.Array, n: int, n_0: int, n_L: int, dtype: DTypeLike) -> tuple[jax.Array, jax.Array]:
    """``n`` random examples: ``x`` uniform in ``[0, 1]^{n_0}``, ``y`` a random one-hot of ``n_L`` classes.

    With ``n_L = 1`` the target is uniform in ``[0, 1]`` instead (a one-hot of
    one class would be constant).  The same key gives the same examples.

    Returns:
      ``x`` of shape ``(n, n_0)`` and ``y`` of shape ``(n, n_L)``, both of ``dtype``.
    """
    kx, ky = jax.random.split(key)
    x = jax.random.uniform(kx, (n, n_0), dtype)
    if n_L == 1:
        y = jax.random.uniform(ky, (n, 1), dtype)
    else:
        y = jax.nn.one_hot(jax.random.randint(ky, (n,), 0, n_L), n_L, dtype=dtype)
    return x, y
