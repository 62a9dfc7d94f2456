"""The `gradbounds check` and `gradbounds chain` commands: output, JSON, exit codes, bad input."""

import json

import jsonschema
import numpy as np
import pytest
from helpers import key

import gradbounds as gb
from gradbounds.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_seed_network_table_and_exit_0(capsys):
    code, out, err = run(capsys, "check")
    assert code == 0, err
    assert "widths [784, 30, 30, 30, 30, 10]" in out and out.count("| holds") == 5
    assert "verdict: holds" in out


def test_check_json_schema(capsys):
    code, out, _ = run(capsys, "check", "--json", "-", "--seed", "3")
    assert code == 0
    d = json.loads(out)
    for k in ("widths", "activation", "cost", "dtype", "networks", "layers", "verdict"):
        assert k in d
    assert d["widths"] == [784, 30, 30, 30, 30, 10] and d["networks"] == 1 and d["dtype"] == "float64"
    assert [e["layer"] for e in d["layers"]] == [1, 2, 3, 4, 5]
    for e in d["layers"]:
        assert set(e["log10"]) == {"E", "P", "J", "D", "G"}
        assert all(isinstance(v, float) for v in e["log10"].values())
        assert e["log10"]["E"] <= e["log10"]["P"] <= e["log10"]["J"] <= e["log10"]["D"] <= e["log10"]["G"]
        assert e["verdict"] == "holds"
        parts = sum(e["slack_log10"][k] for k in ("alignment", "submultiplicativity", "split", "activation"))
        assert parts == pytest.approx(e["log10"]["G"] - e["log10"]["E"], abs=1e-12)


def test_check_json_matches_the_library(capsys, tmp_path):
    net = gb.init_network(key(5), (6, 4, 3), activation="tanh")
    gb.save_network(tmp_path / "n.npz", net)
    x = np.linspace(0, 1, 12).reshape(2, 6)
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    np.savez(tmp_path / "d.npz", x=x, y=y)
    code, out, _ = run(
        capsys, "check", "--network", str(tmp_path / "n.npz"), "--data", str(tmp_path / "d.npz"), "--json", "-"
    )
    assert code == 0
    d = json.loads(out)
    h = gb.hierarchy(net, x, y)
    np.testing.assert_allclose([e["log10"]["E"] for e in d["layers"]], np.median(h.log10("E"), axis=0), rtol=1e-12)
    assert "summary" in d


def test_check_many_networks_says_how_it_summarises(capsys, tmp_path):
    path = tmp_path / "out.json"
    code, out, _ = run(
        capsys, "check", "--widths", "8,6,6,4", "--networks", "12", "--examples", "3", "--json", str(path)
    )
    assert code == 0 and "medians over network x example (36 in all)" in out
    d = json.loads(path.read_text())
    assert "median" in d["summary"] and d["networks"] == 12
    e = d["layers"][0]
    assert e["log10_min"]["E"] <= e["log10"]["E"] <= e["log10_max"]["E"]


