"""Nielsen's per-layer speeds of learning beside the author's published curves."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradbounds.plotting._style import (
    _CYCLE,
    PALETTE,
    _drawing,
    _finish,
    _panels,
    _plot,
)
from gradbounds.training import load_published_speeds

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["nielsen_speeds"]


@_drawing
def nielsen_speeds(
    ours: Mapping[Any, Any] | None = None,
    *,
    published: Mapping[int, Any] | None = None,
    nielsen_dir: str | os.PathLike | None = None,
    ax: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
    label: str = "ours",
    column: str | None = None,
) -> Figure | Sequence[Axes]:
    """Per-layer speed of learning ``‖(1/n)Σ_x δ^l_x‖`` against step, beside the author's curves.

    Args:
      ours: ``{k: array (steps, k)}`` or ``{str(k): {"speeds": rows}}`` (the
        JSON of ``gradbounds train``); optional.
      published: ``{k: array}``; by default the shipped curves (:func:`gradbounds.training.load_published_speeds`, ``nielsen_dir``).
      ax: three matplotlib Axes (2, 3 and 4 hidden layers), drawn on and returned; default a new figure.
      label: the legend's name of ``ours``.
      column: ``"full"`` (default), ``"half"`` or a tueplots venue; not with ``ax``.

    References:
      Nielsen ch. 5, the figures of "The vanishing gradient problem".
    """
    pub = published if published is not None else load_published_speeds(nielsen_dir)
    fig, panels, own = _panels(
        ax,
        3,
        what="nielsen_speeds draws three panels (2, 3 and 4 hidden layers)",
        column=column,
        default_column="full",
        sharey=True,
        height_ratio=0.95,
    )
    ax_ = ax
    for pax, k in zip(panels, (2, 3, 4)):
        P = np.asarray(pub[k])
        steps = np.arange(P.shape[0])
        for i in range(k):
            col, ls, mk = _CYCLE[i]
            _plot(
                pax,
                steps,
                P[:, i],
                dict(color=col, linestyle=":", marker=mk, fillstyle="none"),
                f"layer {i + 1}, Nielsen",
            )
        if ours is not None and (k in ours or str(k) in ours):
            o = ours.get(k, ours.get(str(k)))
            o = np.asarray(o["speeds"] if isinstance(o, dict) else o, float)
            for i in range(k):
                col, ls, mk = _CYCLE[i]
                _plot(
                    pax,
                    np.arange(o.shape[0]),
                    o[:, i],
                    dict(color=col, linestyle="-", marker=mk),
                    f"layer {i + 1}, {label}",
                )
        pax.set_yscale("log")
        pax.set_xlabel("step (epoch)")
        pax.set_title(f"{k} hidden layers")
        pax.grid(True, which="major")
    panels[0].set_ylabel(r"speed $\|\frac{1}{n}\sum_x\delta^l_x\|$")
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=c, marker=m, linestyle="none", label=f"layer {i + 1}")
        for i, (c, _, m) in enumerate(_CYCLE[:4])
    ]
    handles.append(
        Line2D([], [], color=PALETTE["grey"], linestyle=":", marker="o", fillstyle="none", label="Nielsen (published)")
    )
    if ours is not None:
        handles.append(Line2D([], [], color=PALETTE["grey"], linestyle="-", marker="o", label=label))
    if own:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    else:
        panels[-1].legend(handles=handles, loc="best")
    return _finish(fig, own, ax_, path)
