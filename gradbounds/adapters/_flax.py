"""Flax: ``nnx.Sequential``, linen ``nn.Sequential`` with its params, and linen Dense stacks, as gradbounds networks.

Flax kernels are ``(n_in, n_out)`` (``y = x @ kernel + bias``); gradbounds'
``W`` is ``(n_out, n_in)``, so ``W = kernel.T`` (done here, never left to the
user).  Three ways in:

* ``from_flax(nnx_model)``: an ``nnx.Sequential`` of ``nnx.Linear`` and
  activation callables (``nnx.relu``, ``jax.nn.tanh``, ...);
* ``from_flax(linen_model, params)``: a linen ``nn.Sequential`` of ``nn.Dense``
  and activation callables, with the params ``init`` returned;
* ``from_flax(params, activation=...)``: a linen Dense stack given its params
  alone (``{"params": {"Dense_0": {"kernel", "bias"}, ...}}``, layers in the
  dict's order, which is the order the modules were called), with one
  activation for every layer or one per layer.

Anything else (``BatchNorm``, ``Dropout``, ``Conv``, attention, an
unrecognised callable) is an error naming it.  A ``Linear``/``Dense`` whose
computation ``dtype`` differs from its parameters' is refused (its forward
would round where the network's does not).

References:
  Heek et al. 2023, "Flax: A neural network library and ecosystem for JAX";
  Flax documentation, ``flax.nnx.Linear`` and ``flax.linen.Dense``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from jax.typing import DTypeLike

from gradbounds._extras import require
from gradbounds.adapters._build import Act, Dense, stack
from gradbounds.core import Layer, activation_name

__all__ = ["from_flax"]


def _check_compute_dtype(m, kernel: np.ndarray, where: str) -> None:
    dt = getattr(m, "dtype", None)
    if dt is not None and np.dtype(dt) != kernel.dtype:
        raise ValueError(
            f"{where}: computes in {np.dtype(dt)} on {kernel.dtype} parameters; expected dtype=None (or equal)"
        )


def _dense(kernel, bias, m, where: str) -> Dense:
    k = np.asarray(kernel)
    if k.ndim != 2:
        raise ValueError(f"{where}: expected a kernel of rank 2 (n_in, n_out), got shape {k.shape}")
    if m is not None:
        _check_compute_dtype(m, k, where)
    return Dense(k.T, None if bias is None else np.asarray(bias), where)


def _nnx_items(m, where: str, out: list) -> None:
    nnx = require("flax.nnx", "gradbounds.from_flax")
    cls = type(m)
    if cls is nnx.Sequential:
        for i, sub in enumerate(m.layers):
            _nnx_items(sub, f"{where}.layers[{i}]", out)
    elif cls is nnx.Linear:
        bias = None if m.bias is None else m.bias[...]
        out.append(_dense(m.kernel[...], bias, m, f"{where} (Linear)"))
    elif isinstance(m, nnx.Module):
        raise TypeError(
            f"{where}: expected nnx.Linear, nnx.Sequential or an activation function, got {cls.__name__},"
            " whose forward gradbounds cannot check"
        )
    else:
        out.append(Act(activation_name(m, where), where))


def _linen_items(model, params: Mapping, out: list) -> None:
    nn = require("flax.linen", "gradbounds.from_flax")
    p = params.get("params", params)
    for i, sub in enumerate(model.layers):
        where = f"Sequential.layers[{i}]"
        if type(sub) is nn.Dense:
            name = f"layers_{i}"
            if name not in p:
                raise ValueError(f"{where} (Dense): expected params[{name!r}], got keys {sorted(p)}")
            q = p[name]
            out.append(_dense(q["kernel"], q.get("bias"), sub, f"{where} (Dense)"))
        elif isinstance(sub, nn.Module):
            raise TypeError(
                f"{where}: expected nn.Dense or an activation function, got {type(sub).__name__},"
                " whose forward gradbounds cannot check"
            )
        else:
            out.append(Act(activation_name(sub, where), where))


def _params_items(params: Mapping, activation, out: list) -> None:
    p = params.get("params", params)
    if not isinstance(p, Mapping) or not p:
        raise ValueError(f"from_flax: expected params of Dense layers ({{'Dense_0': {{'kernel', 'bias'}}}}), got {p!r}")
    names = list(p)
    if activation is None:
        raise ValueError(
            "from_flax: params do not say the activations; expected activation= (one name or callable, or one per"
            " layer), got none"
        )
    if isinstance(activation, str) or callable(activation) or not isinstance(activation, Sequence):
        acts: list[Any] = [activation] * len(names)
    else:
        acts = list(activation)
    if len(acts) != len(names):
        raise ValueError(f"from_flax: expected {len(names)} activations (one per Dense layer), got {len(acts)}")
    for i, (name, a) in enumerate(zip(names, acts), start=1):
        q = p[name]
        if not isinstance(q, Mapping) or "kernel" not in q:
            raise ValueError(f"from_flax: params[{name!r}]: expected a Dense layer's kernel and bias, got {q!r:.80}")
        extra = sorted(set(q) - {"kernel", "bias"})
        if extra:
            raise ValueError(f"from_flax: params[{name!r}]: expected only kernel and bias (a Dense layer), got {extra}")
        out.append(_dense(q["kernel"], q.get("bias"), None, f"params[{name!r}]"))
        out.append(Act(activation_name(a, f"layer {i}: activation"), f"layer {i}"))


def from_flax(
    model: Any,
    params: Mapping | None = None,
    *,
    activation: Any = None,
    dtype: DTypeLike | None = None,
) -> tuple[Layer, ...]:
    """A gradbounds network equal to a Flax MLP (nnx, linen ``Sequential``, or linen Dense params).

    .. math::  W^l = (\\texttt{kernel}^l)^{\\mathsf T},\\quad b^l = \\texttt{bias}^l,\\quad
               a^l = σ_l(W^l a^{l-1} + b^l).

    Args:
      model: an ``nnx.Sequential``; a linen ``nn.Sequential`` (then ``params``); or the params of a
        linen Dense stack (then ``activation``).
      params: the linen ``Sequential``'s params (``model.init(...)``'s result).
      activation: for Dense-stack params only: one activation (name or callable) or one per layer.
      dtype: cast to this float dtype; default: the model's own (Flax's default float32 stays float32).

    Returns:
      A tuple of :class:`~gradbounds.Layer`, one per Linear/Dense.

    Raises:
      TypeError: an unsupported module or an unrecognised activation callable (named).
      ValueError: params without activations, extra parameters (a norm's ``scale``), two activations
        in a row, or a float64 model while JAX runs in 32 bits.

    References:
      Flax documentation (``nnx.Sequential``, ``linen.Sequential``, ``linen.Dense``: ``y = x @ kernel + bias``).
    """
    if isinstance(model, Mapping):
        if params is not None:
            raise ValueError("from_flax: expected params once (as the first argument), got them twice")
        items: list = []
        _params_items(model, activation, items)
        return stack(items, dtype, "from_flax")
    if activation is not None:
        raise ValueError("from_flax: a model names its own activations; expected no activation=, got one")
    mod = type(model).__module__
    items = []
    if mod.startswith("flax.nnx") or ("flax.nnx" in sys.modules and _is_nnx(model)):
        if params is not None:
            raise ValueError("from_flax: an nnx model holds its own parameters; expected no params, got some")
        _nnx_items(model, type(model).__name__, items)
    elif mod.startswith("flax.linen"):
        nn = require("flax.linen", "gradbounds.from_flax")
        if type(model) is not nn.Sequential:
            raise TypeError(
                f"from_flax: expected a linen nn.Sequential (with params), got {type(model).__name__}; for a"
                " custom linen Dense stack pass its params and activation= instead"
            )
        if params is None:
            raise ValueError("from_flax: a linen model keeps no parameters; expected params=model.init(...)")
        _linen_items(model, params, items)
    else:
        raise TypeError(
            f"from_flax: expected an nnx.Sequential, a linen nn.Sequential with params, or Dense params,"
            f" got {type(model).__name__}"
        )
    return stack(items, dtype, "from_flax")


def _is_nnx(model) -> bool:
    nnx = sys.modules["flax.nnx"]
    return isinstance(model, nnx.Module)
