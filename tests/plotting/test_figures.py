"""Figures: valid vector PDFs of the right size, and the data drawn is the data given.

Each figure function returns its :class:`~matplotlib.figure.Figure`; the tests
read the plotted lines back and compare them with the results they were drawn
from (computed here from small networks with fixed seeds).
"""

import json
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import example, key, small_net

import gradbounds as gb
from gradbounds import plotting, training
from gradbounds.cli import main
from gradbounds.core import chain_gradients, chain_network
from gradbounds.io import to_json as json_ready


def _pdf_ok(path, width_in=None):
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(b"%PDF"), path
    assert b"/Type3" not in data and b"/Subtype /Type3" not in data  # embedded TrueType, no Type 3 fonts
    if width_in is not None:
        box = re.search(rb"/MediaBox \[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", data)
        assert box, "no MediaBox"
        assert abs(float(box.group(3)) - 72 * width_in) < 0.5


def _line(fig, label, ax=0):
    for ln in fig.axes[ax].get_lines():
        if ln.get_label() == label:
            return ln
    raise AssertionError(f"no line labelled {label!r} in {[ln.get_label() for ln in fig.axes[ax].get_lines()]}")


def test_import_gradbounds_does_not_import_matplotlib():
    code = "import sys, gradbounds, gradbounds.plotting; assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_bound_ladder_draws_the_levels(tmp_path):
    net = small_net(0, widths=(6, 5, 5, 5, 3))
    x, y = example(net, 1)
    h = gb.hierarchy(net, x, y)
    fig = plotting.bound_ladder(h, path=tmp_path / "ladder.pdf")
    _pdf_ok(tmp_path / "ladder.pdf", width_in=3.25)
    for k in ("E", "P", "J", "D", "G"):
        ln = _line(fig, plotting.LEVEL_LABELS[k])
        np.testing.assert_array_equal(ln.get_xdata(), np.arange(1, 5))
        np.testing.assert_allclose(ln.get_ydata(), h.log10(k), rtol=1e-12)
    # the same figure from the JSON of the result
    fig2 = plotting.bound_ladder(json.loads(json.dumps(json_ready(h.to_dict()))))
    np.testing.assert_allclose(_line(fig2, plotting.LEVEL_LABELS["E"]).get_ydata(), h.log10("E"), rtol=1e-12)


@pytest.mark.slow
def test_bound_ladder_batch_draws_the_summary_and_its_range():
    net = small_net(2, widths=(4, 6, 6, 2))
    kx, ky = jax.random.split(key(3))
    X, Y = jax.random.uniform(kx, (7, 4)), jax.random.uniform(ky, (7, 2))
    h = gb.hierarchy(net, X, Y)
    d = h.to_dict()
    fig = plotting.bound_ladder(h)
    for k in ("E", "G"):
        want = [e["log10"][k] for e in d["layers"]]
        np.testing.assert_allclose(_line(fig, plotting.LEVEL_LABELS[k]).get_ydata(), want, rtol=1e-12)
        assert min(h.log10(k)[:, 0]) <= want[0] <= max(h.log10(k)[:, 0])
    # the bands span min..max over the examples
    band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    np.testing.assert_allclose([band.min(), band.max()], [h.log10("G").min(), h.log10("G").max()], rtol=1e-12)


def test_slack_depth_draws_the_parts(tmp_path):
    parts = ("total", "activation", "split", "submultiplicativity", "alignment")
    rng = np.random.default_rng(0)
    fam = {"label": "test", "k": [1, 2, 3, 4], "slack": {p: rng.uniform(0, 3, 4).tolist() for p in parts}}
    fig = plotting.slack_depth({"families": [fam, dict(fam, label="two")]}, path=tmp_path / "s.pdf")
    _pdf_ok(tmp_path / "s.pdf", width_in=3.25)
    for p in parts:
        np.testing.assert_allclose(_line(fig, plotting.SLACK_LABELS[p], ax=1).get_ydata(), fam["slack"][p])


def test_chain_draws_the_log_gradients(tmp_path):
    van = chain_gradients(chain_network(key(0), 12))
    ex = chain_gradients(chain_network(None, 250, exploding=True))
    fig = plotting.chain(van, ex, path=tmp_path / "chain.pdf")
    _pdf_ok(tmp_path / "chain.pdf")
    np.testing.assert_allclose(_line(fig, "exact", 0).get_ydata(), van.log10_abs_grad_b)
    np.testing.assert_allclose(_line(fig, "exact", 1).get_ydata(), ex.log10_abs_grad_b)
    # the exploding chain's plain float64 product overflowed: the band is drawn and labelled
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "float64 overflow" in labels


