"""The one way every adapter turns arrays into a network: dtype kept (or cast when asked), never narrowed silently."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.typing import DTypeLike

from gradbounds.core import Layer, network_from_arrays

__all__ = ["Act", "Dense", "assemble", "stack", "target_dtype"]

_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def target_dtype(given: np.dtype, dtype: DTypeLike | None, where: str) -> np.dtype:
    """The dtype the network will have: ``dtype`` when asked, else the model's own (a float numpy dtype)."""
    want = np.dtype(given) if dtype is None else np.dtype(dtype)
    if want not in _FLOATS:
        raise TypeError(f"{where}: expected a float16/32/64 model (or dtype=), got {want}")
    if want == np.float64 and not jax.config.read("jax_enable_x64"):
        raise ValueError(
            f"{where}: the network is float64 but JAX runs in 32 bits; call "
            "jax.config.update('jax_enable_x64', True) first, or pass dtype='float32'"
        )
    return want


def assemble(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray | None],
    activations: Sequence[str],
    dtype: DTypeLike | None,
    where: str,
) -> tuple[Layer, ...]:
    """``network_from_arrays`` of ``W^l`` ``(n_l, n_{l-1})`` and ``b^l`` (``None``: no bias, zeros) in one dtype.

    Without ``dtype`` every array must already have the first weight's dtype (a mixed
    model is an error naming the layer, not a silent cast).
    """
    if not weights:
        raise ValueError(f"{where}: expected at least one linear layer, got none")
    ws = [np.asarray(W) for W in weights]
    want = target_dtype(ws[0].dtype, dtype, where)
    bs = [np.zeros(W.shape[0], want) if b is None else np.asarray(b) for W, b in zip(ws, biases)]
    if dtype is None:
        for l, (W, b) in enumerate(zip(ws, bs), start=1):
            for nm, a in (("W", W), ("b", b)):
                if a.dtype != want:
                    raise TypeError(f"layer {l}: expected {nm} of dtype {want} (as W1), got {a.dtype}; pass dtype=")
    ws = [W.astype(want) for W in ws]
    bs = [b.astype(want) for b in bs]
    return network_from_arrays(ws, bs, list(activations))


class Dense:
    """A linear map found in a model: ``W`` ``(n_out, n_in)``, ``b`` (``None``: no bias), and where it was."""

    def __init__(self, W, b, where: str):
        self.W, self.b, self.where = W, b, where


class Act:
    """An elementwise activation found in a model: its registry name, and where it was."""

    def __init__(self, name: str, where: str):
        self.name, self.where = name, where


def stack(items: Sequence[Dense | Act], dtype: DTypeLike | None, where: str) -> tuple[Layer, ...]:
    """A network from linear maps each followed by at most one activation (none: ``linear``).

    An identity (``linear``) next to another activation composes to that activation.

    Raises:
      ValueError: an activation before any linear map, or two activations in a row (naming both).
    """
    Ws, bs, acts = [], [], []
    prev: Dense | Act | None = None
    for it in items:
        if isinstance(it, Dense):
            if isinstance(prev, Dense):
                acts.append("linear")
            Ws.append(it.W)
            bs.append(it.b)
        else:
            if prev is None:
                raise ValueError(f"{it.where}: expected a linear layer first, got the activation {it.name}")
            if isinstance(prev, Act) and "linear" in (prev.name, it.name):
                if prev.name == "linear":  # the identity composed with σ is σ: keep σ
                    acts[-1] = it.name
                    prev = it
                continue
            if isinstance(prev, Act):
                raise ValueError(
                    f"{it.where}: expected a linear layer after the activation {prev.name} ({prev.where}),"
                    f" got a second activation {it.name} (a layer has one elementwise activation)"
                )
            acts.append(it.name)
        prev = it
    if isinstance(prev, Dense):
        acts.append("linear")
    if prev is None:
        raise ValueError(f"{where}: expected at least one linear layer, got none")
    for l in range(1, len(Ws)):
        if Ws[l].shape[1] != Ws[l - 1].shape[0]:
            raise ValueError(
                f"layer {l + 1}: expected a weight with {Ws[l - 1].shape[0]} inputs (the width of layer {l}),"
                f" got shape {tuple(Ws[l].shape)}"
            )
    return assemble(Ws, bs, acts, dtype, where)
