"""from_torch: an nn.Sequential is the same network (arrays, forward to 1e-12, levels, E = torch's autodiff)."""

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import check_adapted, need

import gradbounds as gb

torch = need("torch")
nn = torch.nn

ACTS = [
    (nn.Sigmoid(), "sigmoid"),
    (nn.Tanh(), "tanh"),
    (nn.ReLU(), "relu"),
    (nn.LeakyReLU(), "leaky_relu"),
    (nn.LeakyReLU(0.2), "leaky_relu:0.2"),
    (nn.ELU(), "elu"),
    (nn.SELU(), "selu"),
    (nn.GELU(), "gelu"),
    (nn.GELU(approximate="tanh"), "gelu_tanh"),
    (nn.SiLU(), "silu"),
    (nn.Softplus(), "softplus"),
    (nn.Hardtanh(), "hard_tanh"),
]


def _model(acts, widths=(5, 4, 4, 3), seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    mods = [nn.Flatten()]
    for (n_in, n_out), act in zip(zip(widths[:-1], widths[1:]), acts):
        mods.append(nn.Linear(n_in, n_out))
        if act is not None:
            mods.append(act)
    return nn.Sequential(*mods).to(dtype)


def _torch_reference(model, x, y):
    xt = torch.tensor(np.asarray(x)[None], requires_grad=False)
    out = model(xt)[0]
    loss = 0.5 * ((out - torch.tensor(np.asarray(y))) ** 2).sum()
    loss.backward()
    lins = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return out.detach().numpy(), [None if m.bias is None else m.bias.grad.numpy() for m in lins], lins


def _xy(widths, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.uniform(-2, 2, widths[0]).astype(dtype), rng.uniform(0, 1, widths[-1]).astype(dtype)


@pytest.mark.parametrize("module,name", ACTS, ids=[n for _, n in ACTS])
def test_each_activation_module_is_its_registered_name(module, name):
    model = _model([module, nn.Tanh(), module], widths=(5, 6, 6, 4))
    x, y = _xy((5, 6, 6, 4))
    net = gb.from_torch(model)
    out, grads, lins = _torch_reference(model, x, y)
    Ws = [m.weight.detach().numpy() for m in lins]
    bs = [m.bias.detach().numpy() for m in lins]
    check_adapted(net, Ws, bs, [name, "tanh", name], x, y, out, grads)


def test_mixed_activations_and_a_linear_output_and_a_layer_without_bias():
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Linear(6, 5),
        nn.GELU(approximate="tanh"),
        nn.Sequential(nn.Linear(5, 5, bias=False), nn.Identity(), nn.LeakyReLU(0.3)),
        nn.Linear(5, 4),
        nn.Sigmoid(),
        nn.Linear(4, 2),
    ).double()
    net = gb.from_torch(model)
    assert [q.activation for q in net] == ["gelu_tanh", "leaky_relu:0.3", "sigmoid", "linear"]
    x, y = _xy((6, 5, 5, 4, 2), seed=4)
    out, grads, lins = _torch_reference(model, x, y)
    Ws = [m.weight.detach().numpy() for m in lins]
    bs = [np.zeros(5) if m.bias is None else m.bias.detach().numpy() for m in lins]
    h = check_adapted(net, Ws, bs, ["gelu_tanh", "leaky_relu:0.3", "sigmoid", "linear"], x, y, out)
    # E = ‖∂C/∂b^l‖ where torch has a bias to differentiate (layer 2 has none)
    E = np.exp(np.asarray(h.levels.E))
    np.testing.assert_allclose(E[[0, 2, 3]], [np.linalg.norm(grads[i]) for i in (0, 2, 3)], rtol=1e-10)


def test_float32_stays_float32_unless_a_dtype_is_asked():
    model = _model([nn.Tanh(), nn.Tanh(), nn.Sigmoid()], dtype=torch.float32)
    net = gb.from_torch(model)
    assert net[0].W.dtype == jnp.float32
    x, _ = _xy((5, 4, 4, 3), dtype=np.float32)
    with torch.no_grad():
        want = model(torch.tensor(x[None]))[0].numpy()
    np.testing.assert_allclose(gb.forward(net, jnp.asarray(x)).a[-1], want, rtol=1e-6, atol=1e-6)
    assert gb.hierarchy(net, jnp.asarray(x), jnp.full(3, 0.5, jnp.float32)).dtype == "float32"
    assert gb.from_torch(model, dtype="float64")[0].W.dtype == jnp.float64


def test_bfloat16_needs_a_dtype():
    model = _model([nn.Tanh(), nn.Tanh(), None], dtype=torch.bfloat16)
    with pytest.raises(TypeError, match="numpy has no torch.bfloat16; pass dtype="):
        gb.from_torch(model)
    assert gb.from_torch(model, dtype="float32")[0].W.dtype == jnp.float32


class _Custom(nn.Module):
    def forward(self, x):
        return 2 * x


@pytest.mark.parametrize(
    "bad,match",
    [
        (nn.BatchNorm1d(4), r"module 1 \(BatchNorm1d\)"),
        (nn.Dropout(0.1), r"module 1 \(Dropout\)"),
        (nn.Conv1d(1, 1, 3), r"module 1 \(Conv1d\)"),
        (nn.MultiheadAttention(4, 1), r"module 1 \(MultiheadAttention\)"),
        (_Custom(), r"module 1 \(_Custom\)"),
        (nn.ReLU6(), r"module 1 \(ReLU6\)"),
        (nn.PReLU(), r"module 1 \(PReLU\)"),
    ],
)
def test_unsupported_modules_are_named(bad, match):
    model = nn.Sequential(nn.Linear(3, 4), bad, nn.Linear(4, 2)).double()
    with pytest.raises(TypeError, match=match):
        gb.from_torch(model)


@pytest.mark.parametrize(
    "act,match",
    [
        (nn.ELU(alpha=2.0), "ELU"),
        (nn.Softplus(beta=2.0), "beta"),
        (nn.Hardtanh(0.0, 6.0), "Hardtanh"),
        (nn.GELU(approximate="tanh"), None),
    ],
)
def test_activations_with_unregistered_parameters_are_refused(act, match):
    model = nn.Sequential(nn.Linear(3, 4), act, nn.Linear(4, 2)).double()
    if match is None:
        gb.from_torch(model)
        return
    with pytest.raises(ValueError, match=match):
        gb.from_torch(model)


def test_structure_errors():
    with pytest.raises(ValueError, match="second activation"):
        gb.from_torch(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Tanh()).double())
    with pytest.raises(ValueError, match="expected a linear layer first"):
        gb.from_torch(nn.Sequential(nn.Tanh(), nn.Linear(3, 4)).double())
    with pytest.raises(ValueError, match="Flatten only as the first"):
        gb.from_torch(nn.Sequential(nn.Linear(3, 4), nn.Flatten()).double())
    with pytest.raises(TypeError, match="expected nn.Sequential"):
        gb.from_torch(_Custom())
    with pytest.raises(TypeError, match="torch.nn.Module"):
        gb.from_torch([nn.Linear(3, 4)])
    with pytest.raises(ValueError, match=r"layer 2: expected a weight with 4 inputs"):
        gb.from_torch(nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2)).double())


def test_torch_functions_are_recognised():
    F = torch.nn.functional
    name = gb.adapters.activation_name
    assert [name(f) for f in (torch.tanh, torch.sigmoid, F.relu, F.gelu, F.silu, F.softplus)] == [
        "tanh",
        "sigmoid",
        "relu",
        "gelu",
        "silu",
        "softplus",
    ]


def test_a_torch_model_given_to_the_hierarchy_says_how_to_convert_it():
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh()).double()
    with pytest.raises(
        TypeError, match=r"layer 1: expected a Layer, got Linear \(a torch module: .*gradbounds.from_torch"
    ):
        gb.hierarchy(model, jnp.ones(3), jnp.ones(2))


def test_a_float64_model_is_not_narrowed_when_jax_runs_in_32_bits():
    import subprocess
    import sys

    code = (
        "import torch, gradbounds as gb\n"
        "m = torch.nn.Sequential(torch.nn.Linear(3, 2)).double()\n"
        "try:\n    gb.from_torch(m)\nexcept ValueError as e:\n    print(e)\n"
        "print(gb.from_torch(m, dtype='float32')[0].W.dtype)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "the network is float64 but JAX runs in 32 bits" in out and out.strip().endswith("float32")
