"""State dicts as networks: ``.safetensors`` and PyTorch ``.pt``/``.pth`` files, and :func:`read_network` for any file.

A state dict names a linear layer's arrays ``PREFIX.weight`` ``(n_out, n_in)``
and ``PREFIX.bias`` ``(n_out,)`` (``0.weight``, ``0.bias``, ``2.weight``, ...
for an ``nn.Sequential``); the layers are taken in the natural order of their
prefixes (``2`` before ``10``).  Activations hold no parameters, so a state
dict does not name them: ``activation`` is required, unless a
``.safetensors`` file's metadata has the key ``activations`` (comma-separated,
one per layer), in which case ``activation`` is refused rather than ignored.

References:
  Hugging Face ``safetensors`` format (header of names, dtypes, shapes, and a
  ``__metadata__`` string map); PyTorch ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from jax.typing import DTypeLike

from gradbounds._extras import require
from gradbounds.adapters._build import assemble
from gradbounds.adapters._torch import load_torch_state_dict, state_dict_layers
from gradbounds.core import Layer, activation_name
from gradbounds.io import load_network

__all__ = ["from_state_dict", "load_state_dict", "read_network", "NETWORK_SUFFIXES"]

NETWORK_SUFFIXES = (".npz", ".safetensors", ".pt", ".pth")
"""The network files :func:`read_network` reads, by suffix."""


def _names(activation, where: str) -> str | list[str]:
    """One registry name, or one per layer, from names, a comma-separated string or callables."""
    if activation is None:
        raise ValueError(f"{where}: the file names no activations; expected activation (one name or one per layer)")
    if isinstance(activation, str) and "," in activation:
        activation = [a.strip() for a in activation.split(",")]
    if isinstance(activation, str) or callable(activation) or not isinstance(activation, Sequence):
        return activation_name(activation, f"{where}: activation")
    return [activation_name(a, f"{where}: layer {i} activation") for i, a in enumerate(activation, start=1)]


def from_state_dict(
    state_dict: Mapping[str, Any], activation: Any, *, dtype: DTypeLike | None = None, where: str = "state dict"
) -> tuple[Layer, ...]:
    """A network from a state dict of linear layers (``0.weight``, ``0.bias``, ...; torch tensors or arrays).

    .. math::  W^l = \\texttt{sd[p_l.weight]},\\quad b^l = \\texttt{sd[p_l.bias]}\\ (0 \\text{ if absent}),

    with ``p_1 < p_2 < ...`` the prefixes in natural order.

    Args:
      state_dict: name -> array (numpy, JAX or torch).
      activation: one activation (name or callable) for every layer, a comma-separated string, or one per layer.
      dtype: cast to this float dtype; default: the arrays' own.
      where: what to name in errors (a file's path).

    Raises:
      ValueError: keys of anything but linear layers (``running_mean``, ``num_batches_tracked``), a weight
        not of rank 2, widths that do not chain, no activation.
    """
    layers = state_dict_layers(state_dict, where)
    Ws = [_to_numpy(W, dtype, f"{where}: {p}.weight") for p, W, _ in layers]
    bs = [None if b is None else _to_numpy(b, dtype, f"{where}: {p}.bias") for p, _, b in layers]
    for l in range(1, len(Ws)):
        if Ws[l].shape[1] != Ws[l - 1].shape[0]:
            raise ValueError(
                f"{where}: layer {l + 1} ({layers[l][0]}.weight): expected {Ws[l - 1].shape[0]} inputs (the width"
                f" of {layers[l - 1][0]}), got shape {tuple(Ws[l].shape)}"
            )
    names = _names(activation, where)
    acts = [names] * len(Ws) if isinstance(names, str) else names
    if len(acts) != len(Ws):
        raise ValueError(f"{where}: expected {len(Ws)} activations (one per layer) or one, got {len(acts)}")
    return assemble(Ws, bs, acts, dtype, where)


def _to_numpy(a, dtype, where: str) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a
    if type(a).__module__.startswith("torch"):
        from gradbounds.adapters._torch import torch_to_numpy

        return torch_to_numpy(a, dtype, where)
    return np.asarray(a)


def load_state_dict(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], list[str] | None]:
    """Reads a ``.safetensors`` or PyTorch ``.pt``/``.pth`` state dict: ``(arrays, activations or None)``.

    ``activations`` comes from a safetensors file's metadata key ``activations`` (comma-separated).

    Raises:
      ValueError: an unreadable file (naming it), or a suffix other than those two.
    """
    p = os.fspath(path)
    if p.endswith(".safetensors"):
        require("safetensors", f"reading {p}")
        from safetensors import safe_open

        if not os.path.exists(p):
            raise FileNotFoundError(2, "No such file or directory", p)
        try:
            with safe_open(p, framework="numpy") as f:
                meta = f.metadata() or {}
                arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
        except Exception as e:  # SafetensorError (truncated, not safetensors), bfloat16 in numpy, ...
            msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise ValueError(f"{p}: cannot read it as .safetensors ({type(e).__name__}: {msg[:200]})") from None
        acts = meta.get("activations")
        return arrays, ([a.strip() for a in acts.split(",")] if acts else None)
    if p.endswith((".pt", ".pth")):
        return load_torch_state_dict(p), None
    raise ValueError(f"{p}: expected a .safetensors, .pt or .pth state dict")


def read_network(
    path: str | os.PathLike, activation: Any = None, *, dtype: DTypeLike | None = None
) -> tuple[Layer, ...]:
    """A network from a file: ``.npz`` (``W1, b1, ...``), ``.safetensors`` or a torch ``.pt``/``.pth`` state dict.

    The file's own dtype is kept unless ``dtype`` is given.  A file that names its
    activations (an ``.npz`` with ``activations``, a ``.safetensors`` with that metadata
    key) takes no ``activation``; one that does not needs it.

    Args:
      path: the file, by suffix (:data:`NETWORK_SUFFIXES`).
      activation: one name (or ``"tanh,tanh,sigmoid"``, or a list) when the file names none.
      dtype: cast to this float dtype.

    Raises:
      ValueError: a file naming its activations given ``activation`` too (or one naming none given
        none), an unreadable file, an unknown suffix.

    References:
      :func:`gradbounds.io.load_network` (the ``.npz`` layout); :func:`from_state_dict`.
    """
    p = os.fspath(path)
    if not p.endswith(NETWORK_SUFFIXES):
        raise ValueError(f"{p}: expected a network file ending in {', '.join(NETWORK_SUFFIXES)}")
    if p.endswith(".npz"):
        net = load_network(p, activation=None if activation is None else _names(activation, p))
        if dtype is not None:
            net = assemble([q.W for q in net], [q.b for q in net], [q.activation for q in net], dtype, p)
        return net
    sd, named = load_state_dict(p)
    if named is not None:
        if activation is not None:
            raise ValueError(f"{p}: the file names its activations ({', '.join(named)}); expected no activation")
        activation = named
    return from_state_dict(sd, activation, dtype=dtype, where=p)