def test_underflow_draws_the_exact_curve_and_depths(tmp_path):
    res = {
        "k": [1, 2, 3, 4, 5],
        "log10_E": [-1.0, -20.0, -40.0, -320.0, -400.0],
        "dtypes": {"float32": {"depth": 3, "tiny_log10": -37.9}, "float64": {"depth": None, "tiny_log10": -307.7}},
    }
    fig = plotting.underflow(res, path=tmp_path / "u.pdf")
    _pdf_ok(tmp_path / "u.pdf", width_in=3.25)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), res["log10_E"])
    marker = _line(fig, "float32: zero from $k$=3")
    assert list(marker.get_xdata()) == [3] and list(marker.get_ydata()) == [-40.0]
    _line(fig, "float64: never zero")


def test_nielsen_published_curves(tmp_path):
    pub = training.load_published_speeds()
    assert {k: v.shape for k, v in pub.items()} == {2: (500, 2), 3: (500, 3), 4: (500, 4)}
    # the author's initial speeds (Nielsen ch. 5): 0.0657, 0.309 / ... / 0.00298, 0.0171, 0.0695, 0.285
    np.testing.assert_allclose(pub[2][0], [0.0657, 0.309], rtol=3e-3)
    np.testing.assert_allclose(pub[4][0], [0.00298, 0.0171, 0.0695, 0.285], rtol=3e-3)
    ours = {k: v * 2.0 for k, v in pub.items()}
    fig = plotting.nielsen_speeds(ours, path=tmp_path / "n.pdf")
    _pdf_ok(tmp_path / "n.pdf", width_in=6.75)
    for ax, k in enumerate((2, 3, 4)):
        for i in range(k):
            np.testing.assert_allclose(_line(fig, f"layer {i + 1}, Nielsen", ax).get_ydata(), pub[k][:, i])
            np.testing.assert_allclose(_line(fig, f"layer {i + 1}, ours", ax).get_ydata(), ours[k][:, i])


