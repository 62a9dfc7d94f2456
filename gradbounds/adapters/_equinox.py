"""Equinox: ``eqx.nn.MLP`` and ``eqx.nn.Sequential`` as gradbounds networks.

``eqx.nn.Linear.weight`` is ``(out_features, in_features)``, Nielsen's ``W``,
so no transpose is needed.  An ``MLP`` applies ``activation`` after every
hidden layer and ``final_activation`` after the last; a ``Sequential`` holds
``Linear``, ``Lambda(fn)`` (``fn`` a recognised activation callable, see
:func:`gradbounds.adapters.activation_name`), ``Identity`` and nested
``Sequential``/``MLP``.  Anything else (``BatchNorm``, ``Dropout``, ``Conv``,
``MultiheadAttention``, ``PReLU``, a custom module) is an error naming it.

References:
  Kidger & Garcia 2021, "Equinox: neural networks in JAX via callable PyTrees and
  filtered transformations"; Equinox documentation, ``equinox.nn``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from jax.typing import DTypeLike

from gradbounds._extras import require
from gradbounds.adapters._build import Act, Dense, stack
from gradbounds.core import Layer, activation_name

__all__ = ["from_equinox"]


def _linear(m, where: str) -> Dense:
    if m.in_features == "scalar" or m.out_features == "scalar":
        raise ValueError(f"{where}: expected integer in/out features, got a 'scalar' Linear (use size 1)")
    b = None if m.bias is None else np.asarray(m.bias)
    return Dense(np.asarray(m.weight), b, where)


def _items(m, where: str, out: list) -> None:
    eqx = require("equinox", "gradbounds.from_equinox")
    nn = eqx.nn
    cls = type(m)
    if cls is nn.Sequential:
        for i, sub in enumerate(m.layers):
            _items(sub, f"{where}.layers[{i}] ({type(sub).__name__})", out)
    elif cls is nn.MLP:
        n = len(m.layers)
        for i, lin in enumerate(m.layers):
            w = f"{where}.layers[{i}]"
            if type(lin) is not nn.Linear:
                raise TypeError(f"{w}: expected eqx.nn.Linear, got {type(lin).__name__}")
            out.append(_linear(lin, w))
            fn, what = (m.activation, "activation") if i < n - 1 else (m.final_activation, "final_activation")
            out.append(Act(activation_name(fn, f"{where}.{what}"), f"{where}.{what}"))
    elif cls is nn.Linear:
        out.append(_linear(m, where))
    elif cls is nn.Lambda:
        out.append(Act(activation_name(m.fn, f"{where}.fn"), where))
    elif cls is nn.Identity:
        return
    else:
        raise TypeError(
            f"{where}: expected eqx.nn.Linear, Lambda(activation), Identity, MLP or Sequential, got"
            f" {cls.__name__}, whose forward gradbounds cannot check"
        )


def from_equinox(model: Any, *, dtype: DTypeLike | None = None) -> tuple[Layer, ...]:
    """A gradbounds network equal to an ``eqx.nn.MLP`` or an ``eqx.nn.Sequential`` of linear layers and activations.

    .. math::  a^l = σ_l(W^l a^{l-1} + b^l),\\qquad W^l = \\texttt{layers[l].weight}.

    Args:
      model: ``eqx.nn.MLP`` (``activation``, ``final_activation`` recognised callables) or
        ``eqx.nn.Sequential`` of ``Linear``, ``Lambda(σ)``, ``Identity``, ``MLP``, ``Sequential``.
      dtype: cast to this float dtype; default: the model's own.

    Returns:
      A tuple of :class:`~gradbounds.Layer`, one per ``Linear``; a layer without bias gets ``b = 0``.

    Raises:
      TypeError: an unsupported module or an unrecognised activation callable (named with its path).
      ValueError: two activations in a row, ``'scalar'`` sizes, or a float64 model while JAX runs in 32 bits.

    References:
      Equinox documentation, ``equinox.nn.MLP`` and ``equinox.nn.Sequential``.
    """
    eqx = require("equinox", "gradbounds.from_equinox")
    if not isinstance(model, eqx.Module):
        raise TypeError(
            f"from_equinox: expected an equinox Module (eqx.nn.MLP or Sequential), got {type(model).__name__}"
        )
    items: list = []
    _items(model, type(model).__name__, items)
    return stack(items, dtype, "from_equinox")
