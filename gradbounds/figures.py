"""Publication figures from results (objects or their JSON).

Every function takes a result (a :class:`~gradbounds.bounds.Hierarchy`, a
:class:`~gradbounds.chain.ChainResult`, or the JSON-ready dicts the
``gradbounds`` commands write), returns a :class:`matplotlib.figure.Figure`
and, given ``path``, saves it as a vector PDF sized for a column
(``column="half"``: 3.25 in, ICML) or the text width (``"full"``).
Figures are drawn on bare ``Figure`` objects (no pyplot, no global backend:
they work headless and inside notebooks alike), without LaTeX, with the
Okabe–Ito colour-blind-safe palette *and* a distinct line style and marker
per series, so they read in grey.  The quantities plotted are those of
DESIGN.md §2: the levels ``E ≤ P ≤ J ≤ D ≤ G`` in log10, the slack
``log10 G − log10 E`` and its four parts.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5 (the chain, the
  per-layer speeds); Poole et al. 2016 and Schoenholz et al. 2017 (χ₁, the
  critical line); Pennington, Schoenholz & Ganguli 2017 (Jacobian spectra);
  Okabe & Ito 2008 (palette).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from pathlib import Path

import numpy as np

__all__ = [
    "PALETTE",
    "STYLES",
    "new_figure",
    "save",
    "show",
    "bound_ladder",
    "slack_depth",
    "chain",
    "underflow",
    "nielsen_dir",
    "load_nielsen",
    "nielsen_speeds",
    "phase_diagram",
    "spectra",
    "typical_worst",
]

# Okabe & Ito (2008): distinguishable under every common colour-vision deficiency.
PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#7F7F7F",
}
_CYCLE = [
    (PALETTE["black"], "-", "o"),
    (PALETTE["blue"], "--", "s"),
    (PALETTE["green"], "-.", "^"),
    (PALETTE["orange"], ":", "v"),
    (PALETTE["vermillion"], (0, (5, 1, 1, 1)), "D"),
    (PALETTE["purple"], (0, (3, 1, 1, 1, 1, 1)), "P"),
    (PALETTE["sky"], (0, (1, 1)), "X"),
]
#: colour, line style and marker of each level of the hierarchy (and the lower bound).
STYLES = {k: dict(color=c, linestyle=ls, marker=m) for k, (c, ls, m) in zip(("E", "P", "J", "D", "G"), _CYCLE)}
STYLES["lower"] = dict(color=PALETTE["grey"], linestyle=(0, (1, 2)), marker="x")
LEVEL_LABELS = {
    "lower": r"lower $\sigma_{\min}$",
    "E": r"E exact $\|\delta^l\|$",
    "P": "P  product",
    "J": "J  per-layer",
    "D": "D  split (*)",
    "G": r"G  $\gamma$-bound (**)",
}
SLACK_LABELS = {
    "alignment": "alignment $P-E$",
    "submultiplicativity": "submult. $J-P$",
    "split": "split $D-J$",
    "activation": "activation $G-D$",
    "total": "total $G-E$",
}
_WIDTH = {"half": 3.25, "full": 6.75}  # ICML column and text width, inches


def _base_rc() -> dict:
    """rcParams of every figure: venue font sizes, Computer Modern (matplotlib's own TrueType cmr10), no LaTeX."""
    try:
        from tueplots import fontsizes

        rc = dict(fontsizes.icml2024())
    except ImportError:
        rc = {"font.size": 8, "axes.labelsize": 8, "xtick.labelsize": 6, "ytick.labelsize": 6}
    rc.update(
        {
            "text.usetex": False,
            "font.family": "serif",
            "font.serif": ["cmr10", "DejaVu Serif"],
            "mathtext.fontset": "cm",
            "axes.formatter.use_mathtext": True,  # cmr10 has no Unicode minus
            "axes.unicode_minus": False,
            "axes.titlesize": 8,
            "legend.fontsize": 6.5,
            "legend.frameon": True,
            "legend.framealpha": 0.85,
            "legend.edgecolor": "none",
            "legend.handlelength": 2.6,
            "legend.borderpad": 0.3,
            "legend.labelspacing": 0.3,
            "lines.linewidth": 1.1,
            "lines.markersize": 3.5,
            "axes.linewidth": 0.6,
            "xtick.major.width": 0.6,
            "ytick.major.width": 0.6,
            "grid.linewidth": 0.4,
            "grid.alpha": 0.5,
            "pdf.fonttype": 42,  # embedded TrueType, no Type 3 fonts
            "savefig.pad_inches": 0.015,
        }
    )
    return rc


def _size(column: str, nrows: int, ncols: int, height_ratio: float | None) -> tuple[float, float]:
    if column not in _WIDTH:
        raise ValueError(f"column: expected 'half' or 'full', got {column!r}")
    try:
        from tueplots import figsizes

        kw = dict(nrows=nrows, ncols=ncols)
        if height_ratio is not None:
            kw["height_to_width_ratio"] = height_ratio
        return tuple(getattr(figsizes, f"icml2024_{column}")(**kw)["figure.figsize"])
    except ImportError:  # fixed ICML widths without tueplots
        w = _WIDTH[column]
        ratio = height_ratio if height_ratio is not None else (math.sqrt(5) - 1) / 2
        return (w, w / ncols * nrows * ratio)


def _drawing(fn):
    """Runs a figure function inside the figures' rcParams (nothing global changes)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(_base_rc()):
            return fn(*args, **kwargs)

    return wrapper


def new_figure(*, nrows=1, ncols=1, column="half", height_ratio=None, sharex=False, sharey=False):
    """A bare :class:`~matplotlib.figure.Figure` sized for a column, and its axes (2-D array).

    Uses tueplots' ICML 2024 sizes when installed, else 3.25 in (half) or
    6.75 in (full) wide with the golden ratio per panel.  Call it (and draw)
    inside the figure functions, which set the rcParams.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=_size(column, nrows, ncols, height_ratio), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, sharey=sharey)
    return fig, axes