def test_nielsen_missing_directory_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="norms_during_training_2_layers.json.*GRADBOUNDS_NIELSEN_DIR"):
        training.load_published_speeds(tmp_path)
    monkeypatch.setenv("GRADBOUNDS_NIELSEN_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        training.load_published_speeds()


def test_nielsen_experiment_never_falls_back_to_digits_silently(monkeypatch, capsys):
    from gradbounds.experiments import _nielsen

    class Trained(Exception):
        pass

    seen = []

    def missing(spec):
        raise FileNotFoundError(f"{spec}: not installed")

    def train(d, *a, **k):
        seen.append(d.name)
        raise Trained

    monkeypatch.setattr(training, "load_dataset", missing)
    monkeypatch.setattr(training, "train", train)
    with pytest.raises(Trained):
        _nielsen.nielsen_compute(quick=False, seed=0)
    assert seen == ["digits"]
    err = capsys.readouterr().err
    assert "warning: Fashion-MNIST was not installed, so this build fell back to digits" in err


def test_phase_diagram_and_spectra_draw_their_data(tmp_path):
    sw2 = np.linspace(0.5, 3.0, 6)
    sb2 = np.linspace(0.0, 0.5, 4)
    chi = np.outer(1 + sb2, sw2) / 1.5
    crit = {"sb2": sb2.tolist(), "sw2": (1.5 / (1 + sb2)).tolist()}
    fig = plotting.phase_diagram(
        {"sw2": sw2, "sb2": sb2, "chi1": chi, "critical": crit, "activation": "t"}, path=tmp_path / "p.pdf"
    )
    _pdf_ok(tmp_path / "p.pdf", width_in=3.25)
    np.testing.assert_allclose(_line(fig, r"critical $\chi_1=1$").get_xdata(), crit["sw2"])
    np.testing.assert_allclose(fig.axes[0].collections[0].get_array().reshape(chi.shape), np.log2(chi))


def test_styles_are_distinct_in_grey():
    # every level differs from every other in line style or marker, not only in colour
    keys = ("E", "P", "J", "D", "G", "lower")
    pairs = {(str(plotting.STYLES[k]["linestyle"]), plotting.STYLES[k]["marker"]) for k in keys}
    assert len(pairs) == len(keys)
    assert len({plotting.STYLES[k]["marker"] for k in keys}) == len(keys)


def test_cli_figures_writes_pdf_results_and_numbers(tmp_path, capsys):
    out, tex = tmp_path / "figs", tmp_path / "tex"
    rc = main(["figures", "--out", str(out), "--only", "chain", "--tex", str(tex), "--no-progress"])
    assert rc == 0
    _pdf_ok(out / "chain.pdf")
    res = json.loads((out / "results" / "chain.json").read_text())
    ex = chain_gradients(chain_network(None, res["exploding"]["depth"], exploding=True))
    np.testing.assert_allclose(res["exploding"]["log10_abs_grad_b"], ex.log10_abs_grad_b)
    nums = json.loads((out / "numbers.json").read_text())
    assert nums["chain.exp.factor"] == 25.0 and nums["chain.exp.slack"] == 0.0
    text = (tex / "numbers.tex").read_text()
    assert "\\@namedef{gbn@chain.exp.factor}{25}" in text
    # redraw from the stored result, without recomputing
    (out / "chain.pdf").unlink()
    assert main(["figures", "--out", str(out), "--only", "chain", "--redraw", "--no-progress"]) == 0
    _pdf_ok(out / "chain.pdf")


def test_cli_figures_bad_usage(tmp_path, capsys):
    assert main(["figures", "--out", str(tmp_path), "--only", "nope", "--no-progress"]) == 2
    assert "--only" in capsys.readouterr().err
    assert main(["figures", "--out", str(tmp_path / "empty"), "--only", "chain", "--redraw", "--no-progress"]) == 2


def test_numbers_tex_formats():
    from gradbounds.experiments import numbers_tex, tex_number

    assert tex_number(-3.14159, ".2f") == "\\ensuremath{-}3.14"
    assert tex_number(25.0, ".6g") == "25"
    text = numbers_tex({"a.b": -1.5, "c": 7}, {"a.b": ".1f", "c": "d"}, mode="quick")
    assert "\\@namedef{gbn@a.b}{\\ensuremath{-}1.5}" in text and "\\@namedef{gbn@c}{7}" in text
    with pytest.raises(ValueError, match="number key"):
        numbers_tex({"bad key": 1.0}, {}, mode="quick")


def test_float_dtype_of_figure_inputs_is_irrelevant():
    # float32 results draw the same numbers (figures follow their inputs)
    net = gb.init_network(key(5), (4, 4, 2), dtype=jnp.float32)
    x, y = example(net, 6)
    h = gb.hierarchy(net, x, y)
    fig = plotting.bound_ladder(h)
    np.testing.assert_allclose(_line(fig, plotting.LEVEL_LABELS["E"]).get_ydata(), h.log10("E"), rtol=1e-6)


def test_spectra_draws_layer_and_product_singular_values(tmp_path):
    from gradbounds import spectra as sp

    net = gb.init_network(key(7), (6,) * 5, activation="tanh", init="gaussian", sw2=1.5, sb2=0.05)
    x = jax.random.normal(key(8), (6,))
    layer = [np.log10(np.asarray(v)) for v in sp.error_singular_values(net, x)]
    prods = [np.asarray(sp.product_spectrum(net, x, l, method="svd").log_sv) / np.log(10) for l in (1, 2, 3)]
    lam = 2 * np.asarray(sp.input_output_spectrum(net, x, method="svd").log_sv) / np.log(10)
    res = {
        "layers": [1, 2, 3],
        "layer_log10_sv": layer,
        "product_layers": [1, 2, 3],
        "product_log10_sv": prods,
        "runs": {"gaussian": {"log10_lam": lam, "predicted": {"mean": 1.0, "edge": 3.0}}},
    }
    fig = plotting.spectra(res, path=tmp_path / "sp.pdf")
    _pdf_ok(tmp_path / "sp.pdf", width_in=6.75)
    lines = fig.axes[0].get_lines()
    # first the per-layer ticks (x = l - 0.18), then the products (x = l + 0.18)
    np.testing.assert_allclose(lines[0].get_ydata(), layer[0])
    np.testing.assert_allclose(lines[3].get_ydata(), prods[0])
    np.testing.assert_allclose(lines[3].get_xdata(), 1.18)
    # the product of all three factors has sigma_1 <= the product of the factors' sigma_1 (submultiplicativity)
    assert prods[0][0] <= sum(v[0] for v in layer) + 1e-12
    # the right panel's step curve is the empirical distribution of log10 lambda
    step = _line(fig, "gaussian: measured", 1)
    np.testing.assert_allclose(step.get_xdata(), np.sort(lam))
    np.testing.assert_allclose(step.get_ydata(), np.arange(1, lam.size + 1) / lam.size)


@pytest.mark.slow
def test_typical_worst_draws_its_series(tmp_path):
    from gradbounds.theory import typical_vs_worst

    tw = typical_vs_worst(key(9), (8,) * 6, activation="tanh", sw2=1.2, sb2=0.05, n_networks=3).to_dict()
    fig = plotting.typical_worst({"panels": [dict(tw, name="a"), dict(tw, name="b")]}, path=tmp_path / "t.pdf")
    _pdf_ok(tmp_path / "t.pdf", width_in=6.75)
    np.testing.assert_allclose(_line(fig, r"measured (rms $\|\delta^l\|$)", 1).get_ydata(), tw["measured"])
    np.testing.assert_allclose(_line(fig, r"textbook bound $G$ (**, mean $\log_{10}$)", 0).get_ydata(), tw["bound"])
    # the bound is above the exact values it bounds, layer by layer (means of log10 G >= means of log10 E)
    assert np.all(np.asarray(tw["bound"]) >= np.asarray(tw["exact_mean"]))


def test_spectra_cuts_lambda_at_the_stated_resolution_and_magnifies_a_narrow_spectrum():
    # products resolved 14 decades below sigma_1, so lambda = sigma^2 is resolved 28 decades below its maximum
    rng = np.random.default_rng(0)
    wide = np.sort(rng.uniform(-40.0, 1.0, 200))
    narrow = np.sort(rng.uniform(-1.0, 0.3, 200))
    res = {
        "layers": [1],
        "layer_log10_sv": [np.array([0.2, -1.0])],
        "product_layers": [1],
        "product_log10_sv": [np.array([0.5, -3.0, -20.0])],
        "floor_log10": [0.5 - 14.0],
        "runs": {
            "gaussian": {"log10_lam": wide, "predicted": {"mean": 1.0, "edge": 30.0}},
            "orthogonal": {"log10_lam": narrow, "predicted": {"mean": 1.0, "edge": 2.0}},
        },
    }
    fig = plotting.spectra(res)
    ax = fig.axes[1]
    assert ax.get_xlim()[0] == pytest.approx(wide.max() - 28.0)
    # the curve still holds every value: its height at the left edge is the fraction below the resolution
    step = _line(fig, "gaussian: measured", 1)
    np.testing.assert_allclose(step.get_xdata(), wide)
    # one line for the shared predicted mean
    assert [ln.get_label() for ln in ax.get_lines()].count("predicted mean (both)") == 1
    # the orthogonal spectrum, a sliver of the axis, drawn again in an inset that spans it
    inset = [a for a in ax.child_axes]
    assert len(inset) == 1
    np.testing.assert_allclose(inset[0].get_lines()[0].get_xdata(), narrow)
    lo, hi = inset[0].get_xlim()
    assert lo < narrow.min() and hi > max(narrow.max(), np.log10(2.0))


def test_spectra_draws_exact_zeros_without_infinite_limits():
    lam = np.array([-np.inf, -np.inf, -3.0, -1.0, 0.5])  # a relu network: some singular values are exactly 0
    res = {
        "layers": [1],
        "layer_log10_sv": [np.array([0.2, -np.inf])],
        "product_layers": [1],
        "product_log10_sv": [np.array([0.5, -np.inf])],
        "runs": {"gaussian": {"log10_lam": lam}},
    }
    fig = plotting.spectra(res)
    assert np.all(np.isfinite(fig.axes[1].get_xlim()))
    np.testing.assert_allclose(_line(fig, "gaussian: measured", 1).get_ydata(), np.arange(1, 6) / 5)


def test_underflow_table_gives_one_value_where_the_range_is_one():
    from gradbounds.experiments._chain import underflow_tables

    d = {"tiny_log10": -37.9, "subnormal_log10": -44.9}
    r = {
        "dtypes": {
            "float32": dict(d, depths=[53, 53], log10_E_at_depths=[-38.71, -38.74]),
            "float16": dict(d, depths=[10, 11], log10_E_at_depths=[-7.8, -7.4]),
        }
    }
    t = next(iter(underflow_tables(r).values()))
    assert "53--53" not in t and "& 53 & \\ensuremath{-}38.7 \\\\" in t
    assert "10--11" in t


def test_slack_depth_draws_the_shapley_parts_dotted():
    rng = np.random.default_rng(1)
    parts = ("alignment", "submultiplicativity", "split", "activation", "total")
    fam = {"label": "t", "k": [1, 2, 3], "slack": {p: rng.uniform(0, 3, 3).tolist() for p in parts}}
    fam["shapley"] = {p: rng.uniform(0, 3, 3).tolist() for p in parts[:4]}
    fig = plotting.slack_depth({"families": [fam]})
    line = _line(fig, "split, Shapley", ax=0)
    np.testing.assert_allclose(line.get_ydata(), fam["shapley"]["split"])
    assert line.get_linestyle() == ":"
    np.testing.assert_allclose(_line(fig, "submult., Shapley", ax=0).get_ydata(), fam["shapley"]["submultiplicativity"])


def _legend_handles_drawn(legend):
    """Every legend entry has a handle that draws something: a line, a marker or a patch."""
    from matplotlib.lines import Line2D

    for h in legend.legend_handles:
        if isinstance(h, Line2D):
            line = h.get_linestyle() not in ("None", "none", "", " ") and h.get_linewidth() > 0
            mark = h.get_marker() not in (None, "None", "none", "", " ") and h.get_markersize() > 0
            assert line or mark, f"legend entry {h.get_label()!r} has no handle"
        else:
            assert h is not None and h.get_visible()


def test_spectra_legends_have_handles_where_the_axis_starts_at_the_svd_resolution():
    # a direct SVD's values (floor_log10 given): the curves start above 0 at the axis' left edge, marked there
    rng = np.random.default_rng(3)
    wide = np.sort(rng.uniform(-40.0, 1.0, 200))
    res = {
        "layers": [1],
        "layer_log10_sv": [np.array([0.2, -1.0])],
        "product_layers": [1],
        "product_log10_sv": [np.array([0.5, -3.0])],
        "floor_log10": [0.5 - 14.0],
        "runs": {"gaussian": {"log10_lam": wide, "predicted": {"mean": 1.0, "edge": 30.0}}},
    }
    fig = plotting.spectra(res)
    for ax in fig.axes[:2]:
        _legend_handles_drawn(ax.get_legend())
    mark = _line(fig, "values below the SVD's resolution", 1)
    left = fig.axes[1].get_xlim()[0]
    np.testing.assert_allclose(mark.get_xdata(), [left])
    np.testing.assert_allclose(mark.get_ydata(), [np.mean(wide < left)])


def test_spectra_products_below_the_svd_resolution_are_computed_and_drawn():
    from gradbounds.experiments._theory import RESOLVED, product_log10_sv

    # a linear chain Q_l diag(d) Q_{l-1}^T: Pi_1 = B^1 B^2 B^3 has singular values d^3 exactly, 10^0 .. 10^-27
    rng = np.random.default_rng(4)
    n, k = 4, 3
    d = 10.0 ** -np.arange(0, 3 * n, 3)[:n]
    Q = [np.linalg.qr(rng.normal(size=(n, n)))[0] for _ in range(k + 2)]
    Ws = [Q[i + 1] @ np.diag(d) @ Q[i].T for i in range(k + 1)]
    net = gb.network_from_arrays(Ws, [np.zeros(n)] * (k + 1), ["linear"] * (k + 1))
    x = jnp.ones(n, jnp.float64)
    got = product_log10_sv(net, x, 1)
    want = k * np.log10(d)
    assert want[-1] < want[0] - RESOLVED  # below what a direct SVD resolves
    np.testing.assert_allclose(got, want, atol=1e-6)  # the QR sweeps' tolerance (QR_TOL, in log sigma)
    res = {
        "layers": [1, 2, 3],
        "layer_log10_sv": [np.log10(d)] * 3,
        "product_layers": [1],
        "product_log10_sv": [got],
        "runs": {"gaussian": {"log10_lam": 2 * got}},
    }
    fig = plotting.spectra(res)
    dots = _line(fig, r"$\sigma_i(B^l\cdots B^{L-1})$", 0)
    assert np.min(dots.get_ydata()) < np.max(dots.get_ydata()) - RESOLVED  # drawn, not cut at 1e-14 sigma_1
    lo, _ = fig.axes[0].get_ylim()
    assert lo <= np.min(got)
    for ax in fig.axes[:2]:
        _legend_handles_drawn(ax.get_legend())


def test_phase_critical_line_reaches_the_end_of_the_axis():
    from gradbounds.experiments._theory import phase_compute
    from gradbounds.theory import chi1

    jax.config.update("jax_enable_x64", True)
    r = phase_compute(quick=True, seed=0)
    crit = r["critical"]
    sb2 = np.asarray(crit["sb2"])
    assert sb2[0] == 0.0 and abs(sb2[-1] - r["sb2"][-1]) < 1e-12  # from sigma_b^2 = 0 to the axis' end, 0.5
    assert np.max(np.diff(sb2)) < 0.02 * r["sb2"][-1]  # no gap along the line
    for i in (0, len(sb2) // 2, -1):  # on the line chi_1 = 1
        assert abs(chi1("tanh", crit["sw2"][i], crit["sb2"][i]) - 1) < 1e-9
    fig = plotting.phase_diagram(r)
    line = _line(fig, r"critical $\chi_1=1$")
    ylo, yhi = fig.axes[0].get_ylim()
    assert np.max(line.get_ydata()) >= yhi - 1e-9 and np.min(line.get_ydata()) <= ylo + 1e-9


def _colour_pixels(fig, colour, tol=8):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgb

    FigureCanvasAgg(fig)
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    rgb = np.array(to_rgb(colour)) * 255
    return int(np.sum(np.all(np.abs(img - rgb) <= tol, axis=-1)))


def test_underflow_markers_at_one_depth_all_stay_visible():
    # bfloat16 and float32 share the exponent range, hence often the underflow depth: neither marker may hide
    from gradbounds.plotting._style import _CYCLE

    def result(f32_depth):
        return {
            "k": [1, 2, 3, 4, 5],
            "log10_E": [-1.0, -20.0, -40.0, -320.0, -400.0],
            "dtypes": {
                "float16": {"depth": 2, "tiny_log10": -4.2},
                "bfloat16": {"depth": 3, "tiny_log10": -37.9},
                "float32": {"depth": f32_depth, "tiny_log10": -37.9},
            },
        }

    bf16 = _CYCLE[2][0]
    alone = _colour_pixels(plotting.underflow(result(None)), bf16)
    together = plotting.underflow(result(3))
    assert alone > 0 and _colour_pixels(together, bf16) >= 0.8 * alone
    m16, m32 = _line(together, "bfloat16: zero from $k$=3"), _line(together, "float32: zero from $k$=3")
    assert m32.get_markersize() > m16.get_markersize() and m32.get_zorder() < m16.get_zorder()


def test_nielsen_numbers_give_the_ratio_over_draws():
    from gradbounds.experiments._nielsen import nielsen_numbers

    rng = np.random.default_rng(5)
    draws = {k: (10.0 ** rng.normal(k - 2, 0.1, 100)).tolist() for k in (2, 3, 4)}
    runs = {k: {"initial": np.arange(1.0, k + 1), "final": np.arange(1.0, k + 1)} for k in (2, 3, 4)}
    pub = {k: np.tile(np.geomspace(1.0, 10.0 ** (k - 2), k), (3, 1)) for k in (2, 3, 4)}
    r = {"dataset": "digits", "steps": 3, "verdict": "holds", "runs": runs, "published": pub, "draws": draws}
    out = nielsen_numbers(r)
    assert out["draws"][0] == 100
    for k in (2, 3, 4):
        v = np.asarray(draws[k])
        assert out[f"draws.{k}.median"][0] == pytest.approx(np.median(v))
        assert out[f"draws.{k}.p10"][0] == pytest.approx(np.percentile(v, 10))
        assert out[f"draws.{k}.p90"][0] == pytest.approx(np.percentile(v, 90))
        assert out[f"draws.{k}.pubpct"][0] == pytest.approx(100 * np.mean(v < 10.0 ** (k - 2)))
