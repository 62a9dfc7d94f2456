"""Network files: .safetensors and torch .pt state dicts (index order, activations), and the CLI's --network.

Flags a file makes meaningless are refused (one line, exit 2), and a float32 file is checked in float32.
"""

import json

import jax
import numpy as np
import pytest
from helpers import need

import gradbounds as gb
from gradbounds.cli import main

torch = need("torch")
safetensors_torch = need("safetensors.torch")
from safetensors.numpy import save_file  # noqa: E402


def _model(dtype=torch.float64):
    torch.manual_seed(0)
    layers = []
    for _ in range(11):  # 11 linear layers: the index order must put 2 before 10 (and 20 after 18)
        layers += [torch.nn.Linear(3, 3), torch.nn.Tanh()]
    return torch.nn.Sequential(*layers[:-1]).to(dtype)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path):
    model = _model()
    sd = model.state_dict()
    st = tmp_path / "net.safetensors"
    safetensors_torch.save_file(sd, str(st))
    pt = tmp_path / "net.pt"
    torch.save(sd, pt)
    return model, st, pt


def test_state_dicts_are_read_in_index_order(files):
    model, st, pt = files
    acts = ["tanh"] * 10 + ["linear"]
    want = gb.from_torch(model)
    for path in (st, pt):
        net = gb.adapters.read_network(path, ",".join(acts))
        assert [q.activation for q in net] == acts
        for a, b in zip(net, want):
            np.testing.assert_array_equal(a.W, b.W)
            np.testing.assert_array_equal(a.b, b.b)


def test_a_state_dict_without_activations_needs_them(files):
    _, st, _ = files
    with pytest.raises(ValueError, match="names no activations"):
        gb.adapters.read_network(st)
    with pytest.raises(ValueError, match="expected 11 activations"):
        gb.adapters.read_network(st, "tanh,tanh")


def test_safetensors_metadata_names_the_activations(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file(
        {"0.weight": np.ones((2, 3)), "0.bias": np.zeros(2), "2.weight": np.ones((1, 2)), "2.bias": np.zeros(1)},
        str(path),
        metadata={"activations": "relu,sigmoid"},
    )
    assert [q.activation for q in gb.adapters.read_network(path)] == ["relu", "sigmoid"]
    with pytest.raises(ValueError, match="names its activations"):
        gb.adapters.read_network(path, "tanh")


def test_batch_norm_keys_are_refused(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    path = tmp_path / "bn.pt"
    torch.save(model.state_dict(), path)
    with pytest.raises(ValueError, match=r"'1.running_mean'"):
        gb.adapters.read_network(path, "tanh")


def test_a_pickled_module_is_refused_by_weights_only(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(3, 4)), path)
    with pytest.raises(ValueError, match="cannot read it as a torch state dict"):
        gb.adapters.read_network(path, "tanh")


def test_cli_checks_a_safetensors_file_with_activations(capsys, tmp_path, files):
    _, st, _ = files
    out = tmp_path / "o.json"
    code, _, err = _run(capsys, "check", "--network", str(st), "--activation", "tanh", "--json", str(out))
    assert code in (0, 3), err
    d = json.loads(out.read_text())
    assert d["dtype"] == "float64" and d["activation"] == ",".join(["tanh"] * 11)


def test_cli_keeps_a_float32_file_in_float32(capsys, tmp_path):
    net = gb.init_network(jax.random.key(0), (4, 3, 2), activation=["tanh", "sigmoid"], dtype="float32")
    path = tmp_path / "n32.npz"
    gb.save_network(path, net)
    out = tmp_path / "o.json"
    code, stdout, err = _run(capsys, "check", "--network", str(path), "--json", str(out))
    assert code in (0, 3), err
    assert json.loads(out.read_text())["dtype"] == "float32"
    code, stdout, _ = _run(capsys, "check", "--network", str(path))
    assert "dtype float32" in stdout
    out64 = tmp_path / "o64.json"
    _run(capsys, "check", "--network", str(path), "--dtype", "float64", "--json", str(out64))
    assert json.loads(out64.read_text())["dtype"] == "float64"


@pytest.mark.parametrize(
    "extra,match",
    [
        (["--widths", "3,2"], "--widths does not apply to --network"),
        (["--init", "he"], "--init does not apply to --network"),
        (["--networks", "2"], "--networks does not apply to --network"),
        (["--activation", "tanh"], "--activation does not apply to --network"),
    ],
)
def test_cli_refuses_flags_a_named_network_file_makes_meaningless(capsys, tmp_path, extra, match):
    net = gb.init_network(jax.random.key(0), (3, 2), activation="tanh")
    path = tmp_path / "n.npz"
    gb.save_network(path, net)
    code, out, err = _run(capsys, "check", "--network", str(path), *extra)
    assert code == 2 and len(err.strip().splitlines()) == 1 and match in err and "Traceback" not in err + out


def test_cli_refuses_a_file_without_activations_and_no_activation(capsys, tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, W1=np.ones((2, 3)), b1=np.zeros(2))
    code, _, err = _run(capsys, "check", "--network", str(path))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "give --activation" in err
    code, _, err = _run(capsys, "check", "--network", str(path), "--activation", "tanh")
    assert code in (0, 3), err


def test_cli_refuses_examples_with_data(capsys, tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((2, 3)), y=np.zeros((2, 2)))
    code, _, err = _run(capsys, "check", "--widths", "3,2", "--data", str(path), "--examples", "4")
    assert code == 2 and "--examples does not apply to --data" in err and len(err.strip().splitlines()) == 1


def test_cli_reads_a_torch_state_dict_with_one_activation_per_layer(capsys, tmp_path):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2), torch.nn.Sigmoid())
    path = tmp_path / "m.pth"
    torch.save(model.double().state_dict(), path)
    out = tmp_path / "o.json"
    code, _, err = _run(capsys, "check", "--network", str(path), "--activation", "relu,sigmoid", "--json", str(out))
    assert code in (0, 3), err
    assert json.loads(out.read_text())["activation"] == "relu,sigmoid"


def test_train_starts_from_a_safetensors_state_dict(capsys, tmp_path):
    """``train --network FILE.safetensors --activation ...``: row 0 of the speeds is the file's network's speed."""
    import jax.numpy as jnp

    from gradbounds import training

    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(64, 12), torch.nn.Tanh(), torch.nn.Linear(12, 10)).double()
    st = tmp_path / "m.safetensors"
    safetensors_torch.save_file(model.state_dict(), str(st))
    argv = ["train", "--dataset", "digits", "--network", str(st), "--activation", "tanh,sigmoid"]
    code, out, err = _run(capsys, *argv, "--steps", "2", "--no-levels", "--json", "-", "--quiet")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["widths"] == [64, 12, 10]
    net = gb.adapters.read_network(st, "tanh,sigmoid")
    ds = training.load_dataset("digits").head(1000)
    want = np.asarray(training.speeds(net, jnp.asarray(ds.x_train), jnp.asarray(ds.y_train())))[:-1]
    np.testing.assert_allclose(doc["speeds"][0], want, rtol=1e-12)


def test_train_refuses_activation_beside_an_npz_network(capsys, tmp_path):
    path = tmp_path / "n.npz"
    gb.save_network(path, gb.init_network(jax.random.key(0), (64, 5, 10)))
    code, _, err = _run(capsys, "train", "--dataset", "digits", "--network", str(path), "--activation", "tanh")
    assert code == 2 and "--activation does not apply" in err and len(err.strip().splitlines()) == 1