def save(fig, path) -> Path:
    """Saves ``fig`` (vector PDF unless the suffix says otherwise), without a timestamp."""
    import matplotlib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"CreationDate": None} if path.suffix.lower() == ".pdf" else {}
    quiet = logging.getLogger("fontTools")  # subsetting chatter about font timestamps
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with matplotlib.rc_context(_base_rc()):
            fig.savefig(path, metadata=meta)
    finally:
        quiet.setLevel(level)
    return path


def show(fig, *, dpi=150):
    """Displays ``fig`` as a PNG in a notebook (IPython), in the figures' rcParams; returns the PNG bytes."""
    import io

    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context(_base_rc()):
        fig.savefig(buf, format="png", dpi=dpi)
    data = buf.getvalue()
    try:
        from IPython.display import Image, display
    except ImportError:
        return data
    display(Image(data=data))
    return data


def _done(fig, path):
    if path is not None:
        save(fig, path)
    return fig


def _load(result):
    if isinstance(result, (str, os.PathLike)):
        with open(result) as f:
            return json.load(f)
    return result


def _arr(v) -> np.ndarray:
    """JSON numbers (with ``"inf"``/``"-inf"``/``None``) to a float array."""
    conv = {"inf": np.inf, "-inf": -np.inf, None: np.nan}
    if isinstance(v, (list, tuple)):
        return np.array([conv.get(t, t) if isinstance(t, (str, type(None))) else t for t in v], float)
    return np.asarray(v, float)


def _shared_legend(fig, axes, *, ncols):
    """One legend under all panels, each label once."""
    seen = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncols=ncols, frameon=False)


