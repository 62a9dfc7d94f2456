"""Hierarchy as a long table: one row per (network, example, layer), DataFrame and CSV, worst and violating points."""

import csv
import dataclasses
import io as _io
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import key, small_net

import gradbounds as gb
from gradbounds._extras import MissingExtraError

LEVELS = ("lower", "E", "P", "J", "D", "G")


def _sweep(n_net=3, n_ex=2, widths=(4, 5, 3, 2)):
    nets = jax.vmap(lambda k: gb.init_network(k, widths, activation="tanh"))(jax.random.split(key(7), n_net))
    kx, ky = jax.random.split(key(8))
    x = jax.random.uniform(kx, (n_net, n_ex, widths[0]))
    y = jax.random.uniform(ky, (n_net, n_ex, widths[-1]))
    return gb.sweep(nets, x, y)


def _dead_relu():
    """Layer 1 is a dead relu (every z^1 < 0): delta^1 = 0 exactly, so E_1 = P_1 = J_1 = D_1 = 0."""
    net = small_net(0, widths=(3, 4, 2), activation="relu")
    net = (gb.Layer(net[0].W, jnp.full_like(net[0].b, -50.0), "relu"), net[1])
    x, y = jnp.full((3,), 0.5), jnp.array([0.2, 0.7])
    return gb.hierarchy(net, x, y)


def test_table_rows_are_the_levels_at_their_network_example_and_layer():
    h = _sweep()
    t = h.table()
    assert tuple(t) == gb.Hierarchy.COLUMNS
    assert len(t["layer"]) == 3 * 2 * 3
    for r in range(len(t["layer"])):
        i, j, l = t["network"][r], t["example"][r], t["layer"][r]
        for k in LEVELS:
            assert t[f"log10_{k}"][r] == h.log10(k)[i, j, l - 1]
        for k in ("lower", *LEVELS):
            lo, hi = h.enclosure(k)
            assert t[f"lo_{k}"][r] == lo[i, j, l - 1] and t[f"hi_{k}"][r] == hi[i, j, l - 1]
        assert t["verdict"][r] == gb.bounds.VERDICTS[int(h.codes[i, j, l - 1].max())]
        parts = sum(t[f"slack_{p}"][r] for p in ("alignment", "submultiplicativity", "split", "activation"))
        assert parts == pytest.approx(t["log10_G"][r] - t["log10_E"][r], abs=1e-12)
    # every (network, example, layer) exactly once
    assert len({(a, b, c) for a, b, c in zip(t["network"], t["example"], t["layer"])}) == len(t["layer"])


def test_single_point_and_example_batch_index_as_network_0():
    net = small_net(1)
    x = jax.random.uniform(key(2), (5, 5))
    y = jax.random.uniform(key(3), (5, 3))
    t = gb.hierarchy(net, x, y).table()
    assert set(t["network"]) == {0} and sorted(set(t["example"])) == [0, 1, 2, 3, 4]
    t1 = gb.hierarchy(net, x[0], y[0]).table()
    assert list(t1["network"]) == [0, 0, 0] and list(t1["example"]) == [0, 0, 0] and list(t1["layer"]) == [1, 2, 3]


def test_dataframe_is_the_table():
    import pandas as pd

    h = _sweep()
    df = h.to_dataframe()
    assert isinstance(df, pd.DataFrame) and tuple(df.columns) == gb.Hierarchy.COLUMNS
    t = h.table()
    for c in gb.Hierarchy.COLUMNS:
        np.testing.assert_array_equal(df[c].to_numpy(), t[c])
    # the per-layer medians of to_dict() are the groupby medians of the long table
    med = df.groupby("layer")["log10_E"].median()
    d = h.to_dict()
    np.testing.assert_allclose(med.to_numpy(), [e["log10"]["E"] for e in d["layers"]], rtol=1e-14)


def test_dataframe_without_pandas_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingExtraError, match=r"gradbounds\[export\]") as e:
        _sweep(1, 1).to_dataframe()
    assert isinstance(e.value, ImportError) and "\n" not in str(e.value)


def test_csv_round_trips_through_pandas_with_infinities(tmp_path):
    import pandas as pd

    h = _dead_relu()
    h.write_csv(tmp_path / "h.csv")
    back = pd.read_csv(tmp_path / "h.csv")
    df = h.to_dataframe()
    assert list(back.columns) == list(df.columns)
    for c in df.columns:
        if c == "verdict":
            assert list(back[c]) == list(df[c])
        else:  # exact: repr() of a float reads back to the same float; -inf and NaN too
            np.testing.assert_array_equal(back[c].to_numpy(float), df[c].to_numpy(float))
    assert back.loc[0, "log10_E"] == -np.inf and np.isnan(back.loc[0, "slack_alignment"])
    assert back.loc[0, "slack_total"] == np.inf
    # standard library reader: the same header, "-inf" spelled out
    rows = list(csv.reader(_io.StringIO((tmp_path / "h.csv").read_text())))
    assert rows[0] == list(gb.Hierarchy.COLUMNS) and rows[1][4] == "-inf"


def test_worst_and_violating_points_are_found_by_index():
    h = _sweep()
    w = h.worst()
    total = h.slack_log10()["total"]
    assert w["verdict"] == "holds"
    assert w["slack_log10_total"] == np.max(total)
    assert total[w["network"], w["example"], w["layer"] - 1] == np.max(total)
    assert h.where("violated") == []
    # mark two points violated (network 2 example 1 layer 3, network 0 example 0 layer 1): both named, worst first
    codes = np.array(h.codes)
    codes[2, 1, 2, 4] = 2
    codes[0, 0, 0, 1] = 2
    codes[1, 0, 1, 0] = 1
    bad = dataclasses.replace(h, codes=codes)
    assert bad.where("violated") == [
        {"network": 0, "example": 0, "layers": [1]},
        {"network": 2, "example": 1, "layers": [3]},
    ]
    assert bad.where("inconclusive") == [{"network": 1, "example": 0, "layers": [2]}]
    w = bad.worst()
    assert w["verdict"] == "violated" and (w["network"], w["example"]) in ((0, 0), (2, 1))
    # of the two violated points, the one with the larger total slack
    s = {p: np.max(total[p]) for p in ((0, 0), (2, 1))}
    assert (w["network"], w["example"]) == max(s, key=s.get)
    with pytest.raises(ValueError, match="expected one of holds, inconclusive, violated, got 'bad'"):
        h.where("bad")
