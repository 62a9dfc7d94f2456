"""Getting results out of the CLI: `check --csv`, the JSON's header and schema, -inf in the table, missing extras."""

import json
import sys

import jax.numpy as jnp
import jsonschema
import numpy as np
import pandas as pd
import pytest
from helpers import small_net

import gradbounds as gb
from gradbounds.cli import main
from gradbounds.io import load_schema

SCHEMA = load_schema("check")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _dead_relu_file(tmp_path):
    net = small_net(0, widths=(3, 4, 2), activation="relu")
    net = (gb.Layer(net[0].W, jnp.full_like(net[0].b, -50.0), "relu"), net[1])
    gb.save_network(tmp_path / "dead.npz", net)
    return str(tmp_path / "dead.npz")


def test_schema_is_valid_and_shipped_with_the_package():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert "inf" in SCHEMA["description"] and "null" in SCHEMA["description"]


def test_sweep_json_validates_names_versions_and_worst(capsys, tmp_path):
    code, out, err = run(
        capsys, "check", "--widths", "4,5,3", "--activation", "tanh", "--networks", "3", "--examples", "2",
        "--json", "-", "--csv", str(tmp_path / "t.csv"),
    )  # fmt: skip
    assert code == 0, err
    d = json.loads(out)
    jsonschema.validate(d, SCHEMA)
    assert d["schema_version"] == gb.io.SCHEMA_VERSION and d["gradbounds_version"] == gb.__version__
    assert d["nonfinite"] == {"+inf": "inf", "-inf": "-inf", "nan": None}
    assert d["violating"] == [] and d["inconclusive"] == []
    # the CSV is the long table: one row per (network, example, layer), and the worst point is its largest slack
    t = pd.read_csv(tmp_path / "t.csv")
    assert list(t.columns) == list(gb.Hierarchy.COLUMNS) and len(t) == 3 * 2 * 2
    assert sorted(set(zip(t.network, t.example))) == [(i, j) for i in range(3) for j in range(2)]
    i = t.slack_total.idxmax()
    w = d["worst"]
    assert (w["network"], w["example"], w["layer"]) == (t.network[i], t.example[i], t.layer[i])
    assert w["slack_log10_total"] == t.slack_total[i]
    # the medians of the JSON are the medians of the table
    med = t.groupby("layer").log10_E.median().to_numpy()
    np.testing.assert_allclose(med, [e["log10"]["E"] for e in d["layers"]], rtol=1e-14)


def test_a_schema_violation_is_caught():
    code_doc = {"schema_version": "1.0"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(code_doc, SCHEMA)


def test_dead_relu_prints_minus_inf_never_none_and_encodes_it(capsys, tmp_path):
    path = _dead_relu_file(tmp_path)
    code, out, err = run(capsys, "check", "--network", path, "--examples", "1")
    assert code == 0, err
    row1 = next(line for line in out.splitlines() if line.strip().startswith("1 |"))
    assert row1.split("|")[1].split()[1:5] == ["-inf"] * 4  # E, P, J, D of the dead layer
    assert "None" not in out and "n/a" in out
    code, out, _ = run(capsys, "check", "--network", path, "--json", "-", "--csv", str(tmp_path / "d.csv"))
    d = json.loads(out)
    jsonschema.validate(d, SCHEMA)
    assert d["layers"][0]["log10"]["E"] == "-inf" and isinstance(d["layers"][0]["log10"]["G"], float)
    assert d["worst"]["slack_log10_total"] == "inf" and d["worst"]["layer"] == 1
    t = pd.read_csv(tmp_path / "d.csv")
    assert t.log10_E[0] == -np.inf and t.slack_total[0] == np.inf and np.isnan(t.slack_alignment[0])


def test_csv_to_stdout_and_only_one_stream_to_stdout(capsys):
    code, out, _ = run(capsys, "check", "--widths", "3,2", "--csv", "-")
    assert code == 0
    assert out.splitlines()[0] == ",".join(gb.Hierarchy.COLUMNS) and len(out.splitlines()) == 2
    code, _, err = run(capsys, "check", "--widths", "3,2", "--csv", "-", "--json", "-")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "stdout" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["chain", "--depth", "3"],
        ["theory", "--activation", "tanh", "--sw2", "1.5", "--sb2", "0.05"],
        ["theory", "--activation", "tanh", "--sb2", "0.05", "--critical"],
        ["spectrum", "--activation", "tanh", "--sw2", "1", "--depth", "2", "--width", "8", "--bins", "3"],
    ],
    ids=["chain", "theory", "theory-critical", "spectrum"],
)
def test_every_command_json_starts_with_the_header(capsys, argv):
    """Not only check, rnn and train: every JSON a command writes starts with the versions and the inf encoding."""
    code, out, _ = run(capsys, *argv, "--json", "-")
    assert code == 0
    doc = json.loads(out)
    assert list(doc)[:3] == ["schema_version", "gradbounds_version", "nonfinite"]
    assert doc["gradbounds_version"] == gb.__version__ and doc["nonfinite"] == {
        "+inf": "inf",
        "-inf": "-inf",
        "nan": None,
    }


def test_a_violation_is_named_in_the_json(capsys, monkeypatch):
    """The sweep JSON's ``violating`` list names the (network, example) and its layers."""
    from gradbounds.cli import _check as chk

    real = chk.compute

    def broken(args):
        h, under = real(args)
        h.codes[..., 0, 4] = 2  # pretend D <= G failed at layer 1 of every example
        return h, under

    monkeypatch.setattr(chk, "compute", broken)
    code, out, _ = run(capsys, "check", "--widths", "4,3,2", "--json", "-")
    assert code == 1
    doc = json.loads(out)
    assert doc["violating"] and doc["violating"][0]["layers"] == [1]
    assert {"network", "example"} <= set(doc["violating"][0])


def test_tensorboard_without_tensorboardx_is_one_line_exit_2(capsys, monkeypatch, tmp_path):
    for name in [m for m in sys.modules if m == "tensorboardX" or m.startswith("tensorboardX.")] or ["tensorboardX"]:
        monkeypatch.setitem(sys.modules, name, None)
    argv = ["train", "--preset", "nielsen-ch5", "--hidden", "2", "--dataset", "digits", "--steps", "1"]
    code, _, err = run(capsys, *argv, "--tensorboard", str(tmp_path / "tb"))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "tensorboardX" in err and "Traceback" not in err


@pytest.mark.parametrize("module", ["optax", "sklearn", "tqdm"])
def test_train_without_the_train_extra_is_one_line_exit_2(capsys, monkeypatch, module):
    # the package and every submodule an earlier test imported (sklearn.datasets stays cached otherwise)
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")] or [module]:
        monkeypatch.setitem(sys.modules, name, None)
    code, out, err = run(capsys, "train", "--preset", "nielsen-ch5", "--hidden", "2", "--dataset", "digits")
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert f"'{module}'" in err and "gradbounds[train]" in err and "Traceback" not in err


def test_an_unrelated_import_error_is_not_hidden(monkeypatch):
    from gradbounds._extras import missing_extra

    assert missing_extra(ModuleNotFoundError("No module named 'foo'", name="foo")) is None
    assert "gradbounds[figures]" in missing_extra(ModuleNotFoundError("x", name="matplotlib.pyplot"))