def _plot(ax, x, y, style, label=None, **kw):
    st = dict(style)
    st.update(kw)
    n = len(x)
    st.setdefault("markevery", max(1, n // 12))
    return ax.plot(x, y, label=label, **st)[0]


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
def bound_ladder(result, *, path=None, show_lower=True, title=None, column="half"):
    """The levels E ≤ P ≤ J ≤ D ≤ G per layer (log10), from a hierarchy or its JSON.

    .. math:: \\log_{10} E_l \\le \\log_{10} P_l \\le \\log_{10} J_l \\le \\log_{10} D_l \\le \\log_{10} G_l

    With a batch, each level is the summary of ``Hierarchy.to_dict()``
    (the median of log10 over networks and examples) and E and G carry a band
    from their minimum to their maximum (``log10_min``/``log10_max``).

    Args:
      result: :class:`~gradbounds.bounds.Hierarchy`, its ``to_dict()``, the
        JSON of ``gradbounds check``, or a path to that JSON.
      path: where to save the PDF (optional).
      show_lower: draw the certified lower bound where it is positive.

    References:
      DESIGN.md §2; the seed answer's bounds (*) = D and (**) = G.
    """
    d = _ladder_data(result)
    fig, axes = new_figure(column=column, height_ratio=0.8)
    ax = axes[0, 0]
    x = d["layer"]
    for k in ("G", "D", "J", "P", "E"):
        # G hollow and larger: where D and G coincide (D = G when some sigma' is near gamma) both stay visible
        kw = dict(fillstyle="none", markersize=5.5, markeredgewidth=1.0) if k == "G" else {}
        _plot(ax, x, d[k], STYLES[k], LEVEL_LABELS[k], markevery=1, **kw)
        if k + "_min" in d and k in ("E", "G"):
            ax.fill_between(x, d[k + "_min"], d[k + "_max"], color=STYLES[k]["color"], alpha=0.15, linewidth=0)
    if show_lower and np.isfinite(d["lower"]).any():
        _plot(ax, x, d["lower"], STYLES["lower"], LEVEL_LABELS["lower"], markevery=1)
    ax.set_xlabel(r"layer $l$")
    ax.set_ylabel(r"$\log_{10}$ of the level")
    ax.set_xticks(x)
    ax.grid(True, axis="y")
    if title:
        ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    order = [labels.index(LEVEL_LABELS[k]) for k in ("lower", "E", "P", "J", "D", "G") if LEVEL_LABELS[k] in labels]
    ax.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=3,
        frameon=False,
    )
    return _done(fig, path)


# --- slack against depth ------------------------------------------------------


@_drawing
def slack_depth(result, *, path=None, column="half"):
    """Slack ``log10 G − log10 E`` and its four parts against the number of layers crossed.

    .. math:: \\log_{10}\\frac{G}{E} = (P{-}E) + (J{-}P) + (D{-}J) + (G{-}D) \\quad (\\log_{10})

    Args:
      result: dict with ``"families"``, a list of ``{"label", "k", "slack":
        {part: [...]}}`` where ``k`` counts the layers the error crosses
        (``L − l + 1``) and each part is a mean over networks and examples
        (where ``E > 0``, so the parts add up to the total);
        optional ``"slack_min"``/``"slack_max"`` give a band for the total.
    """
    result = _load(result)
    fams = result["families"]
    fig, axes = new_figure(ncols=len(fams), column=column, sharey=True, height_ratio=1.25 if len(fams) > 1 else 0.8)
    for ax, fam in zip(axes[0], fams):
        k = _arr(fam["k"])
        for j, part in enumerate(("total", "activation", "split", "submultiplicativity", "alignment")):
            col, ls, mk = _CYCLE[j]
            _plot(ax, k, _arr(fam["slack"][part]), dict(color=col, linestyle=ls, marker=mk), SLACK_LABELS[part])
        if "slack_min" in fam:
            ax.fill_between(k, _arr(fam["slack_min"]), _arr(fam["slack_max"]), color="k", alpha=0.12, linewidth=0)
        ax.set_xlabel(r"layers crossed $k=L-l+1$")
        ax.set_title(fam["label"])
        ax.grid(True)
    axes[0, 0].set_ylabel(r"slack, $\log_{10}$")
    _shared_legend(fig, axes, ncols=3)
    return _done(fig, path)


# --- the one-neuron chain -------------------------------------------------------


def _chain_dict(r) -> dict:
    r = _load(r)
    if hasattr(r, "_asdict"):
        r = {k: np.asarray(v).tolist() if not np.isscalar(v) else v for k, v in r._asdict().items()}
    return r


@_drawing
def chain(vanishing, exploding, *, path=None, column="half"):
    """The one-neuron chain: ``log10 |∂C/∂b_j|`` against j, vanishing and exploding (×25).

    .. math:: \\frac{∂C}{∂b_j} = σ'(z_j)\\prod_{k>j} w_kσ'(z_k)\\,\\frac{∂C}{∂a_L}

    Args:
      vanishing, exploding: :class:`~gradbounds.chain.ChainResult` or dicts
        with ``log10_abs_grad_b``; optional ``log10_bound`` (the γ-bound
        ``|∂C/∂a_L| ∏ |w_k|/4``, drawn dashed) and ``grad_b`` (the plain
        float64 product; entries that over- or underflowed are marked).

    References:
      Nielsen ch. 5, "What's causing the vanishing gradient problem?".
    """
    fig, axes = new_figure(ncols=2, column=column, height_ratio=1.1)
    for ax, r, name in zip(axes[0], (vanishing, exploding), ("vanishing", r"exploding, $\times 25$")):
        r = _chain_dict(r)
        y = _arr(r["log10_abs_grad_b"])
        j = np.arange(1, len(y) + 1)
        _plot(ax, j, y, STYLES["E"], "exact")
        if r.get("log10_bound") is not None:
            st = dict(STYLES["G"], linestyle="--", fillstyle="none", markevery=(len(j) // 24, max(1, len(j) // 12)))
            _plot(ax, j, _arr(r["log10_bound"]), st, r"$\gamma$-bound, $\gamma=1/4$")
        if r.get("grad_b") is not None:
            g = np.abs(_arr(r["grad_b"]))
            bad = np.where(~np.isfinite(g) | (g == 0))[0]
            if bad.size:
                what = "overflow" if np.isinf(g).any() else "underflow"
                ax.axvspan(
                    bad.min() + 0.5,
                    bad.max() + 1.5,
                    color=PALETTE["grey"],
                    alpha=0.25,
                    linewidth=0,
                    label=f"float64 {what}",
                )
        ax.set_xlabel(r"layer $j$")
        ax.set_title(name)
        ax.grid(True)
    axes[0, 0].set_ylabel(r"$\log_{10}|\partial C/\partial b_j|$")
    _shared_legend(fig, axes, ncols=3)
    return _done(fig, path)


# --- underflow depth per dtype ---------------------------------------------------


@_drawing
def underflow(result, *, path=None, column="half"):
    """Exact ``log10 ‖δ^l‖`` against layers crossed, and where plain backprop underflows, per dtype.

    Args:
      result: dict with ``"k"`` (layers crossed), ``"log10_E"`` (exact, by
        rescaled backprop; horizontal lines mark each dtype's smallest normal
        number, labelled at their right end) and ``"dtypes"``: ``{name: {"depth": k or None,
        "tiny_log10": log10 of the smallest normal, "subnormal_log10": ...}}``.
    """
    result = _load(result)
    k, e = _arr(result["k"]), _arr(result["log10_E"])
    fig, axes = new_figure(column=column, height_ratio=0.85)
    ax = axes[0, 0]
    _plot(ax, k, e, dict(color="k", linestyle="-", marker=None), r"exact $\log_{10}\|\delta^l\|$")
    groups = {}
    for i, (name, d) in enumerate(result["dtypes"].items()):
        col, ls, mk = _CYCLE[i + 1]
        groups.setdefault(round(d["tiny_log10"], 6), []).append((name, col, ls))
        if d.get("depth") is not None:
            kd = d["depth"]
            ax.plot(
                [kd],
                [np.interp(kd, k, e)],
                marker=mk,
                color=col,
                linestyle="none",
                markersize=5,
                label=f"{name}: zero from $k$={kd}",
            )
        else:
            ax.plot([], [], marker=mk, color=col, linestyle="none", label=f"{name}: never zero")
    for tiny, members in groups.items():
        name, col, ls = members[-1]
        ax.axhline(tiny, color=col, linestyle=ls, linewidth=0.7)
    ax.margins(y=0.1)
    lo, hi = ax.get_ylim()
    for tiny, members in groups.items():
        # short names at the right end of the dtype's smallest-normal line: above it, unless another
        # line runs just above (then below it), so that no label sits on a line
        crowded = any(0 < t - tiny < 0.08 * (hi - lo) for t in groups)
        ax.annotate(
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
    ax.set_xlabel(r"layers crossed $k=L-l+1$")
    ax.set_ylabel(r"$\log_{10}\|\delta^l\|$")
    ax.grid(True)
    h, lab = ax.get_legend_handles_labels()  # under the axes: inside, it covered a dtype line
    fig.legend(h, lab, loc="outside lower center", ncols=2, frameon=False)
    return _done(fig, path)


# --- Nielsen's per-layer speeds ------------------------------------------------


def nielsen_dir(directory=None) -> Path:
    """Directory of the author's published curves.

    ``directory``, else ``$GRADBOUNDS_NIELSEN_DIR``, else ``<repo>/../shared/data/nielsen``
    (the repository is cloned with ``shared/`` beside it).
    """
    if directory is None:
        directory = os.environ.get("GRADBOUNDS_NIELSEN_DIR")
    if directory is None:
        directory = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nielsen"
    return Path(directory)


def load_nielsen(directory=None) -> dict[int, np.ndarray]:
    """The author's speeds ``{k: array (steps, k)}`` from ``norms_during_training_{k}_layers.json``.

    Raises:
      FileNotFoundError: the directory or a file is missing (the message says
        where it looked and how to point elsewhere).
    """
    d = nielsen_dir(directory)
    out = {}
    for k in (2, 3, 4):
        f = d / f"norms_during_training_{k}_layers.json"
        if not f.is_file():
            raise FileNotFoundError(
                f"Nielsen's published curves: expected {f.name} in {d}, not found "
                "(pass nielsen_dir=/--nielsen-dir or set GRADBOUNDS_NIELSEN_DIR)"
            )
        with open(f) as fh:
            arr = np.asarray(json.load(fh), float)
        if arr.ndim != 2 or arr.shape[1] != k:
            raise ValueError(f"{f}: expected rows of {k} speeds, got shape {arr.shape}")
        out[k] = arr
    return out


@_drawing
def nielsen_speeds(ours=None, *, published=None, nielsen_dir=None, path=None, label="ours"):
    """Per-layer speed of learning ``‖(1/n)Σ_x δ^l_x‖`` against step, beside the author's curves.

    Args:
      ours: ``{k: array (steps, k)}`` or ``{str(k): {"speeds": rows}}`` (the
        JSON of ``gradbounds train``); optional.
      published: ``{k: array}``; by default :func:`load_nielsen` (``nielsen_dir``).

    References:
      Nielsen ch. 5, the figures of "The vanishing gradient problem".
    """
    pub = published if published is not None else load_nielsen(nielsen_dir)
    fig, axes = new_figure(ncols=3, column="full", sharey=True, height_ratio=0.95)
    for ax, k in zip(axes[0], (2, 3, 4)):
        P = np.asarray(pub[k])
        steps = np.arange(P.shape[0])
        for i in range(k):
            col, ls, mk = _CYCLE[i]
            _plot(
                ax,
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
                    ax,
                    np.arange(o.shape[0]),
                    o[:, i],
                    dict(color=col, linestyle="-", marker=mk),
                    f"layer {i + 1}, {label}",
                )
        ax.set_yscale("log")
        ax.set_xlabel("step (epoch)")
        ax.set_title(f"{k} hidden layers")
        ax.grid(True, which="major")
    axes[0, 0].set_ylabel(r"speed $\|\frac{1}{n}\sum_x\delta^l_x\|$")
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
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    return _done(fig, path)


# --- mean-field phase diagram ---------------------------------------------------


@_drawing
def phase_diagram(result, *, path=None, column="half"):
    """χ₁ over (σ_w², σ_b²) with the order-to-chaos line χ₁ = 1.

    .. math:: χ_1 = σ_w^2\\,\\mathbb{E}_{z}[σ'(\\sqrt{q^*}z)^2]

    Args:
      result: dict with ``"sw2"`` (m,), ``"sb2"`` (n,), ``"chi1"`` (n, m),
        ``"critical": {"sb2": [...], "sw2": [...]}`` and ``"activation"``.
        Arguments are variances.

    References:
      Poole et al. 2016, eq. (7); Schoenholz et al. 2017, eq. (5).
    """
    result = _load(result)
    sw2, sb2, chi = _arr(result["sw2"]), _arr(result["sb2"]), np.asarray(result["chi1"], float)
    fig, axes = new_figure(column=column, height_ratio=0.8)
    ax = axes[0, 0]
    mesh = ax.pcolormesh(sw2, sb2, np.log2(chi), cmap="cividis", shading="auto", rasterized=True)
    cs = ax.contour(sw2, sb2, chi, levels=[0.5, 0.8, 1.25, 2.0], colors="k", linewidths=0.5, linestyles=":")
    # contour labels a third of the way up, clear of the region labels in the corners
    at = []
    for segs in cs.allsegs:
        v = np.concatenate(segs) if segs else np.empty((0, 2))
        if len(v):
            at.append(tuple(v[np.argmin(np.abs(v[:, 1] - (sb2[0] + 0.35 * (sb2[-1] - sb2[0]))))]))
    ax.clabel(cs, fontsize=5, fmt="%g", manual=at)
    crit = result["critical"]
    ax.plot(_arr(crit["sw2"]), _arr(crit["sb2"]), color="w", linewidth=2.2)
    ax.plot(
        _arr(crit["sw2"]), _arr(crit["sb2"]), color="k", linewidth=1.1, linestyle="--", label=r"critical $\chi_1=1$"
    )
    box = dict(boxstyle="round,pad=0.2", facecolor="w", edgecolor="none", alpha=0.85)
    ax.text(0.03, 0.97, "ordered (vanishing)", transform=ax.transAxes, fontsize=6.5, va="top", bbox=box)
    ax.text(0.97, 0.03, "chaotic (exploding)", transform=ax.transAxes, fontsize=6.5, ha="right", bbox=box)
    # the critical line labelled where it is drawn (a legend box would cover the contour labels)
    cx, cy = _arr(crit["sw2"]), _arr(crit["sb2"])
    if cx.size:
        j = int(np.argmin(np.abs(cy - (sb2[0] + 0.55 * (sb2[-1] - sb2[0])))))
        ax.annotate(
            r"$\chi_1=1$",
            (cx[j], cy[j]),
            xytext=(4, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=6.5,
            bbox=box,
        )
    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel(r"$\sigma_b^2$")
    ax.set_title(f"{result.get('activation', '')}: mean-field $\\chi_1$, critical line dashed")
    fig.colorbar(mesh, ax=ax, label=r"$\log_2\chi_1$")
    return _done(fig, path)


# --- singular-value spectra --------------------------------------------------------


@_drawing
def spectra(result, *, path=None, column="full"):
    """Singular values of the error Jacobians ``B^l``, of their products, and of ``∂a^L/∂x``.

    Left: ``log10 σ_i(B^l)`` per layer (ticks) and ``log10 σ_i(Π_l)`` of the
    products ``Π_l = B^l ⋯ B^{L-1}`` (dots): directions above 0 are expanded on
    the way from the output to layer l, those below shrunk.  Right: empirical
    distribution of ``log10 λ`` for the squared singular values λ of the
    input-output Jacobian, one per weight ensemble, with the free-probability
    mean (one line when the ensembles share it) and spectral edge.  The λ axis
    starts where a direct SVD stops resolving (twice the decades that
    ``floor_log10`` leaves below ``σ_1``, or a run's own ``floor_log10``), so a
    curve may start above 0; exact zeros (``-inf``) count at the left edge.  A
    spectrum squeezed into a sliver of the axis by a much wider one is drawn
    again, magnified, in an inset where no curve runs.

    .. math:: δ^l = Π_l\\,δ^{L},\\qquad E[λ] = χ_1^L

    Args:
      result: dict with ``"layers"``, ``"layer_log10_sv"`` (one list per
        layer), ``"product_layers"``, ``"product_log10_sv"``, optional
        ``"floor_log10"`` (values below it are not drawn: a direct SVD does not
        resolve them), and ``"runs": {init: {"log10_lam": [...], "predicted":
        {"mean", "edge"}, optional "floor_log10"}}``; ``"label"`` for the left title.

    References:
      Pennington, Schoenholz & Ganguli 2017, eq. (2) and §2.5; 2018, §3.
    """
    result = _load(result)
    fig, axes = new_figure(ncols=2, column=column, height_ratio=0.72)
    ax = axes[0, 0]
    floor = result.get("floor_log10")
    for l, sv in zip(result["layers"], result["layer_log10_sv"]):
        sv = _arr(sv)
        ax.plot(
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
        ax.plot(
            np.full(sv.size, l) + 0.18,
            sv,
            linestyle="none",
            marker=".",
            color=PALETTE["vermillion"],
            markersize=2.2,
            label=r"$\sigma_i(B^l\cdots B^{L-1})$",
        )
    ax.axhline(0.0, color="k", linewidth=0.7)
    # room below the data for the legend and the label, so that neither covers a point
    ylo, yhi = ax.get_ylim()
    ax.set_ylim(ylo - 0.22 * (yhi - ylo), yhi + 0.06 * (yhi - ylo))
    ax.text(0.99, 0.98, "expanded", transform=ax.transAxes, ha="right", va="top", fontsize=6)
    ax.text(0.99, 0.02, "shrunk", transform=ax.transAxes, ha="right", va="bottom", fontsize=6)
    ax.set_xlabel(r"layer $l$")
    ax.set_ylabel(r"$\log_{10}\sigma_i$")
    ax.set_title(result.get("label", ""))
    ax.grid(True, axis="y")
    h, lab = ax.get_legend_handles_labels()
    uniq = dict(zip(lab, h))
    ax.legend(uniq.values(), uniq.keys(), loc="lower left", markerscale=2.5, ncols=2, columnspacing=1.0)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax = axes[0, 1]
    lo, floor = 0.0, -np.inf
    means = [(run.get("predicted") or {}).get("mean") for run in result["runs"].values()]
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
        _spectrum_cdf(ax, init, col, ls, ll, frac, pred, mean=not one_mean)
    if one_mean:  # the same chi_1, hence the same predicted mean: one line
        ax.axvline(np.log10(means[0]), color="k", linestyle=":", linewidth=0.9, label="predicted mean (both)")
    left = max(lo - 0.5, floor)
    ax.set_xlim(left=left)
    if lo < left:  # finite values below what a direct SVD resolves: the curve starts at their fraction
        ax.plot([], [], linestyle="none", label="axis starts at the SVD's resolution")
    ax.set_xlabel(r"$\log_{10}\lambda$, $\lambda$ a squared singular value of $\partial a^L/\partial x$")
    ax.set_ylabel(r"fraction $\leq$ abscissa")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(True)
    ax.legend(loc="upper left")
    _zoom_narrow_spectrum(fig, ax, curves)
    return _done(fig, path)


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
def typical_worst(result, *, path=None, column="full"):
    """Measured ``‖δ^l‖`` beside the mean-field prediction and the textbook bound G, per setting.

    .. math:: E\\|δ^l\\|^2 \\approx χ_1^{L-l}\\,E\\|δ^L\\|^2 \\qquad\\text{against}\\qquad \\|δ^l\\| \\le G_l

    Args:
      result: dict with ``"panels"``, each the ``to_dict()`` of a
        :class:`gradbounds.typical.TypicalWorst` (``layers``, ``measured``,
        ``predicted``, ``predicted_map``, ``bound``, ``chi1``) plus a ``name``.

    References:
      Schoenholz et al. 2017, §5; Poole et al. 2016, eq. (7); the seed answer's (**).
    """
    result = _load(result)
    panels = result["panels"]
    fig, axes = new_figure(ncols=len(panels), column=column, height_ratio=0.9)
    series = (
        ("bound", STYLES["G"], r"bound $G$ (mean $\log_{10}$)"),
        ("predicted", dict(color=PALETTE["blue"], linestyle="--", marker="s"), r"mean field $\chi_1^{L-l}$"),
        ("predicted_map", dict(color=PALETTE["green"], linestyle="-.", marker="^"), r"mean field along $q^l$"),
        ("measured", STYLES["E"], r"measured (rms $\|\delta^l\|$)"),
    )
    for ax, p in zip(axes[0], panels):
        x = _arr(p["layers"])
        step = max(len(series), x.size // 12)
        for i, (key, st, lab) in enumerate(series):  # staggered markers: curves that coincide stay apart
            _plot(ax, x, _arr(p[key]), st, lab, markevery=(i * step // len(series), step))
        ax.set_title(f"{p.get('name', '')}: $\\sigma_w^2$={p['sw2']:.3g}, $\\chi_1$={p['chi1']:.3f}")
        ax.set_xlabel(r"layer $l$")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True)
    axes[0, 0].set_ylabel(r"$\log_{10}\|\delta^l\|$")
    _shared_legend(fig, axes, ncols=4)
    return _done(fig, path)
