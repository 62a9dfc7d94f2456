"""PyTorch: ``nn.Sequential`` of ``Linear`` and elementwise activations, and state dicts, as gradbounds networks.

Modules are matched by their exact class (a subclass may change ``forward``),
each to one registered activation:

================================================  ===================================
module                                            activation
================================================  ===================================
``Sigmoid``, ``Tanh``, ``ReLU``, ``SELU``,        ``sigmoid``, ``tanh``, ``relu``,
``SiLU``, ``Identity``                            ``selu``, ``silu``, (none)
``LeakyReLU(negative_slope=s)``                   ``leaky_relu`` (s = 0.01), ``leaky_relu:s``
``ELU(alpha=1)``                                  ``elu``
``GELU()``, ``GELU(approximate="tanh")``          ``gelu`` (erf form), ``gelu_tanh``
``Softplus(beta=1)``                              ``softplus`` (torch returns x itself above
                                                  ``threshold``, 20: at most log1p(e^-20) ≈ 2e-9 apart)
``Hardtanh(-1, 1)``                               ``hard_tanh``
``Flatten`` (first only)                          (none)
================================================  ===================================

Anything else (``BatchNorm``, ``Dropout``, ``Conv``, attention, a custom
module) is an error naming the module and its index: its forward is not an
elementwise σ after a linear map.  ``Linear.weight`` is already ``(n_out,
n_in)``, Nielsen's ``W``.

References:
  PyTorch documentation, ``torch.nn`` (module definitions, ``GELU(approximate)``,
  ``Softplus(beta, threshold)``); Paszke et al. 2019, "PyTorch".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from jax.typing import DTypeLike

from gradbounds._extras import require
from gradbounds.adapters._build import Act, Dense, stack
from gradbounds.core import Layer, check_slope

__all__ = ["from_torch", "torch_to_numpy", "load_torch_state_dict"]


def torch_to_numpy(t: Any, dtype: DTypeLike | None, where: str) -> np.ndarray:
    """A torch tensor as a numpy array of its own float dtype (bfloat16 only with ``dtype=``, through float32)."""
    torch = require("torch", "reading a PyTorch model")
    t = t.detach().cpu()
    if t.dtype not in (torch.float16, torch.float32, torch.float64):
        if not t.dtype.is_floating_point:
            raise TypeError(f"{where}: expected a float tensor, got {t.dtype}")
        if dtype is None:
            raise TypeError(f"{where}: numpy has no {t.dtype}; pass dtype='float32' or 'float64'")
        t = t.to(torch.float32)  # bfloat16 and the float8s are exact in float32
    return t.numpy()


def _activation(m, where: str) -> Act | None:
    """The activation a torch module is, ``None`` for a no-op; an error for anything else."""
    nn = require("torch.nn", "reading a PyTorch model")
    cls = type(m)
    simple = {
        nn.Sigmoid: "sigmoid",
        nn.Tanh: "tanh",
        nn.ReLU: "relu",
        nn.SELU: "selu",
        nn.SiLU: "silu",
    }
    if cls in simple:
        return Act(simple[cls], where)
    if cls is nn.LeakyReLU:
        return Act(check_slope(where, float(m.negative_slope)), where)
    if cls is nn.ELU:
        if float(m.alpha) != 1.0:
            raise ValueError(f"{where}: expected ELU(alpha=1.0) (the registered elu), got alpha={m.alpha}")
        return Act("elu", where)
    if cls is nn.GELU:
        if m.approximate not in ("none", "tanh"):
            raise ValueError(f"{where}: expected GELU(approximate='none' or 'tanh'), got {m.approximate!r}")
        return Act("gelu" if m.approximate == "none" else "gelu_tanh", where)
    if cls is nn.Softplus:
        if float(m.beta) != 1.0:
            raise ValueError(f"{where}: expected Softplus(beta=1) (the registered softplus), got beta={m.beta}")
        return Act("softplus", where)
    if cls is nn.Hardtanh:
        if (float(m.min_val), float(m.max_val)) != (-1.0, 1.0):
            raise ValueError(
                f"{where}: expected Hardtanh(-1, 1) (the registered hard_tanh), got ({m.min_val}, {m.max_val})"
            )
        return Act("hard_tanh", where)
    return None


def _items(module, prefix: str, dtype, out: list) -> None:
    nn = require("torch.nn", "reading a PyTorch model")
    children = list(module) if type(module) is nn.Sequential else [module]
    for i, m in enumerate(children):
        where = f"module {prefix}{i} ({type(m).__name__})" if type(module) is nn.Sequential else f"{type(m).__name__}"
        cls = type(m)
        if cls is nn.Sequential:
            _items(m, f"{prefix}{i}.", dtype, out)
        elif cls is nn.Linear:
            W = torch_to_numpy(m.weight, dtype, f"{where}: weight")
            b = None if m.bias is None else torch_to_numpy(m.bias, dtype, f"{where}: bias")
            out.append(Dense(W, b, where))
        elif cls is nn.Identity:
            continue
        elif cls is nn.Flatten:
            if out or prefix:
                raise ValueError(f"{where}: expected Flatten only as the first module, got it after a layer")
            if m.end_dim != -1:
                raise ValueError(f"{where}: expected Flatten(end_dim=-1), got end_dim={m.end_dim}")
        else:
            act = _activation(m, where)
            if act is None:
                raise TypeError(
                    f"{where}: expected Linear or an elementwise activation (Sigmoid, Tanh, ReLU, LeakyReLU, ELU,"
                    " SELU, GELU, SiLU, Softplus, Hardtanh, Identity; Flatten first), got a module whose"
                    " forward gradbounds cannot check"
                )
            out.append(act)


def from_torch(module: Any, *, dtype: DTypeLike | None = None) -> tuple[Layer, ...]:
    """A gradbounds network equal to a PyTorch ``nn.Sequential`` of ``Linear`` and elementwise activations.

    Layer ``l`` is a ``Linear`` (``W^l = weight``, ``b^l = bias`` or zeros) and the
    activation module that follows it (none: ``linear``):

    .. math::  a^l = σ_l(W^l a^{l-1} + b^l) = \\text{module}(a^{l-1}).

    Args:
      module: an ``nn.Sequential`` (nested ones are read in order) or a single ``nn.Linear``.
      dtype: cast to this float dtype; default: the model's own (float32 stays float32).

    Returns:
      A tuple of :class:`~gradbounds.Layer`, one per ``Linear``.

    Raises:
      TypeError: a module that is neither ``Linear`` nor a recognised activation (named, with its index).
      ValueError: an activation with parameters no registered σ has (``ELU(alpha=2)``), two activations
        in a row, or a float64 model while JAX runs in 32 bits.

    References:
      PyTorch ``torch.nn`` documentation (the module table above).
    """
    nn = require("torch.nn", "gradbounds.from_torch")
    if not isinstance(module, nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module (nn.Sequential), got {type(module).__name__}")
    if type(module) not in (nn.Sequential, nn.Linear):
        raise TypeError(
            f"from_torch: expected nn.Sequential (or nn.Linear), got {type(module).__name__}: a custom forward"
            " cannot be read; rebuild the model as nn.Sequential(Linear, activation, ...)"
        )
    items: list = []
    _items(module, "", dtype, items)
    return stack(items, dtype, "from_torch")


def state_dict_layers(sd: Mapping[str, Any], where: str) -> list[tuple[str, Any, Any]]:
    """``(prefix, weight, bias)`` of each ``PREFIX.weight`` (2-D) in index order (``0`` < ``2`` < ``10``).

    Raises:
      ValueError: a key that is not ``PREFIX.weight`` or ``PREFIX.bias`` (BatchNorm's ``running_mean``,
        a convolution), a weight not of rank 2, or a bias without its weight.
    """
    groups: dict[str, dict[str, Any]] = {}
    for key, v in sd.items():
        prefix, _, leaf = str(key).rpartition(".")
        if leaf not in ("weight", "bias"):
            raise ValueError(
                f"{where}: expected only LAYER.weight and LAYER.bias of linear layers, got {key!r}"
                " (batch norm, convolution and other layers are not supported)"
            )
        groups.setdefault(prefix, {})[leaf] = v
    if not groups:
        raise ValueError(f"{where}: expected LAYER.weight and LAYER.bias arrays, got none")

    def order(prefix: str):
        return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in prefix.split("."))

    out = []
    for prefix in sorted(groups, key=order):
        g = groups[prefix]
        name = f"{prefix}.weight" if prefix else "weight"
        if "weight" not in g:
            raise ValueError(f"{where}: expected {name!r} beside {prefix + '.bias'!r}, got no weight")
        shape = tuple(g["weight"].shape)
        if len(shape) != 2:
            raise ValueError(f"{where}: expected {name!r} of rank 2 (n_out, n_in) (a linear layer), got shape {shape}")
        out.append((prefix, g["weight"], g.get("bias")))
    return out


def load_torch_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads a PyTorch state dict (``torch.save(model.state_dict(), path)``) with ``weights_only=True``.

    Raises:
      ValueError: a file that is not a state dict of tensors (a pickled module is refused by ``weights_only``).
    """
    torch = require("torch", f"reading {os.fspath(path)}")
    try:
        sd = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError... for a bad file
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ValueError(f"{path}: cannot read it as a torch state dict ({type(e).__name__}: {msg[:200]})") from None
    if not isinstance(sd, Mapping):
        raise ValueError(f"{path}: expected a state dict (name -> tensor), got {type(sd).__name__}")
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            raise ValueError(f"{path}: expected tensors in the state dict, got {type(v).__name__} at {k!r}")
        v = v.detach().cpu()
        if v.dtype.is_floating_point and v.dtype not in (torch.float16, torch.float32, torch.float64):
            v = v.to(torch.float32)  # bfloat16 and the float8s are exact in float32; numpy has neither
        out[str(k)] = v.numpy()
    return out
