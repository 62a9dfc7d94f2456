"""Plain against residual networks: the gradient per block, its bounds, and the bound's slack."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradbounds.plotting._style import _CYCLE, _drawing, _finish, _panels, _plot, _shared_legend

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["residual_depth"]


def _curves(r: Any) -> dict[str, np.ndarray | None]:
    """``log10`` of E, G and the floor from a :class:`~gradbounds.residual.ResidualHierarchy` or its dict form."""
    if hasattr(r, "log10"):
        return {X: np.asarray(r.log10(X), float) for X in ("E", "G", "floor")}
    return {X: None if r.get(f"log10_{X}") is None else np.asarray(r[f"log10_{X}"], float) for X in ("E", "G", "floor")}


@_drawing
def residual_depth(
    results: Mapping[str, Any],
    *,
    ax: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
    column: str | None = None,
) -> Figure | Sequence[Axes]:
    """Left: ``log10 E_k`` per block with the bound ``G_k`` (and the floor, where positive); right: the slack.

    .. math:: E_k = \\|e^k\\|,\\quad G_k = ∏_{r=k}^{K-1}γ(S_r)\\,γ_K^{[M=Σ']}∏_{r>k}\\hat c_r\\,\\|g\\|,\\quad
       \\text{slack}_k = \\log_{10}G_k - \\log_{10}E_k,

    with ``ĉ_r = ‖W^r‖`` for a plain layer and ``ĉ_r = 1 + c_r``, ``c_r = ∏_i γ_{r,i}‖W_{r,i}‖``, for a
    residual block; ``γ(S_r)`` is ``γ_r`` for a plain layer, 1 for a residual block, and ``γ_K`` enters
    where ``M = Σ'(z^K)`` (docs/design.md §2.5).  The legend gives each network's ``E_1/E_K``, the first
    block's gradient against the last's.

    Args:
      results: label → :class:`~gradbounds.residual.ResidualHierarchy`, or a dict with ``log10_E``,
        ``log10_G`` and optionally ``log10_floor`` (arrays over blocks ``k = 1..K``).  A floor more than the
        E-to-G span below the lowest E or G (a plain network's: ``min σ'`` times ``σ_min(W)`` per layer) is
        cut off at the bottom of the panel.
      ax: two matplotlib Axes, drawn on and returned; default a new figure.
      path: where to save the PDF (optional).
      column: ``"full"`` (default), ``"half"`` or a tueplots venue; not with ``ax``.

    References:
      He et al. 2016, CVPR; He et al. 2016b, ECCV, eq. (5); Nielsen, ch. 5 (the textbook bound).
    """
    fig, panels, own = _panels(
        ax, 2, what="residual_depth draws two panels (levels, slack)", column=column, default_column="full"
    )
    left, right = panels
    span_lo, span_hi, floors = np.inf, -np.inf, []
    for i, (label, r) in enumerate(results.items()):
        col, ls, mk = _CYCLE[i]
        c = _curves(r)
        E, G, floor = c["E"], c["G"], c["floor"]
        assert E is not None and G is not None
        k = np.arange(1, E.size + 1)
        both = np.concatenate([E, G])
        both = both[np.isfinite(both)]
        if both.size:
            span_lo, span_hi = min(span_lo, float(both.min())), max(span_hi, float(both.max()))
        _plot(
            left,
            k,
            E,
            dict(color=col, linestyle="-", marker=mk),
            f"{label}: E, " + rf"$E_1/E_K = 10^{{{E[0] - E[-1]:.1f}}}$",
        )
        _plot(left, k, G, dict(color=col, linestyle="--", marker=None), f"{label}: bound G")
        if floor is not None and np.any(np.isfinite(floor)):
            fin = np.isfinite(floor)
            _plot(left, k[fin], floor[fin], dict(color=col, linestyle=":", marker=None), f"{label}: floor")
            floors.append(float(floor[fin].min()))
        _plot(right, k, G - E, dict(color=col, linestyle=ls, marker=mk), f"{label}: slack G/E")
    if np.isfinite(span_lo):  # a floor far below E (a plain network's) is cut off rather than squash the curves
        width = max(span_hi - span_lo, 1.0)
        lo = min([span_lo] + [f for f in floors if f >= span_lo - width])
        left.set_ylim(lo - 0.05 * width, span_hi + 0.05 * width)
    left.set_xlabel("block $k$")
    left.set_ylabel(r"$\log_{10}$ of the level")
    left.set_title("gradient and bounds per block")
    left.grid(True, which="major")
    right.set_xlabel("block $k$")
    right.set_ylabel(r"slack $\log_{10} G_k - \log_{10} E_k$")
    right.set_title("slack of the bound")
    right.grid(True, which="major")
    _shared_legend(fig, [left], ncols=3, own=own)
    return _finish(fig, own, ax, path)
