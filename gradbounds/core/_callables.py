"""Which registered activation a framework's callable is: ``jax.nn.*``, ``jnp.tanh``, torch functions.

A callable is recognised by *identity* (``fn is jax.nn.relu``), never by its
name or by sampling it, so a user's own function that happens to be called
``relu`` is refused, not guessed.  ``functools.partial`` of a recognised
function is read through when its keywords are the ones that select a
registered form:

==========================================  ================================
callable                                    name
==========================================  ================================
``jax.nn.gelu`` (``approximate=True``)      ``gelu_tanh``
``partial(jax.nn.gelu, approximate=False)`` ``gelu``
``jax.nn.leaky_relu`` (slope 0.01)          ``leaky_relu``
``partial(jax.nn.leaky_relu,                ``leaky_relu:0.2``
negative_slope=0.2)``
``torch.nn.functional.gelu``                ``gelu`` (torch's default is the erf form)
==========================================  ================================

Torch and Equinox callables are looked for only when ``torch`` or
``equinox`` is already imported (a model of theirs could not exist otherwise),
so recognising a callable never imports a framework.

References:
  JAX documentation, ``jax.nn`` (``gelu``'s ``approximate=True`` default,
  ``leaky_relu``'s ``negative_slope``); PyTorch documentation,
  ``torch.nn.functional`` (``gelu``'s ``approximate='none'`` default);
  Hendrycks & Gimpel 2016 (the two GELUs).
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gradbounds.core._activations import Activation, activation_names, get_activation, leaky_relu

__all__ = ["activation_name", "check_slope"]


def _jax_table() -> list[tuple[Any, str]]:
    t: list[tuple[Any, str]] = [
        (jax.nn.sigmoid, "sigmoid"),
        (jax.lax.logistic, "sigmoid"),
        (jax.scipy.special.expit, "sigmoid"),
        (jnp.tanh, "tanh"),
        (jax.lax.tanh, "tanh"),
        (jax.nn.relu, "relu"),
        (jax.nn.leaky_relu, "leaky_relu"),
        (jax.nn.elu, "elu"),
        (jax.nn.selu, "selu"),
        (jax.nn.softplus, "softplus"),
        (jax.nn.gelu, "gelu_tanh"),  # jax's default is approximate=True
        (jax.nn.silu, "silu"),
        (jax.nn.swish, "silu"),
        (jax.lax.erf, "erf"),
        (jax.scipy.special.erf, "erf"),
        (jax.nn.hard_tanh, "hard_tanh"),
    ]
    if hasattr(jax.nn, "identity"):
        t.append((jax.nn.identity, "linear"))
    return t


def _torch_table() -> list[tuple[Any, str]]:
    if "torch" not in sys.modules:
        return []
    import torch
    import torch.nn.functional as F

    return [
        (torch.sigmoid, "sigmoid"),
        (F.sigmoid, "sigmoid"),
        (torch.special.expit, "sigmoid"),
        (torch.tanh, "tanh"),
        (F.tanh, "tanh"),
        (torch.relu, "relu"),
        (F.relu, "relu"),
        (F.leaky_relu, "leaky_relu"),
        (F.elu, "elu"),
        (torch.selu, "selu"),
        (F.selu, "selu"),
        (F.softplus, "softplus"),
        (F.gelu, "gelu"),  # torch's default is approximate='none'
        (F.silu, "silu"),
        (F.hardtanh, "hard_tanh"),
        (torch.erf, "erf"),
        (torch.special.erf, "erf"),
    ]


def _equinox_table() -> list[tuple[Any, str]]:
    if "equinox" not in sys.modules:
        return []
    try:
        from equinox.nn import _mlp  # eqx.nn.MLP's default final_activation, lambda x: x
    except ImportError:  # pragma: no cover - another equinox layout
        return []
    ident = getattr(_mlp, "_identity", None)
    return [] if ident is None else [(ident, "linear")]


def _lookup(fn) -> str | None:
    for obj, name in (*_jax_table(), *_torch_table(), *_equinox_table()):
        if fn is obj:
            return name
    return None


def _keyword(where: str, fn, kw: dict, key: str, default):
    v = kw.pop(key, default)
    if kw:
        raise TypeError(f"{where}: cannot tell which activation {fn!r} is (keywords {sorted(kw)} change its form)")
    return v


def _number(where, fn, v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: expected a number as the parameter of {fn!r}, got {type(v).__name__}") from None


def _partial(fn: functools.partial, where: str) -> str:
    base = _lookup(fn.func)
    if base is None or fn.args:
        raise TypeError(f"{where}: cannot tell which activation {fn!r} is; {_HINT}")
    kw = dict(fn.keywords)
    if base in ("gelu", "gelu_tanh"):
        approx = _keyword(where, fn, kw, "approximate", True if base == "gelu_tanh" else "none")
        if approx in (True, "tanh"):
            return "gelu_tanh"
        if approx in (False, "none"):
            return "gelu"
        raise ValueError(f"{where}: expected approximate True/False or 'tanh'/'none' in {fn!r}, got {approx!r}")
    if base == "leaky_relu":
        slope = _number(where, fn, _keyword(where, fn, kw, "negative_slope", 0.01))
        return leaky_relu(slope).name
    if base == "elu":
        alpha = _number(where, fn, _keyword(where, fn, kw, "alpha", 1.0))
        if alpha != 1.0:
            raise ValueError(f"{where}: elu with alpha={alpha} is not registered (only alpha=1)")
        return "elu"
    if kw:
        raise TypeError(f"{where}: cannot tell which activation {fn!r} is (keywords {sorted(kw)}); {_HINT}")
    return base


_HINT = "pass a registered name instead (" + ", ".join(activation_names()) + ", or 'leaky_relu:SLOPE')"


def activation_name(fn: str | Activation | Callable, where: str = "activation") -> str:
    """The registry name of an activation given as a name, an :class:`~gradbounds.Activation` or a callable.

    Callables are matched by identity against ``jax.nn``'s, ``jax.numpy``'s,
    ``jax.lax``'s and (when imported) ``torch``'s and Equinox's functions; see the
    module docstring for the table, ``functools.partial`` included.

    Args:
      fn: a name (``"tanh"``, ``"leaky_relu:0.2"``), an Activation or a callable.
      where: what to name in an error (``"layer 2: activation"``).

    Returns:
      The name :func:`gradbounds.get_activation` takes.

    Raises:
      TypeError: a callable that is none of the recognised ones (``where`` and the callable named).
      ValueError: a recognised function with parameters no registered activation has.

    References:
      Hendrycks & Gimpel 2016 (the two GELUs: ``jax.nn.gelu`` defaults to the tanh form,
      ``torch.nn.functional.gelu`` to the erf form).
    """
    if isinstance(fn, (str, Activation)):
        return get_activation(fn).name
    if isinstance(fn, functools.partial):
        return _partial(fn, where)
    name = _lookup(fn)
    if name is None:
        raise TypeError(f"{where}: cannot tell which activation {fn!r} is; {_HINT}")
    return name


def check_slope(where: str, slope: float) -> str:
    """The name of a leaky relu of ``slope`` (a torch module's ``negative_slope``), finite or an error."""
    if not math.isfinite(slope):
        raise ValueError(f"{where}: expected a finite negative_slope, got {slope}")
    return leaky_relu(slope).name
