"""from_flax: nnx.Sequential, linen Sequential + params, linen Dense params (W = kernel.T); forward to 1e-12."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import check_adapted, need

import gradbounds as gb

need("flax")
from flax import linen, nnx  # noqa: E402


def _xy(n0, nL, seed=1):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.uniform(-2, 2, n0)), jnp.asarray(rng.uniform(0, 1, nL))


def _nnx_model(dtype=jnp.float64):
    r = nnx.Rngs(0)
    return nnx.Sequential(
        nnx.Linear(5, 4, rngs=r, param_dtype=dtype),
        nnx.tanh,
        nnx.Linear(4, 4, rngs=r, param_dtype=dtype, use_bias=False),
        jax.nn.gelu,
        nnx.Linear(4, 3, rngs=r, param_dtype=dtype),
        functools.partial(nnx.leaky_relu, negative_slope=0.1),
        nnx.Linear(3, 2, rngs=r, param_dtype=dtype),
    )


def test_nnx_sequential():
    model = _nnx_model()
    net = gb.from_flax(model)
    acts = ["tanh", "gelu_tanh", "leaky_relu:0.1", "linear"]
    lins = [model.layers[i] for i in (0, 2, 4, 6)]
    Ws = [m.kernel[...].T for m in lins]
    bs = [jnp.zeros(m.out_features) if m.bias is None else m.bias[...] for m in lins]
    x, y = _xy(5, 2)
    h = check_adapted(net, Ws, bs, acts, x, y, model(x))

    def loss(m):
        return 0.5 * jnp.sum((m(x) - y) ** 2)

    g = nnx.grad(loss)(model)
    got = [g.layers[i].bias[...] for i in (0, 4, 6)]
    np.testing.assert_allclose(np.exp(np.asarray(h.levels.E))[[0, 2, 3]], [np.linalg.norm(v) for v in got], rtol=1e-10)


def test_nnx_float32_stays_float32():
    net = gb.from_flax(_nnx_model(jnp.float32))
    assert net[0].W.dtype == jnp.float32


class _Stack(linen.Module):
    @linen.compact
    def __call__(self, x):
        x = jax.nn.sigmoid(linen.Dense(4, param_dtype=jnp.float64)(x))
        x = jnp.tanh(linen.Dense(4, param_dtype=jnp.float64)(x))
        return linen.Dense(2, param_dtype=jnp.float64)(x)


def test_linen_dense_params_with_activations():
    model = _Stack()
    x, y = _xy(3, 2)
    params = model.init(jax.random.key(0), x)
    net = gb.from_flax(params, activation=["sigmoid", jnp.tanh, "linear"])
    p = params["params"]
    Ws = [p[f"Dense_{i}"]["kernel"].T for i in range(3)]
    bs = [p[f"Dense_{i}"]["bias"] for i in range(3)]
    g = jax.grad(lambda q: 0.5 * jnp.sum((model.apply(q, x) - y) ** 2))(params)["params"]
    check_adapted(
        net,
        Ws,
        bs,
        ["sigmoid", "tanh", "linear"],
        x,
        y,
        model.apply(params, x),
        [g[f"Dense_{i}"]["bias"] for i in range(3)],
    )


def test_linen_sequential_with_params():
    model = linen.Sequential(
        [linen.Dense(4, param_dtype=jnp.float64), linen.relu, linen.Dense(2, param_dtype=jnp.float64), linen.sigmoid]
    )
    x, y = _xy(3, 2)
    params = model.init(jax.random.key(1), x)
    net = gb.from_flax(model, params)
    p = params["params"]
    Ws = [p["layers_0"]["kernel"].T, p["layers_2"]["kernel"].T]
    bs = [p["layers_0"]["bias"], p["layers_2"]["bias"]]
    check_adapted(net, Ws, bs, ["relu", "sigmoid"], x, y, model.apply(params, x))


def test_params_without_activations_and_unsupported_layers_are_refused():
    x = jnp.ones(3)
    params = _Stack().init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="do not say the activations"):
        gb.from_flax(params)
    with pytest.raises(ValueError, match="expected 3 activations"):
        gb.from_flax(params, activation=["tanh", "tanh"])
    with pytest.raises(ValueError, match="expected only kernel and bias"):
        gb.from_flax(
            {"params": {"Dense_0": {"kernel": jnp.ones((3, 2)), "bias": jnp.zeros(2), "scale": jnp.ones(2)}}},
            activation="tanh",
        )
    r = nnx.Rngs(0)
    for bad, name in (
        (nnx.Dropout(0.1, rngs=r), "Dropout"),
        (nnx.BatchNorm(4, rngs=r), "BatchNorm"),
        (lambda z: z * 2, "cannot tell"),
    ):
        model = nnx.Sequential(
            nnx.Linear(3, 4, rngs=r, param_dtype=jnp.float64), bad, nnx.Linear(4, 2, rngs=r, param_dtype=jnp.float64)
        )
        with pytest.raises(TypeError, match=name):
            gb.from_flax(model)
    with pytest.raises(TypeError, match="linen nn.Sequential"):
        gb.from_flax(_Stack(), params)
    with pytest.raises(ValueError, match="computes in float32"):
        gb.from_flax(nnx.Sequential(nnx.Linear(3, 4, rngs=r, param_dtype=jnp.float64, dtype=jnp.float32)))


def test_jax_callables_are_recognised_by_identity():
    name = gb.adapters.activation_name
    assert name(jax.nn.gelu) == "gelu_tanh" and name(functools.partial(jax.nn.gelu, approximate=False)) == "gelu"
    assert name(jax.nn.swish) == "silu" and name(jnp.tanh) == "tanh" and name(jax.nn.hard_tanh) == "hard_tanh"
    assert name(functools.partial(jax.nn.leaky_relu, negative_slope=0.01)) == "leaky_relu"
    with pytest.raises(TypeError, match="cannot tell which activation"):
        name(lambda z: z)
    with pytest.raises(ValueError, match="alpha=2.0"):
        name(functools.partial(jax.nn.elu, alpha=2.0))
