"""Publication figures from results (objects or their JSON).

Every function takes a result (a :class:`~gradbounds.bounds.Hierarchy`, a
:class:`~gradbounds.core.ChainResult`, or the JSON-ready dicts the
``gradbounds`` commands write), returns a :class:`matplotlib.figure.Figure`
and, given ``path``, saves it as a vector PDF sized for a column
(``column="half"``: 3.25 in, ICML) or the text width (``"full"``).
Figures are drawn on bare ``Figure`` objects (no pyplot, no global backend:
they work headless and inside notebooks alike), without LaTeX, with the
Okabe–Ito colour-blind-safe palette *and* a distinct line style and marker
per series, so they read in grey.  The quantities plotted are those of
docs/design.md §2: the levels ``E ≤ P ≤ J ≤ D ≤ G`` in log10, the slack
``log10 G − log10 E`` and its four parts.

References:
  Nielsen, *Neural Networks and Deep Learning*, ch. 5 (the chain, the
  per-layer speeds); Poole et al. 2016 and Schoenholz et al. 2017 (χ₁, the
  critical line); Pennington, Schoenholz & Ganguli 2017 (Jacobian spectra);
  Okabe & Ito 2008 (palette).
"""

from __future__ import annotations

import functools
import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gradbounds import io

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PALETTE", "STYLES", "LEVEL_LABELS", "SLACK_LABELS", "new_figure", "save", "show"]


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
    "lower": r"lower bound $\sigma_{\min}$",
    "E": r"E exact $\|\delta^l\|$",
    "P": "P  product norm",
    "J": "J  per-layer norms",
    "D": "D  data-split bound (*)",
    "G": "G  textbook bound (**)",
}
SLACK_LABELS = {
    "alignment": "alignment $P-E$",
    "submultiplicativity": "submult. $J-P$",
    "split": "split $D-J$",
    "activation": "activation $G-D$",
    "total": "total $G-E$",
}
_WIDTH = {"half": 3.25, "full": 6.75}  # ICML column and text width, inches


def _venue(column: str) -> tuple[str, str]:
    """``(tueplots figsizes function, tueplots fontsizes function)`` of a ``column`` (see :func:`new_figure`)."""
    if column in _WIDTH:
        return f"icml2024_{column}", "icml2024"
    if not isinstance(column, str):
        raise ValueError(f"column: expected 'half', 'full' or a tueplots venue such as 'neurips2024', got {column!r}")
    from gradbounds._extras import require

    figsizes = require("tueplots.figsizes", f"column={column!r}")
    names = sorted(n for n in dir(figsizes) if not n.startswith("_") and callable(getattr(figsizes, n)))
    if column in names:
        fn = column
    elif f"{column}_half" in names:  # a two-column venue by its name: one column
        fn = f"{column}_half"
    else:
        venues = sorted({n.removesuffix("_half").removesuffix("_full") for n in names} | set(names))
        raise ValueError(f"column: expected 'half', 'full' or a tueplots venue ({', '.join(venues)}), got {column!r}")
    return fn, fn.removesuffix("_half").removesuffix("_full")


def _base_rc(column: str = "half") -> dict:
    """rcParams of every figure: venue font sizes, Computer Modern (matplotlib's own TrueType cmr10), no LaTeX."""
    try:
        from tueplots import fontsizes

        rc: dict[str, Any] = dict(getattr(fontsizes, _venue(column)[1], fontsizes.icml2024)())
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
    fn = _venue(column)[0]  # a venue without tueplots: an error naming the extra 'figures'
    try:
        from tueplots import figsizes
    except ImportError:  # 'half' and 'full' without tueplots: fixed ICML widths
        w = _WIDTH[column]
        ratio = height_ratio if height_ratio is not None else (math.sqrt(5) - 1) / 2
        return (w, w / ncols * nrows * ratio)
    kw: dict[str, Any] = dict(nrows=nrows, ncols=ncols)
    if height_ratio is not None:
        kw["height_to_width_ratio"] = height_ratio
    return tuple(getattr(figsizes, fn)(**kw)["figure.figsize"])


