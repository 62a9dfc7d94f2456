"""Backpropagation through time: ‖∂C/∂s_k‖ against k for the three cells, and the adding problem's curves."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradbounds.plotting._style import _CYCLE, _drawing, _finish, _panels, _plot, _shared_legend

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["bptt_cells"]

_LABELS = {
    "rnn": "plain tanh",
    "lstm": "LSTM",
    "gru": "GRU",
    "rnn_clip": "plain, clipped",
    "irnn": "IRNN (relu, identity)",
}


@_drawing
def bptt_cells(
    result: Mapping[str, Any],
    *,
    ax: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
    column: str | None = None,
) -> Figure | Sequence[Axes]:
    """Left: ``log10 ‖∂C/∂s_k‖`` against ``k`` per cell at matched initialisation; right: adding-problem test MSE.

    .. math:: E_k = \\|∂C/∂s_k\\|,\\qquad C = \\tfrac12\\|W_{out}h_T + b_{out} - y\\|^2.

    Args:
      result: ``{"T", "cells": {kind: {"log10_E": (T + 1,), "log10_G": ...}}, "adding": {"T",
        "runs": {variant: {"steps", "test_mse"}}}}`` (the ``rnn`` experiment's JSON).
      ax: two matplotlib Axes, drawn on and returned; default a new figure.
      column: ``"full"`` (default), ``"half"`` or a tueplots venue; not with ``ax``.

    References:
      Pascanu, Mikolov & Bengio 2013 (Fig. of ‖∂C/∂h_k‖); Hochreiter & Schmidhuber 1997 (adding problem).
    """
    fig, panels, own = _panels(
        ax, 2, what="bptt_cells draws two panels (BPTT norms, adding problem)", column=column, default_column="full"
    )
    left, right = panels
    for i, (kind, c) in enumerate(result["cells"].items()):
        col, ls, mk = _CYCLE[i]
        E = np.asarray(c["log10_E"], float)
        _plot(left, np.arange(E.size), E, dict(color=col, linestyle=ls, marker=mk), _LABELS.get(kind, kind))
        if c.get("log10_G") is not None:
            G = np.asarray(c["log10_G"], float)
            _plot(left, np.arange(G.size), G, dict(color=col, linestyle=":", marker=None), "plain: Pascanu's bound G")
    left.set_xlabel("time step $k$")
    left.set_ylabel(r"$\log_{10}\|\partial C/\partial s_k\|$")
    left.set_title(f"T = {result['T']}, matched initialisation")
    left.grid(True, which="major")
    adding = result["adding"]
    for i, (variant, r) in enumerate(adding["runs"].items()):
        col, ls, mk = _CYCLE[i]
        _plot(right, np.asarray(r["steps"]), np.asarray(r["test_mse"]), dict(color=col, linestyle=ls, marker=mk))
        right.lines[-1].set_label(_LABELS.get(variant, variant))
    right.axhline(1 / 6, color="grey", linestyle="--", linewidth=0.8, label="always 1 (MSE 1/6)")
    right.set_yscale("log")
    right.set_xlabel("Adam step")
    right.set_ylabel("test MSE")
    right.set_title(f"adding problem, T = {adding['T']}")
    right.grid(True, which="major")
    _shared_legend(fig, panels, ncols=4, own=own)
    return _finish(fig, own, ax, path)
