"""from_equinox: eqx.nn.MLP and eqx.nn.Sequential are the same network (forward to 1e-12, levels, E = jax.grad)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import check_adapted, need

import gradbounds as gb

eqx = need("equinox")


def _bias_grads(model, x, y, linears):
    """∂C/∂b^l by jax.grad through the Equinox model itself, C = ½‖model(x) − y‖²."""

    def loss(m):
        return 0.5 * jnp.sum((m(x) - y) ** 2)

    g = eqx.filter_grad(loss)(model)
    return [lin(g).bias for lin in linears]


def _xy(n0, nL, seed=1):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.uniform(-2, 2, n0)), jnp.asarray(rng.uniform(0, 1, nL))


def test_mlp_with_a_final_activation():
    model = eqx.nn.MLP(5, 3, 6, 3, activation=jax.nn.gelu, final_activation=jax.nn.sigmoid, key=jax.random.key(0))
    net = gb.from_equinox(model)
    x, y = _xy(5, 3)
    lins = [lambda m, i=i: m.layers[i] for i in range(4)]
    Ws = [m.weight for m in model.layers]
    bs = [m.bias for m in model.layers]
    check_adapted(net, Ws, bs, ["gelu_tanh"] * 3 + ["sigmoid"], x, y, model(x), _bias_grads(model, x, y, lins))


def test_mlp_default_is_relu_with_a_linear_output():
    model = eqx.nn.MLP(4, 2, 5, 2, key=jax.random.key(1))
    assert [q.activation for q in gb.from_equinox(model)] == ["relu", "relu", "linear"]


def test_sequential_of_mixed_activations_and_a_layer_without_bias():
    k = jax.random.split(jax.random.key(2), 4)
    model = eqx.nn.Sequential(
        [
            eqx.nn.Linear(5, 4, key=k[0]),
            eqx.nn.Lambda(jnp.tanh),
            eqx.nn.Linear(4, 4, use_bias=False, key=k[1]),
            eqx.nn.Lambda(functools.partial(jax.nn.leaky_relu, negative_slope=0.2)),
            eqx.nn.Identity(),
            eqx.nn.Linear(4, 3, key=k[2]),
            eqx.nn.Lambda(functools.partial(jax.nn.gelu, approximate=False)),
            eqx.nn.Linear(3, 2, key=k[3]),
            eqx.nn.Lambda(jax.nn.softplus),
        ]
    )
    net = gb.from_equinox(model)
    acts = ["tanh", "leaky_relu:0.2", "gelu", "softplus"]
    x, y = _xy(5, 2, seed=3)
    idx = [0, 2, 5, 7]
    Ws = [model.layers[i].weight for i in idx]
    bs = [jnp.zeros(4) if model.layers[i].bias is None else model.layers[i].bias for i in idx]
    h = check_adapted(net, Ws, bs, acts, x, y, model(x))
    g = _bias_grads(model, x, y, [lambda m, i=i: m.layers[i] for i in (0, 5, 7)])
    E = np.exp(np.asarray(h.levels.E))
    np.testing.assert_allclose(E[[0, 2, 3]], [np.linalg.norm(v) for v in g], rtol=1e-10)


def test_float32_model_stays_float32():
    model = eqx.nn.MLP(3, 2, 4, 1, activation=jax.nn.tanh, key=jax.random.key(0), dtype=jnp.float32)
    net = gb.from_equinox(model)
    assert net[0].W.dtype == jnp.float32
    assert gb.from_equinox(model, dtype=jnp.float64)[0].W.dtype == jnp.float64


@pytest.mark.parametrize(
    "layer,match",
    [
        (lambda k: eqx.nn.Dropout(0.1), "Dropout"),
        (lambda k: eqx.nn.LayerNorm(4), "LayerNorm"),
        (lambda k: eqx.nn.Conv1d(1, 1, 3, key=k), "Conv1d"),
        (lambda k: eqx.nn.PReLU(), "PReLU"),
        (lambda k: eqx.nn.Lambda(lambda z: 2 * z), "cannot tell which activation"),
    ],
)
def test_unsupported_layers_are_named(layer, match):
    k = jax.random.split(jax.random.key(0), 3)
    model = eqx.nn.Sequential([eqx.nn.Linear(3, 4, key=k[0]), layer(k[1]), eqx.nn.Linear(4, 2, key=k[2])])
    with pytest.raises(TypeError, match=match):
        gb.from_equinox(model)


def test_an_mlp_with_an_unknown_activation_is_refused():
    model = eqx.nn.MLP(3, 2, 4, 1, activation=lambda z: jnp.tanh(2 * z), key=jax.random.key(0))
    with pytest.raises(TypeError, match=r"MLP.activation: cannot tell which activation"):
        gb.from_equinox(model)
    with pytest.raises(TypeError, match="equinox Module"):
        gb.from_equinox([1, 2])
