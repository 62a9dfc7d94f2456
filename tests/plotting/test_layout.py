"""Every figure: drawn on the caller's axes (``ax=``), sized for a venue (``column=``), no two texts overlap,
labels that say what they show, and a figure that shows itself in Jupyter."""

import inspect

import jax
import numpy as np
import pytest
from helpers import key, small_net
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

import gradbounds as gb
from gradbounds import plotting
from gradbounds.core import chain_gradients, chain_network


def _hierarchy():
    net = small_net(0, widths=(6, 5, 5, 5, 3))
    x = jax.random.uniform(key(1), (3, 6))
    y = jax.random.uniform(key(2), (3, 3))
    return gb.hierarchy(net, x, y)


def _slack():
    parts = ("total", "activation", "split", "submultiplicativity", "alignment")
    rng = np.random.default_rng(0)
    fam = {"label": "sigmoid", "k": [1, 2, 3, 4], "slack": {p: rng.uniform(0, 3, 4).tolist() for p in parts}}
    return {"families": [fam, dict(fam, label="tanh")]}


def _phase():
    sw2, sb2 = np.linspace(0.5, 3.0, 6), np.linspace(0.0, 0.5, 4)
    crit = {"sb2": sb2.tolist(), "sw2": (1.5 / (1 + sb2)).tolist()}
    return {"sw2": sw2, "sb2": sb2, "chi1": np.outer(1 + sb2, sw2) / 1.5, "critical": crit, "activation": "tanh"}


def _spectra():
    rng = np.random.default_rng(1)
    return {
        "layers": [1, 2, 3],
        "layer_log10_sv": [np.sort(rng.normal(0, 0.3, 4))[::-1] for _ in range(3)],
        "product_layers": [1, 2, 3],
        "product_log10_sv": [np.sort(rng.normal(0, 1, 4))[::-1] for _ in range(3)],
        "label": "tanh, depth 3",
        "runs": {"gaussian": {"log10_lam": rng.normal(0, 1, 50), "predicted": {"mean": 1.0, "edge": 10.0}}},
    }


def _typical():
    layers = list(range(1, 7))
    p = {
        "layers": layers,
        "measured": np.linspace(-0.5, 0, 6).tolist(),
        "predicted": np.linspace(-0.5, 0, 6).tolist(),
        "predicted_map": np.linspace(-0.45, 0, 6).tolist(),
        "bound": np.linspace(3, 0, 6).tolist(),
        "chi1": 0.9,
        "sw2": 1.2,
    }
    return {"panels": [dict(p, name="ordered"), dict(p, name="critical")]}


def _underflow():
    return {
        "k": [1, 2, 3, 4, 5],
        "log10_E": [-1.0, -20.0, -40.0, -320.0, -400.0],
        "dtypes": {"float32": {"depth": 3, "tiny_log10": -37.9}, "float64": {"depth": None, "tiny_log10": -307.7}},
    }


def _nielsen_ours():
    rng = np.random.default_rng(2)
    return {k: np.abs(rng.normal(0, 0.1, (20, k))) for k in (2, 3, 4)}


def _bptt():
    k = np.arange(21.0)
    cells = {
        "rnn": {"log10_E": -0.2 * (20 - k), "log10_G": 0.1 * (20 - k)},
        "lstm": {"log10_E": -0.3 * (20 - k), "log10_G": None},
        "gru": {"log10_E": -0.25 * (20 - k), "log10_G": None},
    }
    steps = [0, 50, 100, 150]
    runs = {
        v: {"steps": steps, "test_mse": [0.2, 0.1, 0.05 * (i + 1), 0.01 * (i + 1)]}
        for i, v in enumerate(["rnn", "lstm", "gru"])
    }
    return {"T": 20, "cells": cells, "adding": {"T": 20, "runs": runs}}


def _residual():
    k = np.arange(1.0, 53.0)
    plain = {"log10_E": -0.3 * (52 - k), "log10_G": 0.3 * (52 - k), "log10_floor": None}
    res = {"log10_E": -0.01 * (52 - k), "log10_G": 0.05 * (52 - k), "log10_floor": -0.1 * (52 - k)}
    return {"plain tanh": plain, "residual": res}


# name -> (call with keyword options, number of panels)
FIGURES = {
    "bound_ladder": (lambda **kw: plotting.bound_ladder(_hierarchy(), **kw), 1),
    "slack_depth": (lambda **kw: plotting.slack_depth(_slack(), **kw), 2),
    "chain": (
        lambda **kw: plotting.chain(
            chain_gradients(chain_network(key(0), 12)), chain_gradients(chain_network(None, 40, exploding=True)), **kw
        ),
        2,
    ),
    "underflow": (lambda **kw: plotting.underflow(_underflow(), **kw), 1),
    "nielsen_speeds": (lambda **kw: plotting.nielsen_speeds(_nielsen_ours(), **kw), 3),
    "phase_diagram": (lambda **kw: plotting.phase_diagram(_phase(), **kw), 1),
    "spectra": (lambda **kw: plotting.spectra(_spectra(), **kw), 2),
    "typical_worst": (lambda **kw: plotting.typical_worst(_typical(), **kw), 2),
    "bptt_cells": (lambda **kw: plotting.bptt_cells(_bptt(), **kw), 2),
    "residual_depth": (lambda **kw: plotting.residual_depth(_residual(), **kw), 2),
}


