"""``gradbounds rnn``: the JSON of issue 13, state-dict files, one-line errors with exit 2."""

import json

import numpy as np
import pytest

from gradbounds.cli._main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_json_keys(capsys, cell):
    code, out, err = run(capsys, "rnn", "--cell", cell, "--hidden", "3", "--steps", "4", "--seed", "1", "--json", "-")
    assert code == 0, err
    d = json.loads(out)
    assert {"cell", "T", "hidden", "states", "verdict", "pascanu"} <= set(d)
    assert d["cell"] == cell and d["T"] == 4 and d["hidden"] == 3 and len(d["states"]) == 5
    st = d["states"][0]
    assert {"k", "log10", "log10_enclosure", "verdict"} <= set(st)
    levels = {"E", "P", "J", "G"} if cell == "rnn" else {"E", "P", "J"}
    assert set(st["log10"]) == levels and set(st["log10_enclosure"]) == levels and d["certified"] is True
    lo, hi = st["log10_enclosure"]["E"]
    assert lo <= st["log10"]["E"] <= hi
    if cell == "rnn":
        assert {"gamma", "norm_W_hh", "vanishing_sufficient", "exploding_necessary"} <= set(d["pascanu"])
    else:
        assert d["pascanu"] is None


def test_table(capsys):
    code, out, err = run(capsys, "rnn", "--hidden", "4", "--steps", "50", "--sw2", "0.3")
    assert code == 0, err
    assert "verdict: holds" in out and "vanishing sufficient (gamma||W_hh|| < 1): True" in out and "..." in out


def _write_torch_like(path, kind, H=3, n_in=2, **extra):
    G = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    rng = np.random.default_rng(0)
    arrays = {
        "weight_ih_l0": rng.normal(size=(G * H, n_in)) / 2,
        "weight_hh_l0": rng.normal(size=(G * H, H)) / 2,
        "bias_ih_l0": rng.normal(size=(G * H,)),
        "bias_hh_l0": rng.normal(size=(G * H,)),
        "W_out": rng.normal(size=(1, H)),
    }
    arrays.update(extra)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_network_and_data_files(capsys, tmp_path, kind):
    _write_torch_like(tmp_path / "net.npz", kind)
    np.savez(tmp_path / "data.npz", x=np.ones((5, 2)), y=np.zeros(1))
    code, out, err = run(
        capsys,
        "rnn",
        "--cell",
        kind,
        "--network",
        str(tmp_path / "net.npz"),
        "--data",
        str(tmp_path / "data.npz"),
        "--json",
        "-",
    )
    assert code == 0, err
    assert json.loads(out)["T"] == 5


@pytest.mark.parametrize(
    ("kind", "extra", "data", "msg"),
    [
        ("rnn", {"weight_hh_l0": None}, None, "missing array weight_hh"),
        ("lstm", {"weight_hh_l0": np.ones((9, 3))}, None, "expected (4H, H)"),
        ("rnn", {}, {"x": np.ones((5, 3)), "y": np.zeros(1)}, "x: expected (T, 2)"),
        ("rnn", {}, {"x": np.ones((5, 2)), "y": np.zeros(2)}, "y: expected (1,)"),
        ("rnn", {}, {"x": np.ones((5, 2))}, "missing array y"),
    ],
)
def test_bad_files_one_line_exit_2(capsys, tmp_path, kind, extra, data, msg):
    _write_torch_like(tmp_path / "net.npz", kind, **extra)
    np.savez(tmp_path / "data.npz", **(data or {"x": np.ones((5, 2)), "y": np.zeros(1)}))
    code, out, err = run(
        capsys, "rnn", "--cell", kind, "--network", str(tmp_path / "net.npz"), "--data", str(tmp_path / "data.npz")
    )
    assert code == 2 and msg in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("argv", "msg"),
    [
        (["--cell", "tree"], "invalid choice"),
        (["--steps", "0"], "--steps: expected"),
        (["--hidden", "-1"], "--hidden: expected"),
        (["--network", "missing.npz", "--data", "d.npz"], "No such file"),
        (["--network", "n.npz"], "--network needs --data"),
        (["--network", "n.npz", "--data", "d.npz", "--hidden", "3"], "--hidden: only for a random cell"),
        (["--activation", "nope"], "nope"),
        (["--sw2", "-1"], "--sw2"),
    ],
)
def test_bad_usage_one_line_exit_2(capsys, argv, msg):
    code, out, err = run(capsys, "rnn", *argv)
    assert code == 2 and msg in err and err.count("\n") == 1, err


def test_summed_losses_and_their_data_shape(capsys, tmp_path):
    code, out, err = run(capsys, "rnn", "--losses", "sum", "--hidden", "3", "--steps", "4", "--json", "-")
    assert code == 0, err
    d = json.loads(out)
    assert set(d["states"][0]["log10"]) == {"E", "J", "G"} and d["certified"] is False
    _write_torch_like(tmp_path / "net.npz", "gru")
    np.savez(tmp_path / "data.npz", x=np.ones((5, 2)), y=np.zeros(1))
    net, data = str(tmp_path / "net.npz"), str(tmp_path / "data.npz")
    code, out, err = run(capsys, "rnn", "--cell", "gru", "--losses", "sum", "--network", net, "--data", data)
    assert code == 2 and "y: expected (T, n_out) = (5, 1)" in err


@pytest.mark.parametrize(
    "argv", [["--cell", "rnn"], ["--cell", "lstm"], ["--cell", "gru", "--losses", "sum"], ["--no-enclosures"]]
)
def test_json_matches_the_shipped_schema(capsys, argv):
    jsonschema = pytest.importorskip("jsonschema")
    from gradbounds.io import load_schema

    schema = load_schema("rnn")
    jsonschema.Draft202012Validator.check_schema(schema)
    code, out, err = run(capsys, "rnn", *argv, "--hidden", "2", "--steps", "3", "--json", "-")
    assert code == 0, err
    jsonschema.validate(json.loads(out), schema)
