"""Figures of the one-neuron chain and of plain backpropagation's underflow per dtype."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradbounds.plotting._style import (
    _CYCLE,
    PALETTE,
    STYLES,
    _arr,
    _drawing,
    _finish,
    _load,
    _panels,
    _plot,
    _shared_legend,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from gradbounds.core import ChainResult

__all__ = ["chain", "underflow"]


# --- the one-neuron chain -------------------------------------------------------


def _chain_dict(r) -> dict:
    r = _load(r)
    if hasattr(r, "_asdict"):
        r = {k: np.asarray(v).tolist() if not np.isscalar(v) else v for k, v in r._asdict().items()}
    return r


@_drawing
def chain(
    vanishing: ChainResult | Mapping[str, Any],
    exploding: ChainResult | Mapping[str, Any],
    *,
    ax: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
    column: str | None = None,
) -> Figure | Sequence[Axes]:
    """The one-neuron chain: ``log10 |∂C/∂b_j|`` against j, vanishing and exploding (×25).

    .. math:: \\frac{∂C}{∂b_j} = σ'(z_j)\\prod_{k>j} w_kσ'(z_k)\\,\\frac{∂C}{∂a_L}

    Args:
      vanishing: :class:`~gradbounds.core.ChainResult` or a dict with
        ``log10_abs_grad_b``; optional ``log10_bound`` (the γ-bound
        ``|∂C/∂a_L| ∏ |w_k|/4``, drawn dashed) and ``grad_b`` (the plain
        float64 product; entries that over- or underflowed are marked).
      exploding: the same for the exploding chain (every factor 25).
      ax: two matplotlib Axes (vanishing, exploding), drawn on and returned; default a new figure.
      column: ``"half"`` (default), ``"full"`` or a tueplots venue; not with ``ax``.

    References:
      Nielsen ch. 5, "What's causing the vanishing gradient problem?".
    """
    fig, panels, own = _panels(
        ax,
        2,
        what="chain draws two panels (vanishing, exploding)",
        column=column,
        default_column="half",
        height_ratio=1.1,
    )
    ax_ = ax
    for pax, r, name in zip(panels, (vanishing, exploding), ("vanishing", r"exploding, $\times 25$")):
        r = _chain_dict(r)
        y = _arr(r["log10_abs_grad_b"])
        j = np.arange(1, len(y) + 1)
        _plot(pax, j, y, STYLES["E"], "exact")
        if r.get("log10_bound") is not None:
            st = dict(STYLES["G"], linestyle="--", fillstyle="none", markevery=(len(j) // 24, max(1, len(j) // 12)))
            _plot(pax, j, _arr(r["log10_bound"]), st, r"$\gamma$-bound, $\gamma=1/4$")
        if r.get("grad_b") is not None:
            g = np.abs(_arr(r["grad_b"]))
            bad = np.where(~np.isfinite(g) | (g == 0))[0]
            if bad.size:
                what = "overflow" if np.isinf(g).any() else "underflow"
                pax.axvspan(
                    bad.min() + 0.5,
                    bad.max() + 1.5,
                    color=PALETTE["grey"],
                    alpha=0.25,
                    linewidth=0,
                    label=f"float64 {what}",
                )
        pax.set_xlabel(r"layer $j$")
        pax.set_title(name)
        pax.grid(True)
    panels[0].set_ylabel(r"$\log_{10}|\partial C/\partial b_j|$")
    _shared_legend(fig, panels, ncols=3, own=own)
    return _finish(fig, own, ax_, path)


# --- underflow depth per dtype ---------------------------------------------------


@_drawing
def underflow(
    result: Mapping[str, Any],
    *,
    ax: Axes | None = None,
    path: str | os.PathLike | None = None,
    column: str | None = None,
) -> Figure | Axes:
    """Exact ``log10 ‖δ^l‖`` against layers crossed, and where plain backprop underflows, per dtype.

    Args:
      result: dict with ``"k"`` (layers crossed), ``"log10_E"`` (exact, by
        rescaled backprop; horizontal lines mark each dtype's smallest normal
        number, labelled at their right end) and ``"dtypes"``: ``{name: {"depth": k or None,
        "tiny_log10": log10 of the smallest normal, "subnormal_log10": ...}}``.
      ax: draw on this matplotlib Axes and return it (the legend then goes inside it); default a new figure.
      column: ``"half"`` (default), ``"full"`` or a tueplots venue; not with ``ax``.
    """
    result = _load(result)
    k, e = _arr(result["k"]), _arr(result["log10_E"])
    fig, (axis,), own = _panels(
        ax, 1, what="underflow is one panel", column=column, default_column="half", height_ratio=0.85
    )
    ax_, pax = ax, axis
    _plot(pax, k, e, dict(color="k", linestyle="-", marker=None), r"exact $\log_{10}\|\delta^l\|$")
    groups = {}
    placed: list[float] = []  # depths already marked
    near = 0.015 * (float(np.max(k)) - float(np.min(k)))  # markers closer than this overlap on the page
    for i, (name, d) in enumerate(result["dtypes"].items()):
        col, ls, mk = _CYCLE[i + 1]
        groups.setdefault(round(d["tiny_log10"], 6), []).append((name, col, ls))
        if d.get("depth") is not None:
            kd = d["depth"]
            # a marker at the place of earlier ones (bfloat16 and float32 share the exponent range, hence
            # often the depth) is drawn larger and behind them, so that every dtype stays visible
            under = sum(abs(p - kd) <= near for p in placed)
            placed.append(kd)
            pax.plot(
                [kd],
                [np.interp(kd, k, e)],
                marker=mk,
                color=col,
                linestyle="none",
                markersize=5 + 4 * under,
                zorder=3 - 0.1 * under,
                label=f"{name}: zero from $k$={kd}",
            )
        else:
            pax.plot([], [], marker=mk, color=col, linestyle="none", label=f"{name}: never zero")
    for tiny, members in groups.items():
        name, col, ls = members[-1]
        pax.axhline(tiny, color=col, linestyle=ls, linewidth=0.7)
    pax.margins(y=0.1)
    lo, hi = pax.get_ylim()
    for tiny, members in groups.items():
        # short names at the right end of the dtype's smallest-normal line: above it, unless another
        # line runs just above (then below it), so that no label sits on a line
        crowded = any(0 < t - tiny < 0.08 * (hi - lo) for t in groups)
        pax.annotate(
            ", ".join(m[0] for m in members),
            (0.99, tiny),
            xycoords=("axes fraction", "data"),
            xytext=(0, -1.5 if crowded else 1.5),
            textcoords="offset points",
            ha="right",
            va="top" if crowded else "bottom",
            fontsize=5.5,
            color="k",
        )
    pax.set_xlabel(r"layers crossed $k=L-l+1$")
    pax.set_ylabel(r"$\log_{10}\|\delta^l\|$")
    pax.grid(True)
    h, lab = pax.get_legend_handles_labels()  # under the axes: inside, it covered a dtype line
    if own:
        fig.legend(h, lab, loc="outside lower center", ncols=2, frameon=False)
    else:
        pax.legend(h, lab, loc="best")
    return _finish(fig, own, ax_, path)