def test_every_public_figure_function_is_covered_and_takes_ax_and_column():
    public = {
        n
        for n in plotting.__all__
        if inspect.isfunction(getattr(plotting, n)) and n not in ("new_figure", "save", "show")
    }
    assert public == set(FIGURES)
    for n in public:
        params = inspect.signature(getattr(plotting, n)).parameters
        assert params["ax"].kind is inspect.Parameter.KEYWORD_ONLY and params["ax"].default is None
        assert params["column"].default is None


def _drawn_texts(fig):
    """(text, window extent) of every visible, non-empty text that is drawn (tick labels inside the view)."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ticks = set()
    skip = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            tol = 1e-9 * max(1.0, abs(hi - lo))
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                labels = (tick.label1, tick.label2)
                (ticks if lo - tol <= tick.get_loc() <= hi + tol else skip).update(labels)
    out = []
    for t in fig.findobj(Text):
        if t in skip or not t.get_visible() or not t.get_text().strip():
            continue
        bb = t.get_window_extent(renderer)
        if bb.width > 0 and bb.height > 0:
            out.append((t, bb))
    return out


def _overlaps(fig):
    boxes = _drawn_texts(fig)
    bad = []
    for i, (a, ba) in enumerate(boxes):
        for b, bb in boxes[i + 1 :]:
            if ba.padded(-0.5).overlaps(bb.padded(-0.5)):  # half a pixel of tolerance: touching is not overlapping
                bad.append((a.get_text(), b.get_text()))
    return bad


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_two_texts_overlap(name):
    make, _ = FIGURES[name]
    fig = make()
    assert isinstance(fig, Figure)
    assert _overlaps(fig) == []


def test_the_overlap_check_finds_an_overlap():
    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.text(0.5, 0.5, "first label")
    ax.text(0.52, 0.5, "second label")
    assert _overlaps(fig) == [("first label", "second label")]


@pytest.mark.parametrize("column", ["half", "neurips2024", "jmlr2001"])
def test_a_title_never_overlaps_the_legend(column):
    fig = plotting.bound_ladder(_hierarchy(), title="a long title over the ladder of levels", column=column)
    assert _overlaps(fig) == []
    texts = [t.get_text() for t, _ in _drawn_texts(fig)]
    assert "a long title over the ladder of levels" in texts


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_ax_draws_there_and_returns_it(name):
    make, n = FIGURES[name]
    fig = Figure(figsize=(3 * n, 3))
    axes = fig.subplots(1, n, squeeze=False)[0]
    got = make(ax=axes[0] if n == 1 else list(axes))
    if n == 1:
        assert got is axes[0]
    else:
        assert list(got) == list(axes)
    assert all(a.get_lines() or a.collections for a in axes)  # every panel drawn on
    assert all(a.figure is fig for a in fig.axes)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_wrong_axes_are_a_clear_error(name):
    make, n = FIGURES[name]
    fig = Figure()
    axes = fig.subplots(1, n + 1, squeeze=False)[0]
    with pytest.raises(ValueError, match=rf"ax: .*expected (one matplotlib Axes|a sequence of {n} matplotlib Axes)"):
        make(ax=list(axes))
    with pytest.raises(ValueError, match="column: the size comes from the figure of ax"):
        make(ax=axes[0] if n == 1 else list(axes[:n]), column="half")


def test_multi_panel_errors_name_the_panels():
    fig = Figure()
    ax = fig.subplots()
    with pytest.raises(ValueError, match=r"chain draws two panels \(vanishing, exploding\)"):
        FIGURES["chain"][0](ax=ax)
    with pytest.raises(ValueError, match=r"one panel per family \('sigmoid', 'tanh'\)"):
        FIGURES["slack_depth"][0](ax=[ax])


@pytest.mark.parametrize("column", ["icml2024", "icml2024_full", "neurips2024", "iclr2024", "jmlr2001", "aistats2023"])
def test_column_takes_tueplots_venues(column):
    from tueplots import figsizes

    fn = column if hasattr(figsizes, column) else f"{column}_half"
    want = getattr(figsizes, fn)(nrows=1, ncols=1)["figure.figsize"][0]
    fig = plotting.bound_ladder(_hierarchy(), column=column)
    assert fig.get_figwidth() == pytest.approx(want)
    assert _overlaps(fig) == []


def test_half_full_and_an_unknown_venue():
    assert plotting.bound_ladder(_hierarchy()).get_figwidth() == pytest.approx(3.25)
    assert plotting.bound_ladder(_hierarchy(), column="full").get_figwidth() == pytest.approx(6.75)
    with pytest.raises(ValueError, match=r"column: expected 'half', 'full' or a tueplots venue \(.*neurips2024.*\)"):
        plotting.bound_ladder(_hierarchy(), column="neurips")


def test_labels_say_what_they_show():
    fig = FIGURES["bound_ladder"][0]()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "D  data-split bound (*)" in labels and "G  textbook bound (**)" in labels
    for name, (make, _) in FIGURES.items():
        fig = make()
        texts = [t.get_text().strip() for t in fig.findobj(Text)]
        assert not any(t in ("(*)", "(**)", "*", "**") or t.endswith(" (*)") and len(t) < 8 for t in texts), name


@pytest.mark.parametrize("name", ["bound_ladder", "chain"])
def test_figures_show_themselves_in_jupyter(name):
    fig = FIGURES[name][0]()
    png = fig._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    # what IPython does with the object a cell returns: the image/png entry comes from _repr_png_
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(fig)
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
