"""Figures of typical-case theory: the phase diagram, Jacobian spectra, typical against worst case."""

from __future__ import annotations

import math
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

__all__ = ["phase_diagram", "spectra", "typical_worst"]


# --- mean-field phase diagram ---------------------------------------------------


@_drawing
def phase_diagram(
    result: Mapping[str, Any],
    *,
    ax: Axes | None = None,
    path: str | os.PathLike | None = None,
    column: str | None = None,
) -> Figure | Axes:
    """χ₁ over (σ_w², σ_b²) with the order-to-chaos line χ₁ = 1.

    .. math:: χ_1 = σ_w^2\\,\\mathbb{E}_{z}[σ'(\\sqrt{q^*}z)^2]

    Args:
      result: dict with ``"sw2"`` (m,), ``"sb2"`` (n,), ``"chi1"`` (n, m),
        ``"critical": {"sb2": [...], "sw2": [...]}`` and ``"activation"``.
        Arguments are variances.
      ax: draw on this matplotlib Axes (its colour bar beside it) and return it; default a new figure.
      column: ``"half"`` (default), ``"full"`` or a tueplots venue; not with ``ax``.

    References:
      Poole et al. 2016, eq. (7); Schoenholz et al. 2017, eq. (5).
    """
    result = _load(result)
    sw2, sb2, chi = _arr(result["sw2"]), _arr(result["sb2"]), np.asarray(result["chi1"], float)
    fig, (axis,), own = _panels(
        ax, 1, what="the phase diagram is one panel", column=column, default_column="half", height_ratio=0.8
    )
    ax_, pax = ax, axis
    mesh = pax.pcolormesh(sw2, sb2, np.log2(chi), cmap="cividis", shading="auto", rasterized=True)
    cs = pax.contour(sw2, sb2, chi, levels=[0.5, 0.8, 1.25, 2.0], colors="k", linewidths=0.5, linestyles=":")
    # contour labels a third of the way up, clear of the region labels in the corners
    at = []
    for segs in cs.allsegs:
        v = np.concatenate(segs) if segs else np.empty((0, 2))
        if len(v):
            at.append(tuple(v[np.argmin(np.abs(v[:, 1] - (sb2[0] + 0.35 * (sb2[-1] - sb2[0]))))]))
    pax.clabel(cs, fontsize=5, fmt="%g", manual=at)
    crit = result["critical"]
    pax.plot(_arr(crit["sw2"]), _arr(crit["sb2"]), color="w", linewidth=2.2)
    pax.plot(
        _arr(crit["sw2"]), _arr(crit["sb2"]), color="k", linewidth=1.1, linestyle="--", label=r"critical $\chi_1=1$"
    )
    box = dict(boxstyle="round,pad=0.2", facecolor="w", edgecolor="none", alpha=0.85)
    pax.text(0.03, 0.97, "ordered (vanishing)", transform=pax.transAxes, fontsize=6.5, va="top", bbox=box)
    pax.text(0.97, 0.03, "chaotic (exploding)", transform=pax.transAxes, fontsize=6.5, ha="right", bbox=box)
    # the critical line labelled where it is drawn (a legend box would cover the contour labels)
    cx, cy = _arr(crit["sw2"]), _arr(crit["sb2"])
    if cx.size:
        j = int(np.argmin(np.abs(cy - (sb2[0] + 0.55 * (sb2[-1] - sb2[0])))))
        pax.annotate(
            r"$\chi_1=1$",
            (cx[j], cy[j]),
            xytext=(4, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=6.5,
            bbox=box,
        )
    # the axes end at the grid's ends (not half a cell beyond), where the critical line ends too
    pax.set_xlim(sw2[0], sw2[-1])
    pax.set_ylim(sb2[0], sb2[-1])
    pax.set_xlabel(r"$\sigma_w^2$")
    pax.set_ylabel(r"$\sigma_b^2$")
    pax.set_title(f"{result.get('activation', '')}: mean-field $\\chi_1$, critical line dashed")
    fig.colorbar(mesh, ax=pax, label=r"$\log_2\chi_1$")
    return _finish(fig, own, ax_, path)


# --- singular-value spectra --------------------------------------------------------


@_drawing
def spectra(
    result: Mapping[str, Any],
    *,
    ax: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
    column: str | None = None,
) -> Figure | Sequence[Axes]:
    """Singular values of the error Jacobians ``B^l``, of their products, and of ``∂a^L/∂x``.

    Left: ``log10 σ_i(B^l)`` per layer (ticks) and ``log10 σ_i(Π_l)`` of the
    products ``Π_l = B^l ⋯ B^{L-1}`` (dots): directions above 0 are expanded on
    the way from the output to layer l, those below shrunk.  Right: empirical
    distribution of ``log10 λ`` for the squared singular values λ of the
    input-output Jacobian, one per weight ensemble, with the free-probability
    mean (one line when the ensembles share it) and spectral edge.  Values from
    the QR method (:mod:`gradbounds.spectra`, ``method="qr"``) are all drawn;
    for a direct SVD's, give ``floor_log10``: the λ axis then starts where the
    SVD stops resolving (twice the decades that ``floor_log10`` leaves below
    ``σ_1``, or a run's own ``floor_log10``), and a curve that starts above 0
    there is marked (◁) at the fraction of values below; exact zeros (``-inf``)
    count at the left edge.  A
    spectrum squeezed into a sliver of the axis by a much wider one is drawn
    again, magnified, in an inset where no curve runs.

    .. math:: δ^l = Π_l\\,δ^{L},\\qquad E[λ] = χ_1^L

    Args:
      result: dict with ``"layers"``, ``"layer_log10_sv"`` (one list per
        layer), ``"product_layers"``, ``"product_log10_sv"``, optional
        ``"floor_log10"`` (values below it are not drawn: a direct SVD does not
        resolve them), and ``"runs": {init: {"log10_lam": [...], "predicted":
        {"mean", "edge"}, optional "floor_log10"}}``; ``"label"`` for the left title.
      ax: two matplotlib Axes (singular values per layer, the distribution of λ), drawn on and
        returned; default a new figure.
      column: ``"full"`` (default), ``"half"`` or a tueplots venue; not with ``ax``.

    References:
      Pennington, Schoenholz & Ganguli 2017, eq. (2) and §2.5; 2018, §3.
    """
    result = _load(result)
    fig, panels, own = _panels(
        ax,
        2,
        what="spectra draws two panels (singular values per layer, the distribution of lambda)",
        column=column,
        default_column="full",
        height_ratio=0.72,
    )
    ax_, pax = ax, panels[0]
    floor = result.get("floor_log10")
    for l, sv in zip(result["layers"], result["layer_log10_sv"]):
        sv = _arr(sv)
        pax.plot(
            np.full(sv.size, l) - 0.18,
            sv,
            linestyle="none",
            marker="_",
            color=PALETTE["blue"],
            markersize=4,
            label=r"$\sigma_i(B^l)$",
        )
    for l, sv in zip(result["product_layers"], result["product_log10_sv"]):
        sv = _arr(sv)
        if floor is not None:
            sv = sv[sv >= floor[result["product_layers"].index(l)] if isinstance(floor, list) else sv >= floor]
        pax.plot(
            np.full(sv.size, l) + 0.18,
            sv,
            linestyle="none",
            marker=".",
            color=PALETTE["vermillion"],
            markersize=2.2,
            label=r"$\sigma_i(B^l\cdots B^{L-1})$",
        )
    pax.axhline(0.0, color="k", linewidth=0.7)
    # room below the data for the legend and the label, so that neither covers a point
    ylo, yhi = pax.get_ylim()
    pax.set_ylim(ylo - 0.22 * (yhi - ylo), yhi + 0.06 * (yhi - ylo))
    pax.text(0.99, 0.98, "expanded", transform=pax.transAxes, ha="right", va="top", fontsize=6)
    pax.text(0.99, 0.02, "shrunk", transform=pax.transAxes, ha="right", va="bottom", fontsize=6)
    pax.set_xlabel(r"layer $l$")
    pax.set_ylabel(r"$\log_{10}\sigma_i$")
    pax.set_title(result.get("label", ""))
    pax.grid(True, axis="y")
    h, lab = pax.get_legend_handles_labels()
    uniq = dict(zip(lab, h))
    pax.legend(uniq.values(), uniq.keys(), loc="lower left", markerscale=2.5, ncols=2, columnspacing=1.0)
    pax.yaxis.get_major_locator().set_params(integer=True)
    pax = panels[1]
    lo, floor = 0.0, -np.inf
    means: list[Any] = [(run.get("predicted") or {}).get("mean") for run in result["runs"].values()]
    one_mean = len(means) > 1 and all(m and math.isclose(m, means[0], rel_tol=1e-9) for m in means)
    curves = []
    for i, (init, run) in enumerate(result["runs"].items()):
        col, ls, mk = _CYCLE[[1, 4][i % 2]]
        ll = np.sort(_arr(run["log10_lam"]))  # -inf (an exact zero, e.g. a dead relu) counts, at the left edge
        fin = ll[np.isfinite(ll)]
        lo = min(lo, fin[0]) if fin.size else lo
        floor = max(floor, _lam_floor(result, run, fin) if fin.size else -np.inf)
        frac = np.arange(1, ll.size + 1) / ll.size
        pred = run.get("predicted") or {}
        curves.append((init, col, ls, ll, frac, pred))
        _spectrum_cdf(pax, init, col, ls, ll, frac, pred, mean=not one_mean)
    if one_mean:  # the same chi_1, hence the same predicted mean: one line
        pax.axvline(np.log10(means[0]), color="k", linestyle=":", linewidth=0.9, label="predicted mean (both)")
    left = max(lo - 0.5, floor)
    pax.set_xlim(left=left)
    if lo < left:  # finite values below what a direct SVD resolves: the curve starts at their fraction, marked
        first = True
        for _init, col, _ls, ll, _frac, _pred in curves:
            below = np.count_nonzero(ll < left) / ll.size
            if below > 0:
                pax.plot(
                    [left],
                    [below],
                    marker="<",
                    color=col,
                    linestyle="none",
                    markersize=4,
                    clip_on=False,
                    label="values below the SVD's resolution" if first else None,
                )
                first = False
    pax.set_xlabel(r"$\log_{10}\lambda$, $\lambda$ a squared singular value of $\partial a^L/\partial x$")
    pax.set_ylabel(r"fraction $\leq$ abscissa")
    pax.set_ylim(-0.03, 1.03)
    pax.grid(True)
    pax.legend(loc="upper left")
    _zoom_narrow_spectrum(fig, pax, curves)
    return _finish(fig, own, ax_, path)


def _spectrum_cdf(ax, init, col, ls, ll, frac, pred, *, mean=True, label=True, lw=1.1):
    """One measured spectrum as an empirical distribution, with its predicted mean and edge."""
    lab = (lambda t: t) if label else (lambda t: None)
    ax.step(ll, frac, where="post", color=col, linestyle=ls, linewidth=lw, label=lab(f"{init}: measured"))
    if mean and pred.get("mean"):
        ax.axvline(
            np.log10(pred["mean"]), color=col, linestyle=":", linewidth=0.9, label=lab(f"{init}: predicted mean")
        )
    if pred.get("edge"):
        ax.axvline(
            np.log10(pred["edge"]), color=col, linestyle="-.", linewidth=0.9, label=lab(f"{init}: predicted edge")
        )


def _zoom_narrow_spectrum(fig, ax, curves):
    """An inset that magnifies a spectrum squeezed into a sliver of the axis by a much wider one.

    Placed where no curve, vertical line or the legend runs (none such: no inset)."""
    if len(curves) < 2:
        return
    x0, x1 = ax.get_xlim()
    narrow = [c for c in curves if (c[3][-1] - c[3][0]) < 0.1 * (x1 - x0)]
    if not narrow or len(narrow) == len(curves):
        return
    init, col, ls, ll, frac, pred = narrow[0]
    w, h = 0.3, 0.27
    fig.canvas.draw()  # legend extent
    leg = ax.get_legend().get_window_extent().transformed(ax.transAxes.inverted())
    vlines = [
        ln.get_xdata()[0]
        for ln in ax.get_lines()
        if len(ln.get_xdata()) == 2 and ln.get_xdata()[0] == ln.get_xdata()[1]
    ]
    vx = [(v - x0) / (x1 - x0) for v in vlines]
    y0, y1 = ax.get_ylim()
    spots = [(cx, cy) for cy in np.arange(0.07, 0.66, 0.04) for cx in np.arange(0.62, 0.08, -0.04)]
    for cx, cy in spots:  # lowest, then rightmost, free spot
        if cx < leg.x1 and cx + w > leg.x0 and cy < leg.y1 and cy + h > leg.y0:
            continue
        if any(cx - 0.02 <= v <= cx + w + 0.02 for v in vx):
            continue
        xs = x0 + (x1 - x0) * np.linspace(cx - 0.02, cx + w + 0.02, 200)
        hit = False
        for c in curves:
            j = np.searchsorted(c[3], xs, side="right")
            yv = np.where(j > 0, c[4][np.maximum(j - 1, 0)], 0.0)
            ya = (yv - y0) / (y1 - y0)
            hit |= bool(np.any((ya >= cy - 0.03) & (ya <= cy + h + 0.03)))
        if not hit:
            break
    else:
        return
    ins = ax.inset_axes([cx, cy, w, h])
    _spectrum_cdf(ins, init, col, ls, ll, frac, pred, label=False)
    if pred.get("mean"):
        ins.axvline(np.log10(pred["mean"]), color="k", linestyle=":", linewidth=0.9)
    edge = np.log10(pred["edge"]) if pred.get("edge") else ll[-1]
    pad = 0.08 * (max(edge, ll[-1]) - ll[0])
    ins.set_xlim(ll[0] - pad, max(edge, ll[-1]) + pad)
    ins.set_ylim(-0.03, 1.03)
    ins.set_title(f"{init}, magnified", fontsize=5.5, pad=2)
    ins.tick_params(labelsize=5, length=2, pad=1)
    ins.xaxis.get_major_locator().set_params(nbins=3)
    ins.yaxis.get_major_locator().set_params(nbins=2)
    ins.grid(True)


def _lam_floor(result, run, log10_lam) -> float:
    """Smallest ``log10 λ`` a direct SVD resolves: ``run["floor_log10"]``, else the decades below
    ``σ_1`` that the result's ``floor_log10`` states for the products (λ = σ², twice as many), else −∞."""
    if run.get("floor_log10") is not None:
        return float(run["floor_log10"])
    fl, prods = result.get("floor_log10"), result.get("product_log10_sv")
    if fl is None or not prods:
        return -np.inf
    decades = float(_arr(prods[0])[0]) - float(fl[0] if isinstance(fl, (list, tuple)) else fl)
    return float(np.max(log10_lam)) - 2 * decades


# --- typical against worst case -----------------------------------------------------------


@_drawing
def typical_worst(
    result: Mapping[str, Any],
    *,
    ax: Sequence[Axes] | None = None,
    path: str | os.PathLike | None = None,
    column: str | None = None,
) -> Figure | Sequence[Axes]:
    """Measured ``‖δ^l‖`` beside the mean-field prediction and the textbook bound G, per setting.

    .. math:: E\\|δ^l\\|^2 \\approx χ_1^{L-l}\\,E\\|δ^L\\|^2 \\qquad\\text{against}\\qquad \\|δ^l\\| \\le G_l

    Args:
      result: dict with ``"panels"``, each the ``to_dict()`` of a
        :class:`gradbounds.theory.TypicalWorst` (``layers``, ``measured``,
        ``predicted``, ``predicted_map``, ``bound``, ``chi1``) plus a ``name``.
      ax: one matplotlib Axes per panel (a sequence), drawn on and returned; default a new figure.
      column: ``"full"`` (default), ``"half"`` or a tueplots venue; not with ``ax``.

    References:
      Schoenholz et al. 2017, §5; Poole et al. 2016, eq. (7); the textbook bound (**).
    """
    result = _load(result)
    panels = result["panels"]
    names = ", ".join(repr(p.get("name", "")) for p in panels)
    fig, axs, own = _panels(
        ax,
        len(panels),
        what=f"typical_worst draws one panel per setting ({names})",
        column=column,
        default_column="full",
        height_ratio=0.9,
    )
    ax_ = ax
    series = (
        ("bound", STYLES["G"], r"textbook bound $G$ (**, mean $\log_{10}$)"),
        ("predicted", dict(color=PALETTE["blue"], linestyle="--", marker="s"), r"mean field $\chi_1^{L-l}$"),
        ("predicted_map", dict(color=PALETTE["green"], linestyle="-.", marker="^"), r"mean field along $q^l$"),
        ("measured", STYLES["E"], r"measured (rms $\|\delta^l\|$)"),
    )
    for pax, p in zip(axs, panels):
        x = _arr(p["layers"])
        step = max(len(series), x.size // 12)
        for i, (key, st, lab) in enumerate(series):  # staggered markers: curves that coincide stay apart
            _plot(pax, x, _arr(p[key]), st, lab, markevery=(i * step // len(series), step))
        pax.set_title(f"{p.get('name', '')}: $\\sigma_w^2$={p['sw2']:.3g}, $\\chi_1$={p['chi1']:.3f}")
        pax.set_xlabel(r"layer $l$")
        pax.xaxis.get_major_locator().set_params(integer=True)
        pax.grid(True)
    axs[0].set_ylabel(r"$\log_{10}\|\delta^l\|$")
    _shared_legend(fig, axs, ncols=4, own=own)
    return _finish(fig, own, ax_, path)