def test_check_exit_1_on_a_violation(capsys, monkeypatch):
    from gradbounds.cli import _check as chk

    real = chk.compute

    def broken(args):
        h, under = real(args)
        h.codes[..., 0, 4] = 2  # pretend D <= G failed at layer 1
        return h, under

    monkeypatch.setattr(chk, "compute", broken)
    code, out, _ = run(capsys, "check", "--widths", "4,3,2")
    assert code == 1 and "violated" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["check", "--widths", "3,x"], "--widths: expected comma-separated integers"),
        (["check", "--widths", "3,0,2"], "layer 1: expected a width >= 1, got 0"),
        (["check", "--activation", "foo"], "unknown activation 'foo'"),
        (["check", "--init", "bar"], "unknown init 'bar'"),
        (["check", "--cost", "hinge"], "unknown cost 'hinge'"),
        (["check", "--cost", "softmax-cross-entropy"], "not defined for output activation sigmoid"),
        (["check", "--networks", "0"], "--networks: expected N >= 1"),
        (["check", "--network", "/nonexistent.npz"], "No such file"),
        (["check", "--dtype", "float16"], "invalid choice"),
        (["chain"], "required: --depth"),
        (["chain", "--depth", "0"], "--depth: expected L >= 1"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_data_file(capsys, tmp_path):
    np.savez(tmp_path / "d.npz", x=np.ones((2, 5)), y=np.ones((2, 10)))
    code, _, err = run(capsys, "check", "--data", str(tmp_path / "d.npz"))
    assert code == 2 and "expected x of shape (n, 784), got (2, 5)" in err
    np.savez(tmp_path / "n.npz", x=np.full((1, 784), np.nan), y=np.ones((1, 10)))
    code, _, err = run(capsys, "check", "--data", str(tmp_path / "n.npz"))
    assert code == 2 and "x is not finite at index (0, 0)" in err


def test_nan_network_file_is_exit_2(capsys, tmp_path):
    np.savez(tmp_path / "n.npz", W1=np.array([[np.nan, 1.0]]), b1=np.zeros(1))
    code, _, err = run(capsys, "check", "--network", str(tmp_path / "n.npz"), "--activation", "sigmoid")
    assert code == 2 and "layer 1: W: expected finite values, got nan" in err


def test_chain_json(capsys):
    code, out, _ = run(capsys, "chain", "--depth", "6", "--exploding", "--json", "-")
    assert code == 0
    d = json.loads(out)
    assert d["factors"] == [25.0] * 5 and len(d["grad_b"]) == 6
    np.testing.assert_allclose(np.array(d["grad_b"][:-1]) / np.array(d["grad_b"][1:]), 25.0)
    code, out, _ = run(capsys, "chain", "--depth", "5", "--seed", "1", "--json", "-")
    d = json.loads(out)
    assert len(d["factors"]) == 4 and d["case"] == "vanishing"


def test_chain_table_and_help(capsys):
    code, out, _ = run(capsys, "chain", "--depth", "3")
    assert code == 0 and "one-neuron chain, depth 3" in out
    with pytest.raises(SystemExit) as e:
        main(["check", "--help"])
    assert e.value.code == 0
    assert "E  exact" in capsys.readouterr().out


def test_check_enclosures_table_shows_the_widths(capsys):
    """--enclosures adds log10 hi - lo per layer and level; they agree with Hierarchy.enclosure (seed network)."""
    code, out, err = run(capsys, "check", "--enclosures", "--widths", "8,6,4,3", "--activation", "tanh")
    assert code == 0, err
    lines = out.splitlines()
    i = next(j for j, s in enumerate(lines) if s.startswith("enclosure widths"))
    rows = [s for s in lines[i + 3 : i + 6]]
    assert [int(r.split("|")[0]) for r in rows] == [1, 2, 3]
    widths = np.array([[float(v) for v in r.split("|")[1].split()] for r in rows])
    assert widths.shape == (3, 6) and np.all(widths >= 0) and np.all(widths[:, 1:] < 1e-6)


def test_check_softmax_cross_entropy_on_logits(capsys, tmp_path):
    out_json = tmp_path / "h.json"
    argv = ["check", "--widths", "4,3,3", "--activation", "tanh,linear", "--init", "gaussian"]
    code, out, err = run(capsys, *argv, "--cost", "softmax-cross-entropy", "--json", str(out_json))
    assert code == 0, err
    doc = json.loads(out_json.read_text())
    assert doc["cost"] == "softmax-cross-entropy" and doc["start"] == "delta"


def test_check_attribution_shapley_table_and_json(capsys):
    code, out, err = run(capsys, "check", "--widths", "8,6,6,4", "--attribution", "shapley", "--examples", "2")
    assert code == 0, err
    assert "Shapley values over the 24 orders of the steps" in out
    code, out, _ = run(capsys, "check", "--widths", "8,6,6,4", "--attribution", "shapley", "--json", "-")
    assert code == 0
    d = json.loads(out)
    jsonschema.validate(d, gb.io.load_schema("check"))
    for e in d["layers"]:
        sh, seq = e["slack_log10_shapley"], e["slack_log10"]
        parts = sum(sh[k] for k in ("alignment", "submultiplicativity", "split", "activation"))
        assert parts == pytest.approx(seq["total"], abs=1e-9)  # one example: shares sum to the total
        assert sh["activation"] == pytest.approx(seq["activation"], abs=1e-9)
    code, out, _ = run(capsys, "check", "--widths", "8,6,6,4", "--json", "-")
    assert "slack_log10_shapley" not in json.loads(out)["layers"][0]


def test_check_many_networks_reports_the_sweep_of_the_networks_its_seed_gives(capsys, tmp_path):
    """--networks N draws its networks chunk by chunk (on threads, as gradbounds.bounds.sweep_drawn does):
    key(seed) split into (k_net, k_data), then N keys from each, exactly gradbounds.sweep's numbers on them."""
    import jax

    n, path = 70, tmp_path / "many.json"
    argv = ["check", "--widths", "5,4,3", "--activation", "tanh", "--init", "nielsen", "--seed", "4"]
    code, _, err = run(capsys, *argv, "--networks", str(n), "--json", str(path))
    assert code == 0, err
    k_net, k_data = jax.random.split(key(4))
    nets = jax.vmap(lambda k: gb.init_network(k, (5, 4, 3), activation="tanh", init="nielsen"))(
        jax.random.split(k_net, n)
    )
    x, y = jax.vmap(lambda k: gb.core.draw_examples(k, 1, 5, 3, np.float64))(jax.random.split(k_data, n))
    want = gb.sweep(nets, x, y).to_dict()
    assert json.loads(path.read_text())["layers"] == want["layers"]