def _drawing(fn):
    """Runs a figure function inside the figures' rcParams (nothing global changes)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(_base_rc(kwargs.get("column") or "half")):
            return fn(*args, **kwargs)

    return wrapper


_FIGURE_CLASS = None


def _figure_class():
    """A :class:`~matplotlib.figure.Figure` that shows itself as a PNG in Jupyter (no pyplot, no backend needed)."""
    global _FIGURE_CLASS
    if _FIGURE_CLASS is None:
        from matplotlib.figure import Figure

        class GBFigure(Figure):
            """A matplotlib Figure with ``_repr_png_``: a notebook cell that returns it shows the figure."""

            def _repr_png_(self):
                return _png(self)

        _FIGURE_CLASS = GBFigure
    return _FIGURE_CLASS


def _png(fig: Figure, dpi: int = 150) -> bytes:
    import io as _io

    import matplotlib

    buf = _io.BytesIO()
    with matplotlib.rc_context(_base_rc()):
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def new_figure(
    *,
    nrows: int = 1,
    ncols: int = 1,
    column: str = "half",
    height_ratio: float | None = None,
    sharex: bool = False,
    sharey: bool = False,
) -> tuple[Figure, np.ndarray]:
    """A bare :class:`~matplotlib.figure.Figure` sized for a column, and its axes (2-D array).

    ``column``: ``"half"`` (one column of ICML 2024, 3.25 in) or ``"full"``
    (its text width, 6.75 in), or a tueplots venue: a name of
    ``tueplots.figsizes`` (``"neurips2024"``, ``"iclr2024"``, ``"jmlr2001"``,
    ``"icml2024_full"``, ``"aistats2023_half"``, …) or a two-column venue's
    name alone (``"icml2024"``, ``"aistats2023"``: one column).  Font sizes
    follow the venue.  Without tueplots, ``half`` and ``full`` are 3.25 and
    6.75 in wide with the golden ratio per panel.  Call it (and draw) inside
    the figure functions, which set the rcParams.  The figure shows itself
    as a PNG in Jupyter (``_repr_png_``).
    """
    fig = _figure_class()(figsize=_size(column, nrows, ncols, height_ratio), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, sharey=sharey)
    return fig, axes


def _panels(
    ax: Any, n: int, *, what: str, column: str | None, default_column: str, **figure_kw: Any
) -> tuple[Any, list[Any], bool]:
    """``(fig, [axes], own)``: ``n`` new panels sized for ``column``, or the caller's ``ax`` (one Axes, or ``n``).

    Raises:
      ValueError: ``ax`` and ``column`` together, or the wrong number of axes (naming the panels).
    """
    if ax is None:
        fig, axes = new_figure(ncols=n, column=column or default_column, **figure_kw)
        return fig, list(axes[0]), True
    from matplotlib.axes import Axes

    if column is not None:
        raise ValueError(f"column: the size comes from the figure of ax; expected no column with ax, got {column!r}")
    axes = [ax] if isinstance(ax, Axes) else list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != n or not all(isinstance(a, Axes) for a in axes):
        got = type(ax).__name__ if isinstance(ax, Axes) else f"{len(axes)} object(s)"
        want = "one matplotlib Axes" if n == 1 else f"a sequence of {n} matplotlib Axes"
        raise ValueError(f"ax: {what}; expected {want}, got {got}")
    return axes[0].figure, axes, False


def _finish(fig: Any, own: bool, ax: Any, path: str | os.PathLike | None) -> Any:
    """The figure (saved to ``path`` if given) when it was made here, else the caller's ``ax``."""
    if path is not None:
        save(fig, path)
    return fig if own else ax


def save(fig: Figure, path: str | os.PathLike) -> Path:
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


def show(fig: Figure, *, dpi: int = 150) -> bytes:
    """Displays ``fig`` as a PNG in a notebook (IPython), in the figures' rcParams; returns the PNG bytes."""
    data = _png(fig, dpi=dpi)
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


_load = io.read_json
_arr = io.json_array


def _shared_legend(fig, axes, *, ncols, own=True):
    """One legend under all panels, each label once (on the caller's axes: in the last panel)."""
    seen = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    if own:
        fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncols=ncols, frameon=False)
    else:
        np.ravel(axes)[-1].legend(list(seen.values()), list(seen), loc="best")


def _plot(ax, x, y, style, label=None, **kw):
    st = dict(style)
    st.update(kw)
    n = len(x)
    st.setdefault("markevery", max(1, n // 12))
    return ax.plot(x, y, label=label, **st)[0]


def _title_above_legend(ax, legend, title):
    """``title`` above a legend that sits above the axes: the title's pad is the legend's top (no overlap).

    Both are placed in points from the top of the axes, so the gap survives the layout engine."""
    top = legend.get_window_extent().y1 - ax.get_window_extent().y1  # display pixels above the axes
    ax.set_title(title, pad=max(top, 0.0) * 72.0 / ax.figure.dpi + 3.0)
