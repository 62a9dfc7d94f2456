"""The ``gradbounds theory`` and ``gradbounds spectrum`` commands."""

import json

import pytest

from gradbounds import theory
from gradbounds.cli import main


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_theory_json_matches_the_library(capsys):
    out = _json(capsys, ["theory", "--activation", "tanh", "--sw2", "1.5", "--sb2", "0.05", "--json", "-"])
    mf = theory.mean_field("tanh", 1.5, 0.05)
    for k in ("q_star", "chi1", "c_star", "xi_q", "xi_c", "xi_grad", "phase"):
        assert out[k] == getattr(mf, k)
    assert out["phase"] == "ordered" and out["sw2"] == 1.5 and out["sb2"] == 0.05


def test_theory_critical_json(capsys):
    out = _json(capsys, ["theory", "--activation", "tanh", "--sb2", "0.05", "--critical", "--json", "-"])
    assert out["sw2_critical"] == pytest.approx(theory.critical_sw2("tanh", 0.05)[0], rel=1e-15)
    assert theory.chi1("tanh", out["sw2_critical"], 0.05) == pytest.approx(1.0, abs=1e-9)
    assert out["q_star"] == pytest.approx(theory.q_star("tanh", out["sw2_critical"], 0.05), rel=1e-8)


def test_theory_tables(capsys):
    assert main(["theory", "--activation", "erf", "--sw2", "2.0", "--sb2", "0.1"]) == 0
    text = capsys.readouterr().out
    assert "chaotic phase" in text and "chi1" in text
    assert main(["theory", "--activation", "relu", "--sb2", "0.1", "--critical"]) == 0
    assert "sw2_critical  2" in capsys.readouterr().out


def test_spectrum_json_small_network(capsys):
    argv = ["spectrum", "--activation", "tanh", "--init", "orthogonal", "--sw2", "1.05", "--sb2", "2.01e-5"]
    out = _json(capsys, argv + ["--depth", "4", "--width", "64", "--seed", "0", "--bins", "5", "--json", "-"])
    pred = theory.jacobian_spectrum("tanh", 1.05, 2.01e-5, 4, init="orthogonal")
    for k in ("mean", "variance", "edge"):
        assert out["predicted"][k] == pytest.approx(getattr(pred, k), rel=1e-14)
    m = out["measured"]
    assert m["n"] == 64 and sum(m["histogram"]["counts"]) == 64 and len(m["per_layer"]["q_measured"]) == 4
    assert m["min"] <= m["median"] <= m["edge"]
    # width 64 is small, but near criticality with orthogonal weights the mean is already within 5%
    assert m["mean"] == pytest.approx(pred.mean, rel=0.05)


@pytest.mark.parametrize(
    "argv, text",
    [
        (["theory", "--sw2", "-1"], "variance"),
        (["theory", "--activation", "nope", "--sw2", "1"], "unknown activation"),
        (["theory", "--sb2", "0.05"], "--sw2 is required"),
        (["theory", "--sw2", "1", "--critical"], "do not pass --sw2"),
        (["theory", "--activation", "gelu", "--sb2", "0.01", "--critical"], "stable fixed point"),
        (["spectrum", "--sw2", "1", "--depth", "0"], "--depth"),
        (["spectrum", "--sw2", "0"], "--sw2"),
        (["spectrum", "--sw2", "1", "--init", "he"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, text):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert text in err and err.count("\n") == 1
