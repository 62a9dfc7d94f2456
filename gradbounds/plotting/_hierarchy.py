"""Figures of the bound hierarchy: the ladder of levels per layer and the slack against depth."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradbounds.plotting._style import (
    _CYCLE,
    LEVEL_LABELS,
    SLACK_LABELS,
    STYLES,
    _arr,
    _drawing,
    _finish,
    _load,
    _panels,
    _plot,
    _shared_legend,
    _title_above_legend,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from gradbounds.bounds import Hierarchy

__all__ = ["bound_ladder", "slack_depth"]


# --- the bound ladder -------------------------------------------------------


def _ladder_data(result) -> dict:
    result = _load(result)
    if hasattr(result, "to_dict"):
        result = result.to_dict()
    layers = result["layers"]
    out = {"layer": np.array([e["layer"] for e in layers])}
    for k in ("E", "P", "J", "D", "G"):
        out[k] = _arr([e["log10"][k] for e in layers])
        if "log10_min" in layers[0]:
            out[k + "_min"] = _arr([e["log10_min"][k] for e in layers])
            out[k + "_max"] = _arr([e["log10_max"][k] for e in layers])
    out["lower"] = _arr([e.get("log10_lower") for e in layers])
    return out


@_drawing
def bound_ladder(
    result: Hierarchy | Mapping[str, Any] | str | os.PathLike,
    *,
    ax: Axes | None = None,
    path: str | os.PathLike | None = None,
    show_lower: bool = True,
    title: str | None = None,
    column: str | None = None,
) -> Figure | Axes:
    """The levels E ≤ P ≤ J ≤ D ≤ G per layer (log10), from a hierarchy or its JSON.

    .. math:: \\log_{10} E_l \\le \\log_{10} P_l \\le \\log_{10} J_l \\le \\log_{10} D_l \\le \\log_{10} G_l

    With a batch, each level is the summary of ``Hierarchy.to_dict()``
    (the median of log10 over networks and examples) and E and G carry a band
    from their minimum to their maximum (``log10_min``/``log10_max``).

    Args:
      result: :class:`~gradbounds.bounds.Hierarchy`, its ``to_dict()``, the
        JSON of ``gradbounds check``, or a path to that JSON.
      ax: draw on this matplotlib Axes and return it (default: a new figure, returned).
      path: where to save the PDF (optional).
      show_lower: draw the certified lower bound where it is positive.
      title: above the legend (which sits above the axes).
      column: ``"half"`` (default), ``"full"`` or a tueplots venue (:func:`new_figure`); not with ``ax``.

    Returns:
      the new :class:`~matplotlib.figure.Figure`, or ``ax``.

    References:
      docs/design.md §2; the data-split bound (*) = D and the textbook bound (**) = G.
    """
    d = _ladder_data(result)
    fig, (axis,), own = _panels(
        ax, 1, what="the ladder is one panel", column=column, default_column="half", height_ratio=0.8
    )
    ax_, pax = ax, axis
    x = d["layer"]
    for k in ("G", "D", "J", "P", "E"):
        # G hollow and larger: where D and G coincide (D = G when some sigma' is near gamma) both stay visible
        kw = dict(fillstyle="none", markersize=5.5, markeredgewidth=1.0) if k == "G" else {}
        _plot(pax, x, d[k], STYLES[k], LEVEL_LABELS[k], markevery=1, **kw)
        if k + "_min" in d and k in ("E", "G"):
            pax.fill_between(x, d[k + "_min"], d[k + "_max"], color=STYLES[k]["color"], alpha=0.15, linewidth=0)
    if show_lower and np.isfinite(d["lower"]).any():
        _plot(pax, x, d["lower"], STYLES["lower"], LEVEL_LABELS["lower"], markevery=1)
    pax.set_xlabel(r"layer $l$")
    pax.set_ylabel(r"$\log_{10}$ of the level")
    pax.set_xticks(x)
    pax.grid(True, axis="y")
    handles, labels = pax.get_legend_handles_labels()
    order = [labels.index(LEVEL_LABELS[k]) for k in ("lower", "E", "P", "J", "D", "G") if LEVEL_LABELS[k] in labels]
    leg = pax.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=2,
        frameon=False,
    )
    if title:
        _title_above_legend(pax, leg, title)
    return _finish(fig, own, ax_, path)


# --- slack against depth ------------------------------------------------------


@_drawing
def slack_depth(
    result: Mapping[str, Any],
    *,
    ax: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
    column: str | None = None,
) -> Figure | Sequence[Axes]:
    """Slack ``log10 G − log10 E`` and its four parts against the number of layers crossed.

    .. math:: \\log_{10}\\frac{G}{E} = (P{-}E) + (J{-}P) + (D{-}J) + (G{-}D) \\quad (\\log_{10})

    Args:
      result: dict with ``"families"``, a list of ``{"label", "k", "slack":
        {part: [...]}}`` where ``k`` counts the layers the error crosses
        (``L − l + 1``) and each part is a mean over networks and examples
        (where ``E > 0``, so the parts add up to the total);
        optional ``"slack_min"``/``"slack_max"`` give a band for the total, and
        ``"shapley": {part: [...]}`` the Shapley values of the parts (split and
        submultiplicativity are drawn dotted with open markers beside the sequential ones).
      ax: one matplotlib Axes per family (a sequence), drawn on and returned; default a new figure.
      column: ``"half"`` (default), ``"full"`` or a tueplots venue; not with ``ax``.
    """
    result = _load(result)
    fams = result["families"]
    names = ", ".join(repr(f["label"]) for f in fams)
    fig, panels, own = _panels(
        ax,
        len(fams),
        what=f"slack_depth draws one panel per family ({names})",
        column=column,
        default_column="half",
        sharey=True,
        height_ratio=1.25 if len(fams) > 1 else 0.8,
    )
    ax_ = ax
    for pax, fam in zip(panels, fams):
        k = _arr(fam["k"])
        for j, part in enumerate(("total", "activation", "split", "submultiplicativity", "alignment")):
            col, ls, mk = _CYCLE[j]
            _plot(pax, k, _arr(fam["slack"][part]), dict(color=col, linestyle=ls, marker=mk), SLACK_LABELS[part])
            if part in ("split", "submultiplicativity") and part in fam.get("shapley", {}):
                # the two parts the order of the steps moves, as Shapley values (docs/design.md §2.4)
                style = dict(color=col, linestyle=":", marker=mk, markerfacecolor="white")
                _plot(pax, k, _arr(fam["shapley"][part]), style, SLACK_LABELS[part].split(" $")[0] + ", Shapley")
        if "slack_min" in fam:
            pax.fill_between(k, _arr(fam["slack_min"]), _arr(fam["slack_max"]), color="k", alpha=0.12, linewidth=0)
        pax.set_xlabel(r"layers crossed $k=L-l+1$")
        pax.set_title(fam["label"])
        pax.grid(True)
    panels[0].set_ylabel(r"slack, $\log_{10}$")
    _shared_legend(fig, panels, ncols=3, own=own)
    return _finish(fig, own, ax_, path)
